"""The fixed validation renders: one definition for the trainer and ``deblur-ros eval``.

Validation photos (kodak24) never appear in training (cbsd68, mcmaster18); without the
photo folder, procedural images stand in so the set still exists (figures from it are
then not comparable with the model card's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .motion import render_motion_validation
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
