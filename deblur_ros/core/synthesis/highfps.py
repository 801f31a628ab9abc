"""Real-motion blurry/sharp pairs from high-frame-rate footage, averaged GoPro-style.

A blurry frame is the mean of ``tau`` consecutive high-speed frames in linear light (what a
sensor integrates over an exposure); its target is the middle one. Frames are resized in
linear light first (area averaging), so the pair looks like a camera of that resolution.
Consecutive blurry frames start ``stride`` high-speed frames apart: stride >= tau is a
real shutter (exposure <= frame interval); a smaller stride overlaps exposures, which no
camera does, so it is allowed only when asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from .colour import linear_to_srgb, srgb_u8_to_linear_lut


def average_pairs(frames: Iterable[np.ndarray], tau: int, stride: int, width: int | None = None
                  ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (blurry, sharp) uint8 images (the input's channel order) from uint8 frames.

    tau must be odd (the target is the exposure's middle frame); a tail shorter than tau
    is dropped.
    """
    if tau < 1 or tau % 2 == 0:
        raise ValueError(f"tau must be an odd number of frames >= 1, got {tau}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    lut = srgb_u8_to_linear_lut()
    window: list[np.ndarray] = []
    index = 0  # high-speed frame number of window[0]
    next_start = 0
    for frame in frames:
        if frame.dtype != np.uint8:
            raise ValueError(f"expected 8-bit frames, got {frame.dtype}")
        if width is not None and frame.shape[1] != width:
            height = int(round(frame.shape[0] * width / frame.shape[1] / 2)) * 2
            linear = cv2.resize(lut[frame], (width, height), interpolation=cv2.INTER_AREA)
        else:
            linear = lut[frame]
        window.append(linear)
        if len(window) > tau:
            window.pop(0)
            index += 1
        if len(window) == tau and index == next_start:
            blurry = np.mean(window, axis=0)
            yield _to_u8(blurry), _to_u8(window[tau // 2])
            next_start += stride


def _to_u8(linear: np.ndarray) -> np.ndarray:
    return (linear_to_srgb(linear) * 255.0 + 0.5).astype(np.uint8)
