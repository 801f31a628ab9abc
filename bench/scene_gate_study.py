"""What share of a fitted scene model's output each frame should get: the data behind
:class:`~deblur_ros.core.inference.scene.SharpnessGate`'s defaults.

    python bench/scene_gate_study.py frames --fits FITS --dataset DRIVES --window 4 \
        --out bench/scene_study/gate_x4k.json
    python bench/scene_gate_study.py frames --fits FITS --scene-validation \
        --out bench/scene_study/gate_validation.json
    python bench/scene_gate_study.py choose bench/scene_study/gate_validation.json \
        --check bench/scene_study/gate_x4k.json

``frames`` runs each saved fit (``eval --model scene --save-scene FITS`` names them after
their sequence) over its own sequence, ungated, and records per frame the sharpness ratio
the gate sees (variance of the Laplacian over the largest of the last ``window`` frames)
and the PSNR against ground truth of the input blended with the output at shares 0, 0.1,
.., 1. ``still-drive`` writes a nearly still drive in the validation drives' recipe (they lack
one). ``choose`` grid-searches the gate's three numbers on the first set of records
(mean PSNR over all frames) and reports them, the ungated output and the input, on those
and on the ``--check`` records, which were not used to choose. ``score`` scores the saved
fits with a gate (``shipped``, ``off`` or ``FULL_BELOW,KEEP_ABOVE,FLOOR``) on every
figure ``deblur-ros eval`` reports (E_warp included), without fitting again (a fourth
number sets the gate's look-ahead, ``after``; 0 is the causal gate of before 2026-12-03):

    python bench/scene_gate_study.py score --fits FITS --dataset DRIVES --window 4 \
        --gate shipped --json bench/scene_study/x4k_drive/gated.json
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from deblur_ros.core.hardware import hardware_description
from deblur_ros.core.imaging import to_float01
from deblur_ros.core.inference.scene import SceneDeblurrer, SharpnessGate
from deblur_ros.core.scoring.metrics import psnr
from deblur_ros.core.sharpness import variance_of_laplacian

SHARES = [round(0.1 * i, 1) for i in range(11)]


def frame_records(deblurrer: SceneDeblurrer, blurry: list, sharp: list, window: int
                  ) -> list[dict]:
    recent: list[float] = []
    rows = []
    for i, (b, s) in enumerate(zip(blurry, sharp)):
        score = variance_of_laplacian(b)
        recent = (recent + [score])[-window:]
        src, out = to_float01(b), to_float01(deblurrer.deblur(b))
        gt = to_float01(s)
        # 8-bit output, as the node publishes it
        blend = [np.round(np.clip(src + a * (out - src), 0, 1) * 255) / 255 for a in SHARES]
        rows.append({"index": i, "sharpness": score, "ratio": score / max(recent),
                     "psnr": [psnr(x, gt) for x in blend]})
    return rows


def _sequences(args: argparse.Namespace):
    if args.scene_validation:
        from deblur_ros.core.synthesis.validation import scene_validation_drives

        for drive in scene_validation_drives():
            yield drive["name"], list(drive["blurry"]), list(drive["sharp"])
    if not args.dataset:
        return
    from deblur_ros.adapters.frame_sources import pairs_dataset

    for name, blur, sharp in pairs_dataset(args.dataset):
        if sharp is not None:
            yield name, list(blur), list(sharp)


def cmd_frames(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    out = {"hardware": hardware_description(torch.device("cpu")), "window": args.window,
           "shares": SHARES, "sequences": {}}
    for name, blurry, sharp in _sequences(args):
        fit = args.fits / f"{name}.pt"
        if not fit.is_file():
            print(f"{name}: no fit {fit}, skipped")
            continue
        rows = frame_records(SceneDeblurrer.from_checkpoint(fit), blurry, sharp, args.window)
        out["sequences"][name] = rows
        p = np.array([r["psnr"] for r in rows])
        print(f"{name}: {len(rows)} frames, input {p[:, 0].mean():.2f} dB, "
              f"output {p[:, -1].mean():.2f} dB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out))
    print(f"wrote {args.out}")


def gated_psnr(records: dict, gate: SharpnessGate) -> dict[str, float]:
    """Mean PSNR per sequence with the gate's share (interpolated between recorded ones)."""
    result = {}
    for name, rows in records["sequences"].items():
        values = [float(np.interp(gate.alpha(r["ratio"]), SHARES, r["psnr"])) for r in rows]
        result[name] = float(np.mean(values))
    return result


def _table(records: dict, gate: SharpnessGate) -> list[str]:
    gated = gated_psnr(records, gate)
    lines = ["| sequence | input dB | ungated | gated |", "|---|---:|---:|---:|"]
    ins, outs, gs = [], [], []
    for name, rows in records["sequences"].items():
        p = np.array([r["psnr"] for r in rows])
        ins.append(p[:, 0].mean())
        outs.append(p[:, -1].mean())
        gs.append(gated[name])
        lines.append(f"| {name} | {ins[-1]:.2f} | {outs[-1]:.2f} ({outs[-1] - ins[-1]:+.2f}) "
                     f"| {gs[-1]:.2f} ({gs[-1] - ins[-1]:+.2f}) |")
    i, o, g = np.mean(ins), np.mean(outs), np.mean(gs)
    lines.append(f"| mean | {i:.2f} | {o:.2f} ({o - i:+.2f}) | {g:.2f} ({g - i:+.2f}) |")
    return lines


def cmd_choose(args: argparse.Namespace) -> None:
    records = json.loads(args.records.read_text())
    best, best_score = None, -np.inf
    for lo, hi, floor in itertools.product(np.arange(0.2, 0.85, 0.05),
                                           np.arange(0.5, 1.01, 0.05), SHARES):
        if hi <= lo + 1e-9:
            continue
        gate = SharpnessGate(records["window"], round(lo, 2), round(hi, 2), floor)
        score = float(np.mean(list(gated_psnr(records, gate).values())))
        if score > best_score:
            best, best_score = gate, score
    shipped = SharpnessGate(records["window"])
    for label, gate in (("best on " + args.records.name, best), ("shipped", shipped)):
        print(f"\n{label}: full_below {gate.full_below}, keep_above {gate.keep_above}, "
              f"floor {gate.floor}")
        print("\n".join(_table(records, gate)))
        if args.check:
            check = json.loads(args.check.read_text())
            check_gate = SharpnessGate(check["window"], gate.full_below, gate.keep_above,
                                       gate.floor)
            print(f"\n  on {args.check.name} (not used to choose):")
            print("\n".join(_table(check, check_gate)))


def cmd_score(args: argparse.Namespace) -> None:
    from deblur_ros.cli.eval import format_sequences, format_summary
    from deblur_ros.core.scoring.evaluation import evaluate_sequence, summarise

    torch.set_num_threads(args.threads)
    if args.gate == "off":
        gate = None
    elif args.gate == "shipped":
        gate = SharpnessGate(args.window)
    else:
        values = args.gate.split(",")  # FULL_BELOW,KEEP_ABOVE,FLOOR[,AFTER]
        gate = SharpnessGate(args.window, *(float(x) for x in values[:3]),
                             *(int(x) for x in values[3:4]))
    results = []
    for name, blurry, sharp in _sequences(args):
        fit = args.fits / f"{name}.pt"
        if fit.is_file():
            deblurrer = SceneDeblurrer.from_checkpoint(fit, gate=gate)
            results.append(evaluate_sequence(deblurrer, blurry, sharp, name))
    summary = summarise(results, f"saved scene fits in {args.fits}", "cpu") | {
        "gate": None if gate is None else asdict(gate),
        "hardware": hardware_description(torch.device("cpu"))}
    print(format_summary(summary) + "\n\n" + format_sequences(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
        print(f"wrote {args.json}")


def cmd_still_drive(args: argparse.Namespace) -> None:
    """A nearly still drive (streaks around ``level`` px) in the validation drives' recipe,
    from a validation photo neither of them uses: the case they lack, where the scene
    model must leave its input alone."""
    import cv2

    from deblur_ros.core.synthesis.validation import scene_validation_drives

    drive = scene_validation_drives(n_drives=3, level=args.level)[2]
    for kind in ("blur", "sharp"):
        folder = args.out / f"still{args.level:g}px" / kind
        folder.mkdir(parents=True, exist_ok=True)
        frames = drive["blurry" if kind == "blur" else "sharp"]
        for i, frame in enumerate(frames):
            pixels = np.round(np.clip(frame, 0, 1) * 255).astype(np.uint8)
            cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}: streaks {np.min(drive['streaks']):.2f}-"
          f"{np.max(drive['streaks']):.2f} px, median {np.median(drive['streaks']):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    frames, score = sub.add_parser("frames"), sub.add_parser("score")
    for p in (frames, score):
        p.add_argument("--fits", type=Path, required=True)
        p.add_argument("--dataset", type=Path, help="<sequence>/blur, <sequence>/sharp")
        p.add_argument("--scene-validation", action="store_true", help="(also) the two "
                       "validation drives of eval --scene-validation")
        p.add_argument("--window", type=int, default=20)
        p.add_argument("--threads", type=int, default=1)
    frames.add_argument("--out", type=Path, required=True)
    score.add_argument("--gate", default="shipped")
    score.add_argument("--json", type=Path, default=None)
    choose = sub.add_parser("choose")
    choose.add_argument("records", type=Path)
    choose.add_argument("--check", type=Path, default=None)
    still = sub.add_parser("still-drive")
    still.add_argument("out", type=Path)
    still.add_argument("--level", type=float, default=0.5)
    args = parser.parse_args()
    {"frames": cmd_frames, "choose": cmd_choose, "score": cmd_score,
     "still-drive": cmd_still_drive}[args.cmd](args)


if __name__ == "__main__":
    main()
