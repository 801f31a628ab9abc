"""``deblur-ros eval --model scene``: fit a scene model to one sequence's blurry frames.

Only the blurry frames are used for the fit, as in the paper (fitting to test data); the
sharp frames, when there are any, only score the result afterwards.
"""

from __future__ import annotations

import argparse
import sys
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
    # Without a terminal the bar is off; a fit runs for minutes, so a log still gets a line
    # at the start, at every tenth of the budget and at the end (a sign of life).
    log = bar.disable
    logged = [0]
    if log:
        _note(f"fit {name}: {len(chosen)} frames selected of {len(frames)}, budget "
              f"{_budget_text(budget)}")

    def progress(p) -> None:
        if log:
            if int(10 * p.fraction) > logged[0]:
                logged[0] = int(10 * p.fraction)
                _note(f"fit {name}: {round(100 * p.fraction)}% step {p.step} "
                      f"{p.elapsed_s:.0f} s, probe {p.probe_output_psnr:.2f} dB")
            return
        bar.n = round(100 * p.fraction)
        bar.set_postfix(step=p.step, probe=f"{p.probe_output_psnr:.2f}dB")
        bar.refresh()

    try:
        result = fitter.fit(budget, progress=progress)
    finally:
        bar.close()
    if log:
        _note(f"fit {name}: stopped ({result.stopped}) after {result.iterations} steps, "
              f"{result.seconds:.0f} s; probe {result.probe_input_psnr:.2f} -> "
              f"{result.probe_output_psnr:.2f} dB")
    record = {"sequence": name} | result.metadata()
    if getattr(args, "save_scene", None):
        saved = fitter.save(args.save_scene / f"{name}.pt", result, {"sequence": name})
        record["saved"] = str(saved)
    gate = sharpness_gate(getattr(args, "scene_gate", "on") == "on", window)
    record["sharpness_gate"] = asdict(gate) if gate else None
    return SceneDeblurrer(fitter.model, name=f"scene:{name}", gate=gate), record


def _budget_text(budget) -> str:
    parts = []
    if budget.iterations is not None:
        parts.append(f"{budget.iterations} steps")
    if budget.seconds is not None:
        parts.append(f"{budget.seconds:g} s")
    return " or ".join(parts)


def _note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
