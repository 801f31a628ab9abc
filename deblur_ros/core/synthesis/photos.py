"""Sharp source photos for blur synthesis, with a procedural fallback.

Training and validation photos come from disjoint sets (never mixed, so validation
scores measure generalisation to unseen scenes). The photo folder is optional: without it
every sample is a procedural dead-leaves image, so the package trains anywhere.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from deblur_ros.core.imaging import IMAGE_EXTENSIONS

from .procedural import dead_leaves

TRAIN_SETS = ("cbsd68", "mcmaster18")
VAL_SETS = ("kodak24",)

PHOTO_ROOT_ENV = "DEBLUR_ROS_PHOTOS"
# Downscaling removes the photos' own slight blur and noise, which would otherwise leak
# into the "sharp" targets; it also varies the scale of content. Never more than this.
_MIN_DOWNSCALE = 0.6


def default_photo_root() -> Path | None:
    """$DEBLUR_ROS_PHOTOS, else the shared data folder beside the checkout, if present."""
    env = os.environ.get(PHOTO_ROOT_ENV)
    if env:
        root = Path(env).expanduser()
    else:
        root = Path(__file__).resolve().parents[3].parent / "shared/data/sharp_photos"
    return root if root.is_dir() else None


class PhotoPool:
    """Random crops of photos from some named sets (sub-folders of root).

    Photos are decoded on first use and cached, because a training run samples each one
    many times and decoding dominates otherwise. Photos whose short side is below
    min_size are skipped when they are first loaded (too little content to crop from).
    """

    def __init__(self, root: Path | None, sets: Sequence[str], procedural_fraction: float = 0.0,
                 min_size: int = 64) -> None:
        if not 0.0 <= procedural_fraction <= 1.0:
            raise ValueError(f"procedural_fraction must be in [0, 1], got {procedural_fraction}")
        if isinstance(sets, str):
            sets = (sets,)  # a bare string would otherwise be read as one set per letter
        self.root = Path(root) if root is not None else None
        self.sets = tuple(sets)
        self.procedural_fraction = float(procedural_fraction)
        self.min_size = int(min_size)
        self.paths: list[Path] = []
        if self.root is not None:
            for name in self.sets:
                folder = self.root / name
                if folder.is_dir():
                    self.paths += sorted(p for p in folder.iterdir()
                                         if p.suffix.lower() in IMAGE_EXTENSIONS)
        if self.root is not None and not self.paths:
            # Training would silently fall back to procedural images; say so.
            warnings.warn(f"no photos of sets {self.sets} under {self.root}; "
                          "using procedural images only", stacklevel=2)
        self._cache: dict[int, np.ndarray | None] = {}

    def __len__(self) -> int:
        """Number of photo files found (unreadable or too small ones included)."""
        return len(self.paths)

    def _load(self, index: int) -> np.ndarray | None:
        if index not in self._cache:
            bgr = cv2.imread(str(self.paths[index]), cv2.IMREAD_COLOR)
            if bgr is None or min(bgr.shape[:2]) < self.min_size:
                self._cache[index] = None
            else:
                self._cache[index] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return self._cache[index]

    def _random_photo(self, rng: np.random.Generator) -> np.ndarray | None:
        """A uniformly chosen usable photo; None if none of them loads."""
        # Walking a random permutation skips unusable files without biasing the choice.
        for index in rng.permutation(len(self.paths)):
            photo = self._load(int(index))
            if photo is not None:
                return photo
        return None

    def sample(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        """uint8 RGB image of at least height x width (exactly that size as implemented)."""
        if height <= 0 or width <= 0:
            raise ValueError(f"sample size must be positive, got {height}x{width}")
        photo = None
        if self.paths and rng.random() >= self.procedural_fraction:
            photo = self._random_photo(rng)
        if photo is None:
            return dead_leaves(height, width, rng)
        return _random_crop(photo, height, width, rng)


def _random_crop(photo: np.ndarray, height: int, width: int,
                 rng: np.random.Generator) -> np.ndarray:
    ph, pw = photo.shape[:2]
    # Scale the photo by s (< 1 shrinks) then crop; s is as small as the photo allows.
    fit = max(height / ph, width / pw)
    lo = max(fit, _MIN_DOWNSCALE)
    scale = fit if fit >= 1.0 else rng.uniform(lo, 1.0)
    ch, cw = min(ph, int(np.ceil(height / scale))), min(pw, int(np.ceil(width / scale)))
    y0, x0 = int(rng.integers(0, ph - ch + 1)), int(rng.integers(0, pw - cw + 1))
    crop = photo[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]  # mirror: doubles the scene variety for free
    if (ch, cw) != (height, width):
        interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
        crop = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=interp)
    return np.ascontiguousarray(crop)
