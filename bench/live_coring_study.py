"""Does a dead zone on the live model's residual keep still footage safe?

The live network adds a residual to the middle frame. On a nearly still real clip
(X4K TEST06, 49.75 dB) it loses 0.58 dB: the residual there is sub-grey-level noise, not
deblurring. This study soft-thresholds the residual (out - in) by ``t`` grey levels
(of 255) after the network and scores every frame, so the choice of ``t`` is measured on
the validation renders and the real X4K pairs before anything ships.

    python bench/live_coring_study.py validation
    python bench/live_coring_study.py DATASET_ROOT   # <clip>/blur, <clip>/sharp (deblur-ros pairs)
    python bench/live_coring_study.py eval_out/x4k_t11 --model M.pt --record OUT.pt

``--record`` writes a copy of the checkpoint whose metadata holds the smallest threshold
that keeps every clip at or above its input (``metadata["deadzone"]``, with the figures
behind it), which the node, ``eval`` and ``bag`` then apply by default.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from deblur_ros.adapters.frame_sources import pairs_dataset
from deblur_ros.core.imaging import to_float01
from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.scoring.metrics import psnr
from deblur_ros.core.scoring.validation import clip_name
from deblur_ros.core.synthesis.validation import validation_set


def sequences(which: str):
    if which == "validation":
        for i, clip in enumerate(validation_set(24)):
            yield clip_name(clip, i), list(clip["blurry"]), list(clip["sharp"])
        return
    for name, blur, sharp in pairs_dataset(which):
        if sharp is not None:
            yield name, list(blur), list(sharp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="'validation' or a pairs dataset root")
    parser.add_argument("--model", default="models/strcnn-w16-m1.pt")
    parser.add_argument("--thresholds", default="0,0.5,1,1.5,2,3", help="grey levels of 255")
    parser.add_argument("--record", type=Path, default=None,
                        help="write the checkpoint with the chosen dead zone here")
    parser.add_argument("--pick", choices=("smallest-safe", "best-safe"), default="smallest-safe",
                        help="smallest threshold with no clip below its input, or the one of "
                        "those with the best mean gain (for clips the model trained on, "
                        "where every threshold may be safe)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # The raw network: the thresholds below are applied here, not by the deblurrer.
    deblurrer = StreamingDeblurrer.from_checkpoint(args.model, device="cpu", threads=1,
                                                   deadzone=0.0)
    levels = [float(t) for t in args.thresholds.split(",")]
    inputs: list[float] = []
    outputs: dict[float, list[float]] = {t: [] for t in levels}
    worst: dict[float, float] = {}  # the lowest clip gain at each threshold
    for name, blurry, sharp in sequences(args.data):
        deblurrer.reset()
        done = []
        for i, frame in enumerate(blurry):
            done += deblurrer.push(frame, i, i)
        out = {o.payload: o.frame for o in done + deblurrer.flush()}
        clip_in, clip_out = [], {t: [] for t in levels}
        for i, (b, s) in enumerate(zip(blurry, sharp)):
            b, s, o = to_float01(b), to_float01(s), to_float01(out[i])
            residual = o - b
            clip_in.append(psnr(b, s))
            for t in levels:
                kept = np.sign(residual) * np.maximum(np.abs(residual) - t / 255.0, 0.0)
                clip_out[t].append(psnr(np.clip(b + kept, 0.0, 1.0), s))
        inputs += clip_in
        base = np.mean(clip_in)
        worst = {t: min(worst.get(t, np.inf), np.mean(clip_out[t]) - base) for t in levels}
        print(f"{name}: input {base:.2f} dB, gain " + " ".join(
            f"t{t:g} {np.mean(clip_out[t]) - base:+.2f}" for t in levels), flush=True)
        for t in levels:
            outputs[t] += clip_out[t]
    base = np.mean(inputs)
    print(f"all {len(inputs)} frames: input {base:.3f} dB, gain " + " ".join(
        f"t{t:g} {np.mean(outputs[t]) - base:+.3f}" for t in levels))
    if args.record:
        record(args, levels, {t: float(np.mean(outputs[t]) - base) for t in levels}, worst)


def record(args: argparse.Namespace, levels: list[float], gains: dict[float, float],
           worst: dict[float, float]) -> None:
    """The smallest threshold with no clip below its input, or (``--pick best-safe``) the
    safe one with the best mean gain; the largest if none is safe."""
    from deblur_ros.core.models.checkpoint import load_model, save_checkpoint

    safe = [t for t in sorted(levels) if worst[t] >= 0.0]
    if not safe:
        chosen = max(levels)
    elif args.pick == "best-safe":
        chosen = max(safe, key=lambda t: gains[t])
    else:
        chosen = safe[0]
    rule = {"smallest-safe": "smallest threshold with no clip below its input",
            "best-safe": "best mean gain with no clip below its input"}[args.pick]
    model, metadata = load_model(args.model, "cpu")
    metadata["deadzone"] = chosen
    metadata["deadzone_measured"] = {
        "data": str(args.data), "rule": rule,
        "mean_gain_db": {f"{t:g}": round(g, 3) for t, g in gains.items()},
        "worst_clip_gain_db": {f"{t:g}": round(w, 3) for t, w in worst.items()},
    }
    save_checkpoint(args.record, model, metadata)
    print(f"dead zone {chosen:g} (worst clip {worst[chosen]:+.2f} dB, mean "
          f"{gains[chosen]:+.3f}) recorded in {args.record}")


if __name__ == "__main__":
    main()
