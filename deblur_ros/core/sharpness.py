"""How sharp a frame is, and which frames of a drive the scene model learns from.

The scene path (Ren, Qian, Chen) fits a network to the sharpest frame of every window of
20: blur comes and goes in real footage, so each window usually holds a frame that is
nearly sharp, and those frames teach the network the scene's own textures. The same
:class:`SharpFrameSelector` serves the sidecar node (frames arrive one at a time), the
evaluator and the offline tools (a list of frames), so there is one window rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from deblur_ros.core.imaging import to_float01

DEFAULT_WINDOW = 20
"""Frames per selection window (the paper's choice: enough frames that one is sharp,
few enough that the selected frames cover the whole drive)."""

DEFAULT_DUPLICATE_THRESHOLD = 0.01
"""Mean absolute grey difference (in [0, 1], on a 64-pixel-wide thumbnail) under which a
window's best frame counts as the same view as the last selected one. A robot standing
still gives differences of a few 1e-3 (sensor noise); a camera that moved by a few
pixels over textured ground gives several 1e-2."""

_THUMB_WIDTH = 64


def variance_of_laplacian(image: np.ndarray) -> float:
    """The paper's eq. (1): variance of the Laplacian of the grey image, on a 0..255 scale.

    Grows with edge contrast, so it ranks frames of one scene by blur; across different
    scenes it also ranks texture, which is why selection compares frames within a window.
    """
    a = to_float01(image, np.float64)
    grey = a if a.ndim == 2 else a[:, :, :3].mean(axis=2)
    return float(cv2.Laplacian(grey * 255.0, cv2.CV_64F).var())


def thumbnail(image: np.ndarray) -> np.ndarray:
    """Small grey float32 copy used to tell whether two frames show the same view."""
    a = to_float01(image)
    grey = a if a.ndim == 2 else a[:, :, :3].mean(axis=2)
    h, w = grey.shape
    size = (_THUMB_WIDTH, max(1, round(h * _THUMB_WIDTH / w)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def view_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails (inf when the frame size changed)."""
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).mean())


@dataclass
class Selection:
    """One selected frame: its position in the drive, its score and the pixels."""

    index: int
    score: float
    frame: np.ndarray
    stamp_ns: int | None = None


class SharpFrameSelector:
    """Keeps the sharpest frame of each window of ``window`` consecutive frames.

    Windows are fixed blocks of the frame index (0-19, 20-39, ...), so the choice does not
    depend on when a caller flushes. Only the best frame of the open window is held
    (memory does not grow with the window). A window's winner is dropped when it shows
    the same view as the last selected frame (a robot standing still), so a long stop
    does not fill the fitting set with copies of one picture.
    """

    def __init__(self, window: int = DEFAULT_WINDOW,
                 duplicate_threshold: float = DEFAULT_DUPLICATE_THRESHOLD) -> None:
        if window < 1:
            raise ValueError(f"selection window must be at least 1 frame (got {window})")
        if duplicate_threshold < 0:
            raise ValueError(f"duplicate threshold must be >= 0 (got {duplicate_threshold})")
        self.window = int(window)
        self.duplicate_threshold = float(duplicate_threshold)
        self.frames_seen = 0
        self.duplicates_skipped = 0
        self._best: Selection | None = None
        self._last_thumb: np.ndarray | None = None

    def push(self, frame: np.ndarray, stamp_ns: int | None = None) -> Selection | None:
        """Score one frame; returns the window's selection when this frame closes a window."""
        index = self.frames_seen
        self.frames_seen += 1
        score = variance_of_laplacian(frame)
        if self._best is None or score > self._best.score:
            self._best = Selection(index, score, np.array(frame, copy=True), stamp_ns)
        if self.frames_seen % self.window == 0:
            return self._close()
        return None

    def flush(self) -> Selection | None:
        """Close a partly filled last window (end of a drive)."""
        return self._close()

    def _close(self) -> Selection | None:
        best, self._best = self._best, None
        if best is None:
            return None
        thumb = thumbnail(best.frame)
        if self._last_thumb is not None and \
                view_difference(thumb, self._last_thumb) < self.duplicate_threshold:
            self.duplicates_skipped += 1
            return None
        self._last_thumb = thumb
        return best


def select_sharpest(frames: Iterable[np.ndarray], window: int = DEFAULT_WINDOW,
                    duplicate_threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
                    ) -> list[Selection]:
    """The selections of a whole drive, last partial window included."""
    selector = SharpFrameSelector(window, duplicate_threshold)
    chosen = [s for s in (selector.push(f) for f in frames) if s is not None]
    last = selector.flush()
    return chosen + ([last] if last is not None else [])
