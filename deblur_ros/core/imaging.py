"""The package's one conversion between stored pixels and float images, and the small
picture helpers several commands share.

Every path into the network or a metric goes through :func:`to_float01`, so a uint16
camera, a float test image and an 8-bit PNG are scaled the same way everywhere.
"""

from __future__ import annotations

import cv2
import numpy as np

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
"""File types read as frames or photos (what OpenCV's imread handles everywhere)."""

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


def labelled(img: np.ndarray, text: str) -> np.ndarray:
    """RGB uint8 copy of ``img`` with ``text`` in the top-left corner, readable on any
    background (white on a black outline), scaled to the picture."""
    out = np.ascontiguousarray(from_float01(to_float01(img), np.uint8))
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
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
