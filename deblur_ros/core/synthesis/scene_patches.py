"""Training pairs of the scene fit: crops of a drive's sharpest frames, blurred on the fly.

Random crops only: the paper found flips and rotations harmful here (they invent textures
the scene does not have). Each crop gets its own symmetric linear kernel in linear light,
then sensor noise and 8-bit quantisation as a camera would add, and a weight equal to its
variance of the Laplacian over N, where N is the mean of the selected frames' own
values, so the weights average about 1 whatever the scene and the learning rate keeps
its meaning (the paper leaves N a constant).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from deblur_ros.core.imaging import to_float01
from deblur_ros.core.sharpness import variance_of_laplacian

from .kernels import blur_with_noise, linear_motion_kernel, random_shake_kernel


@dataclass(frozen=True)
class PatchSpec:
    crop: int = 96
    batch: int = 8
    max_kernel: float = 21.0  # p: streak lengths from (0, p) px; 21 measured best (MODELS.md)
    # Share of crops blurred by at most 1 px: teaches the net to leave sharp input alone
    # (without them, fits over-sharpen nearly still footage; MODELS.md). Not yet default.
    still_prob: float = 0.0
    # Share of crops whose streak is bent by tremor (random_shake_kernel) rather than
    # straight. Measured at 0.5 (MODELS.md): +0.44 dB on the tremor-bent validation drive,
    # -0.12 to -0.25 dB on the real X4K drives, whose blur is nearly straight; so off,
    # which draws nothing and keeps earlier fits identical.
    shake_prob: float = 0.0
    # Share of crops whose streak is drawn from (max_kernel, long_kernel) instead: the
    # drives' blurriest frames lie beyond p, where the fit gained little. Measured at 0.2
    # (MODELS.md, "Width and long kernels"): 21-40 px frames +3.3 instead of +0.7 dB, at a
    # cost to mid-blur frames that a wider U-Net pays back (p = 31 for all crops was worse).
    # At 0 it draws nothing: the fits made before 2026-12-03 repeat exactly with 0.
    long_prob: float = 0.2
    long_kernel: float = 35.0
    noise_prob: float = 0.8
    shot: tuple[float, float] = (1e-4, 3e-3)  # log-uniform, as the live model's training
    read: tuple[float, float] = (1e-7, 1e-5)


class ScenePatches:
    """Draws (blurry, sharp, weight) batches from a few sharp frames of one scene."""

    def __init__(self, frames: Sequence[np.ndarray], spec: PatchSpec | None = None,
                 seed: int = 0) -> None:
        if not frames:
            raise ValueError("no sharp frames to fit to (select frames first)")
        self.spec = spec or PatchSpec()
        self.frames = [to_float01(f)[:, :, :3] if f.ndim == 3 else
                       np.repeat(to_float01(f)[:, :, None], 3, axis=2) for f in frames]
        smallest = min(min(f.shape[:2]) for f in self.frames)
        self.crop = min(self.spec.crop, smallest)
        self.norm = max(1e-6, float(np.mean([variance_of_laplacian(f) for f in self.frames])))
        self.rng = np.random.default_rng(seed)

    def pair(self, rng: np.random.Generator, kernel: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, float]:
        """One crop: blurry, sharp (float32 HxWx3) and its weight."""
        sharp = self.crops(rng, 1)[0]
        return self.blur(sharp, rng, kernel), sharp, self.weight(sharp)

    def blur(self, sharp: np.ndarray, rng: np.random.Generator,
             kernel: np.ndarray | None = None) -> np.ndarray:
        """A blurred, noisy, 8-bit-quantised copy of a sharp crop."""
        spec = self.spec
        if kernel is None:
            kernel = draw_kernel(rng, spec.max_kernel, spec.still_prob, spec.shake_prob,
                                 spec.long_prob, spec.long_kernel)
        shot = read = 0.0
        if rng.random() < spec.noise_prob:
            shot = _log_uniform(rng, *spec.shot)
            read = _log_uniform(rng, *spec.read)
        blurry = blur_with_noise(sharp, kernel, rng, shot, read)
        return np.round(blurry * 255.0) / np.float32(255.0)

    def batch(self, rng: np.random.Generator | None = None,
              kernel: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """[B, 3, c, c] blurry and sharp tensors and [B] weights."""
        rng = rng or self.rng
        pairs = [self.pair(rng, kernel) for _ in range(self.spec.batch)]
        weights = torch.tensor([p[2] for p in pairs], dtype=torch.float32)
        return to_batch([p[0] for p in pairs]), to_batch([p[1] for p in pairs]), weights

    def crops(self, rng: np.random.Generator, n: int) -> list[np.ndarray]:
        """n sharp crops (MAML blurs the same crops with two kernels)."""
        out = []
        c = self.crop
        for _ in range(n):
            frame = self.frames[int(rng.integers(len(self.frames)))]
            h, w = frame.shape[:2]
            y, x = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
            out.append(np.ascontiguousarray(frame[y:y + c, x:x + c]))
        return out

    def weight(self, sharp: np.ndarray) -> float:
        return variance_of_laplacian(sharp) / self.norm


def streak_length(rng: np.random.Generator, longest: float, still_prob: float,
                  long_prob: float = 0.0, long_kernel: float = 35.0) -> float:
    """A kernel length from (0, longest) px, or with ``still_prob`` from (0, 1) px, or with
    ``long_prob`` from (longest, long_kernel) px (the fit and MAML share the rule). No draw
    at all for an option at 0, so runs that began before it existed stay bit-identical and
    resume exactly."""
    still = still_prob > 0 and rng.random() < still_prob
    if not still and long_prob > 0 and rng.random() < long_prob:
        return float(rng.uniform(longest, max(longest, long_kernel)))
    return float(rng.uniform(0.0, 1.0 if still else longest))


def draw_kernel(rng: np.random.Generator, longest: float, still_prob: float,
                shake_prob: float, long_prob: float = 0.0,
                long_kernel: float = 35.0) -> np.ndarray:
    """The fit's and MAML's kernel rule: a length by :func:`streak_length`, then a straight
    streak at a random angle or, with ``shake_prob``, one bent by tremor."""
    length = streak_length(rng, longest, still_prob, long_prob, long_kernel)
    if shake_prob > 0 and rng.random() < shake_prob:
        return random_shake_kernel(rng, length)
    return linear_motion_kernel(length, float(rng.uniform(0.0, 180.0)))


def to_batch(crops: list[np.ndarray]) -> torch.Tensor:
    """HxWx3 float crops -> one [N, 3, H, W] float32 tensor."""
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().contiguous()


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
