"""The report a person looks at: PNG strips (input | output | ground truth) and a README."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from deblur_ros.core.imaging import side_by_side
from deblur_ros.core.scoring.evaluation import SequenceResult


def strip(inp: np.ndarray, out: np.ndarray, gt: np.ndarray | None) -> np.ndarray:
    images, labels = [inp, out], ["blurry input", "deblurred"]
    if gt is not None:
        images.append(gt)
        labels.append("ground truth")
    return side_by_side(images, labels)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _cell(value: float | None, digits: int, scale: float = 1.0) -> str:
    return "n/a" if value is None else f"{value * scale:.{digits}f}"


def write_report(folder: Path, summary: dict, results: list[SequenceResult],
                 summary_table: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["# Evaluation report", "", summary_table, "",
             "E_warp: Lai et al. 2018, flow computed on the blurry input and used for both "
             "columns; lower is more temporally consistent. Sharpness: variance of the "
             "Laplacian; higher is sharper, but noise and ringing raise it too, so look at "
             "the strips.", "", "## Sequences", "",
             "| sequence | frames | size | PSNR in/out | SSIM in/out | E_warp x1e-3 in/out "
             "| sharpness in/out | fps |", "|---|---:|---|---|---|---|---|---:|"]
    for r in results:
        s = r.scores.summary()
        i, o = s["input"], s["output"]
        lines.append(
            f"| {r.name} | {r.frames} | {r.width}x{r.height} "
            f"| {_cell(i['psnr'], 2)} / {_cell(o['psnr'], 2)} "
            f"| {_cell(i['ssim'], 4)} / {_cell(o['ssim'], 4)} "
            f"| {_cell(i['ewarp'], 3, 1e3)} / {_cell(o['ewarp'], 3, 1e3)} "
            f"| {_cell(i['sharpness'], 1)} / {_cell(o['sharpness'], 1)} | {r.fps:.2f} |")
    lines += ["", "## Frames", ""]
    for r in results:
        for index, inp, out, gt in r.kept:
            name = f"{_safe(r.name)}_{index:06d}.png"
            image = strip(inp, out, gt)
            cv2.imwrite(str(folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            lines.append(f"**{r.name}, frame {index}**\n\n![{r.name} {index}]({name})\n")
    path = folder / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path
