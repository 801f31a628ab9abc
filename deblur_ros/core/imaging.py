"""The package's one conversion between stored pixels and float images, and the small
picture helpers several commands share.

Every path into the network or a metric goes through :func:`to_float01`, so a uint16
camera, a float test image and an 8-bit PNG are scaled the same way everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
"""File types read as frames or photos (what OpenCV's imread handles everywhere)."""


def natural_key(path: Path) -> list[object]:
    """Sort key putting frame2.png before frame10.png: a folder of frames is a clip in
    that order wherever it is read."""
    parts = re.split(r"(\d+)", path.name.lower())
    return [int(part) if part.isdigit() else part for part in parts]


_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def to_float01(img: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """uint8 / uint16 scaled to [0, 1]; float clipped to [0, 1]. Shape unchanged."""
    scale = _SCALE.get(img.dtype)
    if scale is not None:
        return img.astype(dtype) / dtype(scale)
    return np.clip(img.astype(dtype, copy=False), 0.0, 1.0)


def from_float01(img: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Inverse of :func:`to_float01`: round to uint8 / uint16, or keep float (clipped)."""
    dtype = np.dtype(dtype)
    clipped = np.clip(img, 0.0, 1.0)
    scale = _SCALE.get(dtype)
    if scale is not None:
        return np.rint(clipped * scale).astype(dtype)
    return clipped.astype(dtype, copy=False)


def stamp_ns(sec: int, nanosec: int) -> int:
    """A ROS time (sec, nanosec) as one integer of nanoseconds, the streamer's stamp."""
    return int(sec) * 1_000_000_000 + int(nanosec)


def as_rgb_u8(img: np.ndarray) -> np.ndarray:
    """A contiguous RGB uint8 copy of a frame of any stored type, grey ones repeated."""
    out = np.ascontiguousarray(from_float01(to_float01(img), np.uint8))
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    return out


def labelled(img: np.ndarray, text: str) -> np.ndarray:
    """RGB uint8 copy of ``img`` with ``text`` in the top-left corner, readable on any
    background (white on a black outline), scaled to the picture."""
    out = as_rgb_u8(img)
    scale = max(0.4, out.shape[1] / 900)
    thickness = max(1, int(round(scale * 2)))
    org = (8, int(24 * scale) + 4)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness)
    return out


def side_by_side(images: list[np.ndarray], labels: list[str]) -> np.ndarray:
    """Labelled pictures of one height next to each other, 4 px of white between (RGB uint8)."""
    panels = [labelled(img, text) for img, text in zip(images, labels)]
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    row = [panels[0]]
    for panel in panels[1:]:
        row += [gap, panel]
    return np.concatenate(row, axis=1)


def most_changed_window(before: np.ndarray, after: np.ndarray,
                        fraction: float = 0.5) -> tuple[int, int, int, int]:
    """(y, x, h, w) of the window, ``fraction`` of each side, where ``after`` differs
    most from ``before``: at full size a deblurred frame's gain is a few pixels per
    edge, too small to see, so the demo enlarges where the model did the most."""
    h, w = before.shape[:2]
    wh, ww = max(1, int(h * fraction)), max(1, int(w * fraction))
    change = np.abs(to_float01(after) - to_float01(before))
    if change.ndim == 3:
        change = change.sum(axis=2)
    # integral image: the change inside every window position at once
    total = np.pad(change.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (total[wh:, ww:] - total[:-wh, ww:] - total[wh:, :-ww] + total[:-wh, :-ww])
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(y), int(x), wh, ww


def with_detail(before: np.ndarray, after: np.ndarray, labels: list[str],
                fraction: float = 0.5) -> np.ndarray:
    """:func:`side_by_side` of the two frames, the most changed window outlined, above
    the same window of each enlarged (nearest neighbour, so no pixel is invented) to
    the frame's size."""
    y, x, wh, ww = most_changed_window(before, after, fraction)
    h, w = before.shape[:2]
    top, bottom = [], []
    for img in (before, after):
        rgb = as_rgb_u8(img)
        crop = rgb[y:y + wh, x:x + ww]
        bottom.append(cv2.resize(crop, (w, h), interpolation=cv2.INTER_NEAREST))
        cv2.rectangle(rgb, (x, y), (x + ww - 1, y + wh - 1), (255, 255, 0), 1)
        top.append(rgb)
    zoom = w / ww
    rows = [side_by_side(top, labels),
            side_by_side(bottom, [f"{text}, detail x{zoom:g}" for text in labels])]
    gap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([rows[0], gap, rows[1]], axis=0)
