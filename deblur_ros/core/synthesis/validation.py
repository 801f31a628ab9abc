"""The fixed validation renders: one definition for the trainer and ``deblur-ros eval``.

Validation photos (kodak24) never appear in training (cbsd68, mcmaster18); without the
photo folder, procedural images stand in so the set still exists (figures from it are
then not comparable with the model card's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .motion import MotionSpec, render_motion_clip, render_motion_validation
from .photos import VAL_SETS, PhotoPool, default_photo_root

VALIDATION_SEED = 1234


def validation_set(n_photos: int = 8, size: int = 128, n_frames: int = 7,
                   photo_root: str | Path | None = None) -> list[dict]:
    """Clips of every validation level over the first ``n_photos`` drawn photos.

    Each clip is a dict with ``blurry`` and ``sharp`` ([n, H, W, 3] float32 sRGB),
    ``level`` (its name), ``streak_px`` and ``photo_index``.
    """
    root = Path(photo_root) if photo_root else default_photo_root()
    pool = PhotoPool(root, VAL_SETS)
    rng = np.random.default_rng(VALIDATION_SEED)
    photos = [pool.sample(rng, 2 * size, 2 * size) for _ in range(max(1, n_photos))]
    # Moving objects come from other validation photos, never from training ones.
    objects = PhotoPool(root, VAL_SETS)
    return render_motion_validation(photos, seed=VALIDATION_SEED, n_frames=n_frames, size=size,
                                    source=objects.sample)


SCENE_DRIVE_SEED = 4321


def scene_validation_drives(n_drives: int = 2, n_frames: int = 100, width: int = 256,
                            height: int = 192, level: float = 12.0,
                            photo_root: str | Path | None = None) -> list[dict]:
    """Fixed synthetic drives for the scene model, from validation photos only.

    Blur comes and goes as in real hand-held and dashcam footage: the per-frame streak
    varies strongly around ``level`` (log-normal, std 0.8) and a quarter of the frames
    are nearly still (hand-held tremor included: without that, drive01's stillest frame
    kept a 3.4 px streak), so every window of 20 holds a frame that is close to sharp. Each
    drive is one photo (one scene) under a hand-held camera that wanders over it (the
    vehicle profile's zoom keeps growing over a long drive and would leave the photo).
    Returns dicts with ``blurry``, ``sharp`` ([n, H, W, 3] float32 sRGB), ``streaks``
    (px per frame) and ``name``.
    """
    root = Path(photo_root) if photo_root else default_photo_root()
    pool = PhotoPool(root, VAL_SETS)
    drives = []
    for d in range(n_drives):
        rng = np.random.default_rng([SCENE_DRIVE_SEED, d])
        photo = pool.sample(rng, 2 * height, 2 * width)
        spec = MotionSpec(n_frames=n_frames, height=height, width=width, profile="handheld",
                          streak_jitter=0.8, sharp_frame_prob=0.25, jpeg_prob=0.0,
                          noise_prob=1.0, highlight_prob=0.0, tremor_follows_speed=True)
        blurry, sharp, info = render_motion_clip(photo, spec, rng, level=level)
        drives.append({"blurry": blurry, "sharp": sharp, "streaks": info["streaks"],
                       "name": f"drive{d:02d}"})
    return drives
