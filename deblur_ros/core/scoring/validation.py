"""The one scorer for the synthetic validation set, used by training and by ``eval``.

Training runs it every few hundred steps for the learning curve and the best-weights
choice (PSNR only, to stay cheap); ``deblur-ros eval --validation`` runs it with every
figure. Both go through the streaming deblurrer, so the curve measures exactly what a
user's ``eval`` would.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.scoring.evaluation import (
    FIGURES,
    FrameScores,
    SequenceResult,
    evaluate_sequence,
)
from deblur_ros.core.synthesis.motion import VALIDATION_LEVELS


def clip_name(clip: dict, index: int) -> str:
    """``<level>_photo<NN>_<index>``: the level first, which :func:`by_level` groups on."""
    return f"{clip['level']}_photo{clip['photo_index']:02d}_{index:02d}"


def score_clips(deblurrer: StreamingDeblurrer, clips: list[dict],
                figures: Iterable[str] = FIGURES) -> list[SequenceResult]:
    return [evaluate_sequence(deblurrer, list(clip["blurry"]), list(clip["sharp"]),
                              clip_name(clip, i), figures=figures)
            for i, clip in enumerate(clips)]


def by_level(results: list[SequenceResult]) -> dict[str, dict]:
    """Figures per blur level, in the order of ``VALIDATION_LEVELS``."""
    groups: dict[str, FrameScores] = {}
    for r in results:
        groups.setdefault(r.name.split("_")[0], FrameScores()).extend(r.scores)
    order = [name for name, _, _ in VALIDATION_LEVELS]
    ranked = sorted(groups, key=lambda k: order.index(k) if k in order else len(order))
    return {level: groups[level].summary() for level in ranked}


def psnr_summary(results: list[SequenceResult]) -> dict:
    """The training curve's record: mean input and output PSNR over all frames, and per
    blur level."""
    every = [pair for r in results for pair in r.scores.psnr]
    levels = {}
    for level, summary in by_level(results).items():
        levels[level] = {"input_psnr": summary["input"]["psnr"],
                         "output_psnr": summary["output"]["psnr"]}
    return {"input_psnr": float(np.mean([a for a, _ in every])),
            "output_psnr": float(np.mean([b for _, b in every])), "frames": len(every),
            "by_level": levels}
