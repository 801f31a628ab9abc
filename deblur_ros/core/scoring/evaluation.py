"""Run the streaming deblurrer over a sequence and score input and output alike.

Every figure is computed for the blurry input too (the "do nothing" baseline) with
exactly the same code, flow and masks. The evaluator streams: it holds the
previous input/output pair for E_warp and the frames picked for the report, never
the whole video, so a long drive evaluates in flat memory.

Speed is the time spent inside the streaming deblurrer (push and flush, synchronised
on CUDA), not in the metrics.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from deblur_ros.core.imaging import to_float01
from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.scoring.metrics import psnr, sharpness, ssim
from deblur_ros.core.scoring.warp_error import FLOW_NAME, input_flows, pair_error

FIGURES = ("psnr", "ssim", "ewarp", "sharpness")
SCORES = FIGURES + ("ewarp_gt",)
"""What a summary holds: ``ewarp_gt`` comes with ``ewarp`` wherever ground truth exists.

E_warp with the flow of the blurry input (Lai et al.'s recipe, the only one without
ground truth) punishes deblurring itself: the flow of a blurred video misplaces the sharp
edges a good output has. Measured on the scene validation drives: the ground-truth video
scores 17.8 and 14.9 (x1e-3) against the inputs' 9.7 and 8.1 with the input's flow, and
1.5 and 2.5 with its own. So where sharp frames exist, E_warp is also computed with the
flow of the ground truth, which measures flicker and not sharpness."""
BLURRIEST = 20
"""Frames scored by ``sharpness_blurriest``: the stretches a deblurrer is for. On real
footage where blur comes and goes, the mean over all frames is dominated by the sharp
ones, which any model should leave alone."""


@dataclass
class FrameScores:
    """Per-frame figures of one sequence, input and output side by side."""

    psnr: list[tuple[float, float]] = field(default_factory=list)
    ssim: list[tuple[float, float]] = field(default_factory=list)
    sharpness: list[tuple[float, float]] = field(default_factory=list)
    ewarp: list[tuple[float, float]] = field(default_factory=list)  # one per frame pair
    ewarp_gt: list[tuple[float, float]] = field(default_factory=list)  # flow of the truth
    # The ground truth itself under both flows (input's, its own): the reference that
    # shows how much of an E_warp figure is sharpness rather than flicker.
    ewarp_truth: list[tuple[float, float]] = field(default_factory=list)

    def extend(self, other: FrameScores) -> None:
        for f in fields(self):
            getattr(self, f.name).extend(getattr(other, f.name))

    def summary(self) -> dict[str, dict[str, float | None]]:
        """Means over all frames (E_warp: over all frame pairs); None where not measured."""
        out: dict[str, dict[str, float | None]] = {"input": {}, "output": {}}
        for name in SCORES:
            values = [v for v in getattr(self, name) if all(math.isfinite(x) for x in v)]
            for side, idx in (("input", 0), ("output", 1)):
                out[side][name] = float(np.mean([v[idx] for v in values])) if values else None
        if self.ewarp_truth:
            truth = np.array(self.ewarp_truth)
            out["truth"] = {key: float(col[np.isfinite(col)].mean())
                            if np.isfinite(col).any() else None
                            for key, col in (("ewarp", truth[:, 0]), ("ewarp_gt", truth[:, 1]))}
        blurriest = sorted(self.sharpness, key=lambda v: v[0])[:BLURRIEST]
        for side, idx in (("input", 0), ("output", 1)):
            out[side]["sharpness_blurriest"] = (float(np.mean([v[idx] for v in blurriest]))
                                                if blurriest else None)
        return out


@dataclass
class SequenceResult:
    name: str
    frames: int
    height: int
    width: int
    seconds: float  # inside the deblurrer
    scores: FrameScores
    kept: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]  # (index, in, out, gt)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict:
        return {"name": self.name, "frames": self.frames, "height": self.height,
                "width": self.width, "fps": self.fps, **self.scores.summary()}


def evaluate_sequence(
    deblurrer: StreamingDeblurrer,
    blurry: Iterable[np.ndarray],
    sharp: Iterable[np.ndarray] | None = None,
    name: str = "sequence",
    keep: Callable[[int], bool] = lambda index: False,
    figures: Iterable[str] = FIGURES,
    sharp_may_be_longer: bool = False,
) -> SequenceResult:
    """Deblur ``blurry`` in order with a fresh state and score every frame.

    ``sharp`` (same length, same size) enables PSNR and SSIM. ``keep(index)`` picks
    the frames whose input, output and ground truth are returned for a report.
    ``figures`` limits the work (training validates on PSNR alone: SSIM and optical
    flow would cost more than the network). Sharp frames left over after the blurry ones
    mean the two sequences are not pairs, and are an error unless the caller stopped the
    blurry sequence early (``sharp_may_be_longer``).
    """
    figures = set(figures)
    unknown = figures - set(FIGURES)
    if unknown:
        raise ValueError(f"unknown figures {sorted(unknown)}: use {', '.join(FIGURES)}")
    deblurrer.reset()
    sync = torch.cuda.synchronize if deblurrer.device.type == "cuda" else (lambda: None)
    sharp_iter = iter(sharp) if sharp is not None else None
    scores = FrameScores()
    kept: list = []
    seconds = 0.0
    count = 0
    shape = (0, 0)
    previous: tuple | None = None  # (input, output, ground truth or None) of frame t-1

    def score(index: int, inp: np.ndarray, out: np.ndarray, gt: np.ndarray | None) -> None:
        nonlocal previous
        inp, out = to_float01(inp), to_float01(out)
        if gt is not None:
            gt = to_float01(gt)
            if gt.shape != inp.shape:
                raise ValueError(f"{name}: frame {index}: ground truth {gt.shape} does not "
                                 f"match the blurry frame {inp.shape}")
            if "psnr" in figures:
                scores.psnr.append((psnr(inp, gt), psnr(out, gt)))
            if "ssim" in figures:
                scores.ssim.append((ssim(inp, gt), ssim(out, gt)))
        if "sharpness" in figures:
            scores.sharpness.append((sharpness(inp), sharpness(out)))
        if "ewarp" in figures and previous is not None and previous[0].shape == inp.shape:
            flow = input_flows([previous[0], inp])[0]
            scores.ewarp.append((pair_error(previous[0], inp, flow),
                                 pair_error(previous[1], out, flow)))
            if gt is not None and previous[2] is not None:
                truth_flow = input_flows([previous[2], gt])[0]
                scores.ewarp_gt.append((pair_error(previous[0], inp, truth_flow),
                                        pair_error(previous[1], out, truth_flow)))
                scores.ewarp_truth.append((pair_error(previous[2], gt, flow),
                                           pair_error(previous[2], gt, truth_flow)))
        previous = (inp, out, gt)
        if keep(index):
            kept.append((index, inp, out, gt))

    def drain(outputs: list) -> None:
        nonlocal previous
        for item in outputs:
            index, inp, gt = item.payload
            if getattr(item, "starts_segment", False):
                previous = None  # a scene cut: no flow, so no E_warp, across it
            score(index, inp, item.frame, gt)

    for index, frame in enumerate(blurry):
        gt = None
        if sharp_iter is not None:
            gt = next(sharp_iter, None)
            if gt is None:
                raise ValueError(f"{name}: the sharp sequence ends before blurry frame {index}")
        shape = frame.shape[:2]
        t0 = time.perf_counter()
        outputs = deblurrer.push(frame, index, (index, frame, gt))
        sync()
        seconds += time.perf_counter() - t0
        count += 1
        drain(outputs)
    t0 = time.perf_counter()
    outputs = deblurrer.flush()
    sync()
    seconds += time.perf_counter() - t0
    drain(outputs)
    if count == 0:
        raise ValueError(f"{name}: no frames")
    if sharp_iter is not None and not sharp_may_be_longer and next(sharp_iter, None) is not None:
        raise ValueError(f"{name}: the sharp sequence has more frames than the {count} blurry "
                         "ones; blurry and sharp frames must pair up one to one")
    return SequenceResult(name, count, int(shape[0]), int(shape[1]), seconds, scores, kept)


def summarise(results: list[SequenceResult], model: str, device: str) -> dict:
    """The JSON the evaluator writes: overall means first, then each sequence."""
    total = FrameScores()
    for r in results:
        total.extend(r.scores)
    frames = sum(r.frames for r in results)
    seconds = sum(r.seconds for r in results)
    return {
        "model": model, "device": device, "flow": FLOW_NAME, "frames": frames,
        "fps": frames / seconds if seconds > 0 else None,
        **total.summary(),
        "sequences": [r.to_dict() for r in results],
    }
