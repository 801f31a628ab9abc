"""Endless PyTorch dataset of synthetic training clips.

Clips are rendered on the fly rather than stored: synthesis is cheap next to a training
step, and every clip being new removes over-fitting to a fixed set of blur kernels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .motion import MotionSpec, render_motion_clip
from .photos import PhotoPool
from .real_motion import RealMotionSpec, load_footage, render_real_clip
from .render import ClipSpec, render_clip

# Source photos are this much larger than the view, so the shaking camera rarely runs
# past their edges.
SOURCE_SCALE = 1.5


class ClipDataset(IterableDataset):
    """Yields (blurry, sharp) float32 tensors [n_frames, 3, H, W] forever.

    The generator is seeded from (seed, worker id): workers of one DataLoader render
    different clips, and a run restarted with the same seed and worker count sees the
    same clips.
    """

    def __init__(self, pool: PhotoPool, spec: ClipSpec | MotionSpec, seed: int) -> None:
        super().__init__()
        spec.validate()
        self.pool = pool
        self.spec = spec
        self.seed = int(seed)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info is not None else 0])
        h = math.ceil(SOURCE_SCALE * self.spec.height)
        w = math.ceil(SOURCE_SCALE * self.spec.width)
        while True:
            photo = self.pool.sample(rng, h, w)
            blurry, sharp = render_clip(photo, self.spec, rng, layer_source=self.pool.sample)
            yield _to_tensor(blurry), _to_tensor(sharp)


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """[T, H, W, 3] float32 array -> contiguous [T, 3, H, W] tensor."""
    return torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))


class MotionClipDataset(ClipDataset):
    """Yields (blurry, sharp) float32 tensors [n_frames, 3, H, W] of the motion recipe.

    Seeded from (seed, worker id) like ClipDataset; photos are drawn at twice the view
    so the camera's excursions stay over real content.
    """

    spec: MotionSpec

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info is not None else 0])
        h, w = 2 * self.spec.height, 2 * self.spec.width
        while True:
            photo = self.pool.sample(rng, h, w)
            blurry, sharp, _ = render_motion_clip(photo, self.spec, rng, self.pool.sample)
            yield _to_tensor(blurry), _to_tensor(sharp)


class RealMixClipDataset(MotionClipDataset):
    """The motion recipe with a share of clips of real motion (:mod:`.real_motion`).

    The footage is decoded inside each loader worker (not pickled into it): hundreds of
    megabytes of frames would otherwise be copied at every start.
    """

    def __init__(self, pool: PhotoPool, spec: MotionSpec, seed: int, footage: list,
                 share: float, real_spec: RealMotionSpec, footage_width: int) -> None:
        super().__init__(pool, spec, seed)
        real_spec.validate()
        self.footage = [str(p) for p in footage]
        self.share = float(share)
        self.real_spec = real_spec
        self.footage_width = int(footage_width)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info is not None else 0, 1])
        clips = [load_footage(Path(p), self.footage_width) for p in self.footage]
        synthetic = super().__iter__()
        while True:
            if rng.random() < self.share:
                clip = clips[int(rng.integers(0, len(clips)))]
                blurry, sharp, _ = render_real_clip(clip, self.real_spec, rng)
                yield _to_tensor(blurry), _to_tensor(sharp)
            else:
                yield next(synthetic)
