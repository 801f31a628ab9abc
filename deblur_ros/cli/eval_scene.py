"""``deblur-ros eval --model scene``: fit a scene model to one sequence's blurry frames.

Only the blurry frames are used for the fit, as in the paper (fitting to test data); the
sharp frames, when there are any, only score the result afterwards.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

import numpy as np

from deblur_ros.core.inference.scene import SceneDeblurrer


def fit_scene(frames: list[np.ndarray], name: str, args: argparse.Namespace
              ) -> tuple[SceneDeblurrer, dict[str, Any]]:
    from deblur_ros.core.inference.scene import sharpness_gate
    from deblur_ros.core.sharpness import DEFAULT_WINDOW, select_sharpest
    from deblur_ros.core.training.scene_fitter import (
        DEFAULT_BUDGET,
        FitBudget,
        SceneFitter,
        resolve_scene_init,
    )

    if not frames:
        raise ValueError(f"{name}: no frames")
    window = args.window or DEFAULT_WINDOW
    chosen = select_sharpest(frames, window=window)
    budget = FitBudget(iterations=args.fit_iterations,
                       seconds=args.fit_seconds if args.fit_seconds else
                       (None if args.fit_iterations else DEFAULT_BUDGET.seconds))
    info = [{"index": s.index, "sharpness": round(s.score, 1)} for s in chosen]
    fitter = SceneFitter([s.frame for s in chosen], init=resolve_scene_init(args.scene_init),
                         frame_info=info)
    from tqdm import tqdm

    bar = tqdm(total=100, desc=f"fit {name}", unit="%", leave=False, disable=None)

    def progress(p) -> None:
        bar.n = round(100 * p.fraction)
        bar.set_postfix(step=p.step, probe=f"{p.probe_output_psnr:.2f}dB")
        bar.refresh()

    try:
        result = fitter.fit(budget, progress=progress)
    finally:
        bar.close()
    record = {"sequence": name} | result.metadata()
    if getattr(args, "save_scene", None):
        saved = fitter.save(args.save_scene / f"{name}.pt", result, {"sequence": name})
        record["saved"] = str(saved)
    gate = sharpness_gate(getattr(args, "scene_gate", "on") == "on", window)
    record["sharpness_gate"] = asdict(gate) if gate else None
    return SceneDeblurrer(fitter.model, name=f"scene:{name}", gate=gate), record
