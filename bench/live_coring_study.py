"""Does a dead zone on the live model's residual keep still footage safe?

The live network adds a residual to the middle frame. On a nearly still real clip
(X4K TEST06, 49.75 dB) it loses 0.58 dB: the residual there is sub-grey-level noise, not
deblurring. This study soft-thresholds the residual (out - in) by ``t`` grey levels
(of 255) after the network and scores every frame, so the choice of ``t`` is measured on
the validation renders and the real X4K pairs before anything ships.

    python bench/live_coring_study.py validation
    python bench/live_coring_study.py DATASET_ROOT   # <clip>/blur, <clip>/sharp (deblur-ros pairs)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from deblur_ros.adapters.frame_sources import FolderSource
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
    for clip in sorted(Path(which).iterdir()):
        if (clip / "blur").is_dir():
            yield clip.name, list(FolderSource(clip / "blur")), list(FolderSource(clip / "sharp"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="'validation' or a pairs dataset root")
    parser.add_argument("--model", default="models/strcnn-w16-m1.pt")
    parser.add_argument("--thresholds", default="0,0.5,1,1.5,2,3", help="grey levels of 255")
    args = parser.parse_args()
    torch.set_num_threads(1)
    deblurrer = StreamingDeblurrer.from_checkpoint(args.model, device="cpu", threads=1)
    levels = [float(t) for t in args.thresholds.split(",")]
    inputs: list[float] = []
    outputs: dict[float, list[float]] = {t: [] for t in levels}
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
        print(f"{name}: input {base:.2f} dB, gain " + " ".join(
            f"t{t:g} {np.mean(clip_out[t]) - base:+.2f}" for t in levels), flush=True)
        for t in levels:
            outputs[t] += clip_out[t]
    base = np.mean(inputs)
    print(f"all {len(inputs)} frames: input {base:.3f} dB, gain " + " ".join(
        f"t{t:g} {np.mean(outputs[t]) - base:+.3f}" for t in levels))


if __name__ == "__main__":
    main()
