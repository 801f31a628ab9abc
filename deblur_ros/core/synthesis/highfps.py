"""Real-motion blurry/sharp pairs from high-frame-rate footage, averaged GoPro-style.

A blurry frame is the mean of ``tau`` consecutive high-speed frames in linear light (what a
sensor integrates over an exposure); its target is the middle one. Frames are resized in
linear light first (area averaging), so the pair looks like a camera of that resolution.
Consecutive blurry frames start ``stride`` high-speed frames apart: stride >= tau is a
real shutter (exposure <= frame interval); a smaller stride overlaps exposures, which no
camera does, so it is allowed only when asked for. A cycle of taus (3, 7, 11, 15) gives a
drive whose blur comes and goes, with a sharp target for every frame: the scene model's
real-motion check (its validation drives are synthetic).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import cv2
import numpy as np

from .colour import linear_to_srgb, srgb_u8_to_linear_lut

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
"""Files read as high-frame-rate clips (by ``deblur-ros pairs`` and the real-motion trainer)."""


def average_pairs(frames: Iterable[np.ndarray], tau: int | Sequence[int], stride: int,
                  width: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (blurry, sharp) uint8 images (the input's channel order) from uint8 frames.

    Every tau must be odd (the target is the exposure's middle frame). Several taus are
    used in turn, one per blurry frame, all centred where the longest would be: a drive
    whose blur comes and goes (tau 1 is a sharp frame), with ground truth for every frame,
    as the scene model needs. A tail shorter than the longest tau is dropped.
    """
    taus = [tau] if isinstance(tau, int) else list(tau)
    if not taus or any(t < 1 or t % 2 == 0 for t in taus):
        raise ValueError(f"tau must be odd numbers of frames >= 1, got {tau}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    span = max(taus)
    lut = srgb_u8_to_linear_lut()
    window: list[np.ndarray] = []
    index = 0  # high-speed frame number of window[0]
    next_start = 0
    produced = 0
    for frame in frames:
        if frame.dtype != np.uint8:
            raise ValueError(f"expected 8-bit frames, got {frame.dtype}")
        if width is not None and frame.shape[1] != width:
            height = int(round(frame.shape[0] * width / frame.shape[1] / 2)) * 2
            linear = cv2.resize(lut[frame], (width, height), interpolation=cv2.INTER_AREA)
        else:
            linear = lut[frame]
        window.append(linear)
        if len(window) > span:
            window.pop(0)
            index += 1
        if len(window) == span and index == next_start:
            t = taus[produced % len(taus)]
            first = (span - t) // 2
            blurry = np.mean(window[first:first + t], axis=0)
            yield _to_u8(blurry), _to_u8(window[span // 2])
            next_start += stride
            produced += 1


def _to_u8(linear: np.ndarray) -> np.ndarray:
    return (linear_to_srgb(linear) * 255.0 + 0.5).astype(np.uint8)
