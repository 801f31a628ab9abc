"""The learning curve as a PNG, drawn with OpenCV so training needs no plotting library.

It plots what decides a recipe: validation gain over the blurry input (output PSNR minus
input PSNR, dB) per blur level and overall, against iterations, with CPU minutes on a
second axis label. Above zero the model deblurs; below it, it damages. With real-motion
validation (``train live --real-val``) two more lines: the real sequences' mean gain and
the gain of the worst one (the "no clip below its input" target).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

_W, _H = 900, 520
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 230, 40, 60
_COLOURS = [(40, 40, 40), (200, 90, 30), (40, 150, 40), (30, 60, 210), (150, 40, 150),
            (20, 150, 190), (120, 120, 0)]


def _series(history: list[dict]) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {"all": []}
    for entry in history:
        val = entry.get("val")
        if not val:
            continue
        out["all"].append((entry["step"], val["output_psnr"] - val["input_psnr"]))
        for level, fig in val.get("by_level", {}).items():
            out.setdefault(level, []).append(
                (entry["step"], fig["output_psnr"] - fig["input_psnr"]))
        real = entry.get("real")
        if real:
            out.setdefault("real", []).append(
                (entry["step"], real["output_psnr"] - real["input_psnr"]))
            out.setdefault("real worst", []).append(
                (entry["step"], min(f["output_psnr"] - f["input_psnr"]
                                    for f in real["by_sequence"].values())))
    return out


def write_curve(path: Path, history: list[dict], title: str = "") -> None:
    series = _series(history)
    if not series["all"]:
        return
    minutes = {e["step"]: e.get("elapsed_s", 0.0) / 60.0 for e in history}

    def below(tick: float) -> str:
        return f"{minutes[min(minutes, key=lambda s: abs(s - tick))]:.0f}m"

    plot_series(path, series, f"{title}: validation PSNR gain over the blurry input (dB)",
                "iterations (CPU/GPU minutes below)", below=below, bold="all")


def plot_series(path: Path, series: dict[str, list[tuple[float, float]]], title: str,
                x_label: str, below: Callable[[float], str] | None = None,
                bold: str | None = None) -> None:
    """Gain curves (dB, zero marked) against a common x axis; ``below`` labels each x tick
    a second time (the CPU minutes of an iteration count)."""
    img = np.full((_H, _W, 3), 255, np.uint8)
    xs = [x for pts in series.values() for x, _ in pts]
    gains = [g for pts in series.values() for _, g in pts]
    x1 = max(max(xs), 1)
    y0, y1 = min(min(gains), -0.5), max(max(gains), 0.5)
    pad = 0.05 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def px(step: float, gain: float) -> tuple[int, int]:
        x = _LEFT + (step / x1) * (_W - _LEFT - _RIGHT)
        y = _TOP + (y1 - gain) / (y1 - y0) * (_H - _TOP - _BOTTOM)
        return int(round(x)), int(round(y))

    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.rectangle(img, (_LEFT, _TOP), (_W - _RIGHT, _H - _BOTTOM), (0, 0, 0), 1)
    for tick in np.linspace(y0, y1, 7):
        x, y = px(0, tick)
        cv2.line(img, (_LEFT, y), (_W - _RIGHT, y), (225, 225, 225), 1)
        cv2.putText(img, f"{tick:+.1f}", (8, y + 4), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    zero = px(0, 0.0)[1]
    cv2.line(img, (_LEFT, zero), (_W - _RIGHT, zero), (0, 0, 0), 1)
    for tick in np.linspace(0, x1, 6):
        x, _ = px(tick, y0)
        cv2.putText(img, f"{int(tick)}", (x - 15, _H - _BOTTOM + 16), font, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
        if below is not None:
            cv2.putText(img, below(tick), (x - 12, _H - _BOTTOM + 32), font, 0.4,
                        (90, 90, 90), 1, cv2.LINE_AA)
    cv2.putText(img, x_label, (_LEFT, _H - 10), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, title, (_LEFT, 25), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (name, pts) in enumerate(series.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        pts = sorted(pts)
        for a, b in zip(pts, pts[1:]):
            cv2.line(img, px(*a), px(*b), colour, 2 if name == bold else 1, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, px(*p), 2, colour, -1)
        label = f"{name} {pts[-1][1]:+.2f}"
        cv2.putText(img, label, (_W - _RIGHT + 8, _TOP + 18 + 20 * i), font, 0.45, colour, 1,
                    cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
