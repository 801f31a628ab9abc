"""Would a test-time trick or a weight average lift the lite model on real blur?

Four things cost no training: feeding the network's output back in (a second pass),
scaling its residual (if it under-deblurs large blur, more of the same might help),
averaging the outputs of mirrored copies of the stream (the self-ensemble of EDSR+, for
offline use: it costs two or four network runs a frame), and averaging the weights of
fine-tunes that share one start (a "model soup"). This study
scores each on pairs datasets (``deblur-ros pairs``: <clip>/blur, <clip>/sharp), raw
(no dead zone), so a choice is measured on clips the model never saw before it ships.

    python bench/live_tricks_study.py eval_out/x4k_t11_ho ../shared/data/gopro_examples
    python bench/live_tricks_study.py DATA --model A.pt --soup B.pt C.pt   # mean of A, B, C

Results of 2026-12-05: ``models/TRAINING.md``, "Which five clips?" (the mirror
ensembles: "A mirrored self-ensemble", 2026-12-05).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from deblur_ros.adapters.frame_sources import pairs_dataset
from deblur_ros.core.imaging import to_float01
from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.models.checkpoint import load_model
from deblur_ros.core.scoring.metrics import psnr


def averaged(paths: list[str]) -> torch.nn.Module:
    """The first model with every floating-point weight replaced by the mean over all."""
    models = [load_model(p, "cpu")[0] for p in paths]
    states = [m.state_dict() for m in models]
    mean = {k: (torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype)
                if v.is_floating_point() else v) for k, v in states[0].items()}
    models[0].load_state_dict(mean)
    return models[0]


def run(deblurrer: StreamingDeblurrer, frames: list[np.ndarray]) -> list[np.ndarray]:
    deblurrer.reset()
    return deblurrer.process(frames)


def mirrored(deblurrer: StreamingDeblurrer, frames: list[np.ndarray], axes: tuple[int, ...]
             ) -> list[np.ndarray]:
    """The output (float) of the stream mirrored along ``axes``, mirrored back. Each
    mirrored stream is a stream of its own, so each keeps its own state."""
    flipped = [np.ascontiguousarray(np.flip(f, axes)) for f in frames]
    return [np.flip(to_float01(o), axes) for o in run(deblurrer, flipped)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", help="pairs dataset roots")
    parser.add_argument("--model", default="models/strcnn-w16-m1.pt")
    parser.add_argument("--soup", nargs="*", default=[],
                        help="checkpoints averaged with --model (same architecture and start)")
    parser.add_argument("--scale", type=float, default=1.5, help="residual scale to try")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = averaged([args.model, *args.soup]) if args.soup else load_model(args.model, "cpu")[0]
    deblurrer = StreamingDeblurrer(model, "cpu", threads=1, deadzone=0.0)
    tricks = ("once", "twice", f"x{args.scale:g}", "mirror2", "mirror4")
    for root in args.data:
        gains: dict[str, list[float]] = {t: [] for t in tricks}
        names = []
        for name, blur_frames, sharp_frames in pairs_dataset(root):
            if sharp_frames is None:
                continue
            blurry, sharp = list(blur_frames), [to_float01(s) for s in sharp_frames]
            once = run(deblurrer, blurry)
            twice = run(deblurrer, once)
            base = [to_float01(b) for b in blurry]
            # The stream itself, left-right, upside down, both: averaged by twos and fours.
            views = [[to_float01(o) for o in once]] + [
                mirrored(deblurrer, blurry, axes) for axes in ((1,), (0,), (0, 1))]
            outputs = {
                "once": views[0],
                "twice": [to_float01(o) for o in twice],
                tricks[2]: [np.clip(b + args.scale * (to_float01(o) - b), 0.0, 1.0)
                            for b, o in zip(base, once)],
                "mirror2": [sum(v) / 2 for v in zip(*views[:2])],
                "mirror4": [sum(v) / 4 for v in zip(*views)],
            }
            inp = np.mean([psnr(b, s) for b, s in zip(base, sharp)])
            for t in tricks:
                gains[t].append(np.mean([psnr(o, s) for o, s in zip(outputs[t], sharp)]) - inp)
            names.append(name)
        print(f"{root}: " + "  ".join(
            f"{t} {np.mean(g):+.2f} [" + " ".join(f"{x:+.2f}" for x in g) + "]"
            for t, g in gains.items()), flush=True)
        print("  clips: " + " ".join(names))


if __name__ == "__main__":
    main()
