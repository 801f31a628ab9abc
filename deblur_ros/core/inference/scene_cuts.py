"""Scene cuts in a stream: where consecutive frames stop showing the same scene.

The recurrent network carries F(n) and h~(n) from frame to frame and restores frame n
from its neighbours, so across a cut (clips concatenated into one folder, a camera
switched, a topic fed by two sources) it deblurs with another scene's state and
neighbours. Measured with the lite model on the ten X4K clips at 11 and 25 ms (three
frames each) run as one folder: 32.86 -> 27.48 dB, against 32.86 -> 33.88 with each
clip on its own (``bench/scene_cuts_study.py``). A cut found is handled as the end of
one stream and the start of the next, the case training covers.

The test: a 64x48 grey thumbnail of each frame with its mean and contrast removed
(exposure changes are not cuts), aligned to the previous one by phase correlation
(camera motion is not a cut), then the mean absolute difference after a light blur (a
change of blur is not a cut). Measured by the same study: the largest distance between
consecutive frames of real footage (street_night, blurcar2, the X4K pairs; 369 pairs)
was 0.20, and 0.42 for a 640x360 frame against itself moved by 12 % of its width, zoomed
10 %, turned 5 degrees and blurred by a 41 px streak instead of 9; the smallest between
frames of different clips (221 pairs) was 0.60. Hence a threshold of 0.5. A false cut
costs one frame its temporal context (every frame taken for a cut: +0.68 dB instead of
+1.02 on the clips above), a missed one several frames several dB.

Tiny renders with motion of a quarter of the frame per step (the synthetic validation
clips, 128 px with 32 px streaks) are beyond what the test can tell from a cut: inputs
whose sequences are known (``eval --dataset``, ``--validation``) run without it.
"""

from __future__ import annotations

import cv2
import numpy as np

THUMBNAIL = (64, 48)  # width, height
DEFAULT_CUT_THRESHOLD = 0.5
_CONTRAST_FLOOR = 2.0 / 255.0  # a flat (dark, covered) frame is not amplified into noise
_WINDOW = cv2.createHanningWindow(THUMBNAIL, cv2.CV_32F)


def signature(frame: np.ndarray) -> np.ndarray:
    """The frame as a 64x48 grey thumbnail, zero mean and unit contrast (float32)."""
    small = cv2.resize(frame, THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.float32)
    if np.issubdtype(frame.dtype, np.integer):
        small /= float(np.iinfo(frame.dtype).max)
    if small.ndim == 3:
        small = small.mean(axis=2)
    return (small - small.mean()) / (small.std() + _CONTRAST_FLOOR)


def distance(previous: np.ndarray, current: np.ndarray) -> float:
    """How unlike two signatures are once the camera's shift between them is undone."""
    (dx, dy), _ = cv2.phaseCorrelate(previous, current, _WINDOW)
    width, height = THUMBNAIL
    dx = int(round(max(-width / 3, min(width / 3, dx))))
    dy = int(round(max(-height / 3, min(height / 3, dy))))
    moved = current[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)]
    still = previous[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    blur = (5, 5)
    return float(np.abs(cv2.GaussianBlur(moved, blur, 1.0)
                        - cv2.GaussianBlur(still, blur, 1.0)).mean())


def check_cut_threshold(value: float) -> float:
    """0 switches detection off; a negative or non-finite value is refused in one line."""
    value = float(value)
    if not np.isfinite(value) or value < 0.0:
        raise ValueError(f"scene-cut threshold must be 0 (off) or positive, got {value!r}; "
                         f"{DEFAULT_CUT_THRESHOLD:g} is the measured default")
    return value
