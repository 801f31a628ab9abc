"""Learning curves of scene fits on a synthetic validation drive, scored against its ground
truth while the fit runs: what decides the scene fitter's defaults (init, adversarial term).

    python bench/scene_fit_study.py run --drive 0 --init random --steps 8000 \
        --out bench/scene_study/d0-random.json
    python bench/scene_fit_study.py run --drive 0 --init auto --adversarial 0.01 ...
    python bench/scene_fit_study.py plot bench/scene_study/d0-*.json --png curve.png

``run`` steps the project's own :class:`SceneFitter` (the node's and ``eval``'s fitter)
without early stopping, times the steps alone (drive scoring is not counted), and every
``--every`` steps deblurs the whole drive with the current weights. ``plot`` draws the
drive's PSNR gain against fit time and prints when each curve first reaches 90 % of its
final gain. Fitting uses only the drive's selected blurry frames, as in the paper; the
sharp frames only score.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from deblur_ros.core.hardware import hardware_description
from deblur_ros.core.inference.scene import SceneDeblurrer, sharpness_gate
from deblur_ros.core.scoring.evaluation import evaluate_sequence
from deblur_ros.core.scoring.metrics import psnr
from deblur_ros.core.sharpness import select_sharpest
from deblur_ros.core.synthesis.scene_patches import PatchSpec
from deblur_ros.core.synthesis.validation import scene_validation_drives
from deblur_ros.core.training.scene_fitter import FitConfig, SceneFitter, resolve_scene_init


def drive_scores(model: torch.nn.Module, drive: dict, figures: set[str]) -> dict:
    model.eval()
    result = evaluate_sequence(SceneDeblurrer(model), list(drive["blurry"]),
                               list(drive["sharp"]), name=drive["name"], figures=figures)
    model.train()
    return result.scores.summary()


STREAK_BINS = (0.0, 2.0, 6.0, 12.0, 21.0, 40.0, float("inf"))


def per_streak(model: torch.nn.Module, drive: dict, gated: bool) -> list[dict]:
    """Drive PSNR of input and output grouped by each frame's own streak (px): where the
    fit's gain goes."""
    model.eval()
    deblurrer = SceneDeblurrer(model, gate=sharpness_gate(gated))
    outputs = deblurrer.process(list(drive["blurry"]))  # the gate's look-ahead, as shipped
    rows = [(s, psnr(b, t), psnr(o, t))
            for b, o, t, s in zip(drive["blurry"], outputs, drive["sharp"], drive["streaks"])]
    model.train()
    out = []
    for lo, hi in zip(STREAK_BINS[:-1], STREAK_BINS[1:]):
        sel = [r for r in rows if lo <= r[0] < hi]
        if sel:
            out.append({"streak": [lo, hi], "frames": len(sel),
                        "input": round(float(np.mean([r[1] for r in sel])), 3),
                        "output": round(float(np.mean([r[2] for r in sel])), 3)})
    return out


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    drive = scene_validation_drives()[args.drive]
    chosen = select_sharpest(list(drive["blurry"]))
    patches = PatchSpec(shake_prob=args.shake, max_kernel=args.max_kernel, batch=args.batch,
                        crop=args.crop, long_prob=args.long_prob, long_kernel=args.long_kernel)
    init = resolve_scene_init(args.init)
    config = FitConfig(adversarial=args.adversarial, seed=args.seed, lr_schedule=args.schedule,
                       lr=args.lr, amp=not args.no_amp, patches=patches,
                       width=args.width)
    fitter = SceneFitter([s.frame for s in chosen], config, init=init)
    base = drive_scores(fitter.model, drive, {"psnr"})
    base = {"input": base["input"]["psnr"], "output": base["output"]["psnr"]}
    curve = [{"step": 0, "seconds": 0.0, "psnr": base["output"],
              "probe": fitter.probe_psnr()[1]}]
    record = {"drive": drive["name"], "init": fitter.init_name, "adversarial": args.adversarial,
              "shake": args.shake, "max_kernel": args.max_kernel, "lr": args.lr,
              "width": fitter.model.config.width, "batch": args.batch, "crop": args.crop,
              "long_prob": args.long_prob, "long_kernel": args.long_kernel,
              "schedule": args.schedule, "budget_s": args.seconds, "amp": fitter.use_amp,
              "selected": [s.index for s in chosen], "input_psnr": base["input"],
              "threads": args.threads, "hardware": hardware_description(torch.device("cpu")),
              "curve": curve}
    fit_seconds = 0.0
    while fitter.step_count < args.steps and (args.seconds is None or fit_seconds < args.seconds):
        start = time.monotonic()
        for _ in range(args.every):
            used = (fit_seconds + time.monotonic() - start) / args.seconds if args.seconds \
                else fitter.step_count / args.steps
            fitter.step(used)
        fit_seconds += time.monotonic() - start
        scores = drive_scores(fitter.model, drive, {"psnr"})["output"]
        curve.append({"step": fitter.step_count, "seconds": round(fit_seconds, 1),
                      "psnr": scores["psnr"], "probe": fitter.probe_psnr()[1]})
        print(f"{drive['name']} {args.init} adv {args.adversarial}: step {fitter.step_count} "
              f"{fit_seconds:.0f}s drive {scores['psnr']:.2f} dB "
              f"(input {base['input']:.2f})", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1))
    record["final"] = drive_scores(fitter.model, drive, {"psnr", "ssim", "ewarp"})
    record["per_streak"] = {"ungated": per_streak(fitter.model, drive, False),
                            "gated": per_streak(fitter.model, drive, True)}
    gated = record["per_streak"]["gated"]
    record["gated_psnr"] = round(sum(b["output"] * b["frames"] for b in gated)
                                 / sum(b["frames"] for b in gated), 3)
    args.out.write_text(json.dumps(record, indent=1))


def time_to_fraction(curve: list[dict], input_psnr: float, fraction: float) -> tuple[float, int]:
    """(seconds, step) at which the drive gain first reaches ``fraction`` of the final gain
    (the mean of the last three points, so one noisy point does not set it)."""
    final = float(np.mean([p["psnr"] for p in curve[-3:]])) - input_psnr
    for point in curve:
        if point["psnr"] - input_psnr >= fraction * final:
            return point["seconds"], point["step"]
    return curve[-1]["seconds"], curve[-1]["step"]


def plot(args: argparse.Namespace) -> None:
    from deblur_ros.core.training.curve_plot import plot_series

    series = {}
    print("| run | steps | fit s | final gain dB | 90 % of it at s (step) |")
    print("|---|---:|---:|---:|---:|")
    for path in args.records:
        rec = json.loads(Path(path).read_text())
        curve, base = rec["curve"], rec["input_psnr"]
        label = (f"{rec['init'].split(' ')[0][:8]} adv {rec['adversarial']:g} "
                 f"{rec.get('schedule', 'constant')[:5]}{' bf16' if rec.get('amp') else ''}")
        series[label] = [(p["seconds"], p["psnr"] - base) for p in curve]
        final = float(np.mean([p["psnr"] for p in curve[-3:]])) - base
        seconds, step = time_to_fraction(curve, base, 0.9)
        print(f"| {rec['drive']} {label} | {curve[-1]['step']} | {curve[-1]['seconds']:.0f} "
              f"| {final:+.2f} | {seconds:.0f} ({step}) |")
    plot_series(args.png, series, "scene fit: drive PSNR gain over the blurry input (dB)",
                "fit seconds (1 thread)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--drive", type=int, default=0)
    r.add_argument("--init", default="auto", help="auto (the shipped MAML init), random, FILE")
    r.add_argument("--adversarial", type=float, default=0.0)
    r.add_argument("--steps", type=int, default=8000)
    r.add_argument("--seconds", type=float, default=None, help="stop after this much fit time")
    r.add_argument("--every", type=int, default=250)
    r.add_argument("--schedule", default="cosine", help="cosine (over the budget) or constant")
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--no-amp", action="store_true", help="fp32 steps (default: bf16 autocast "
                   "where the CPU has native bf16)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--shake", type=float, default=0.0,
                   help="share of training crops blurred by tremor-bent kernels")
    r.add_argument("--lr", type=float, default=FitConfig.lr, help="peak learning rate")
    r.add_argument("--max-kernel", type=float, default=PatchSpec.max_kernel,
                   help="longest fit kernel p (px)")
    r.add_argument("--width", type=int, default=FitConfig.width,
                   help="U-Net width; a narrower init is widened (function-preserving)")
    r.add_argument("--batch", type=int, default=PatchSpec.batch)
    r.add_argument("--crop", type=int, default=PatchSpec.crop)
    r.add_argument("--long-prob", type=float, default=PatchSpec.long_prob,
                   help="share of crops blurred by (max-kernel, long-kernel) px")
    r.add_argument("--long-kernel", type=float, default=PatchSpec.long_kernel)
    r.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("plot")
    p.add_argument("records", nargs="+")
    p.add_argument("--png", type=Path, required=True)
    args = parser.parse_args()
    run(args) if args.command == "run" else plot(args)


if __name__ == "__main__":
    main()
