"""An endless synthetic shaky-camera video for demos and tests without a camera or data.

Unlike training clips, the stream must be temporally coherent for as long as it runs: the
trajectory is evaluated at ever-increasing sub-frame times (the sinusoidal trajectory
needs no integrator state, so frame k simply continues where frame k-1 stopped). It is
also tuned for speed: 8-bit warps and table lookups instead of float power functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from statistics import NormalDist

import cv2
import numpy as np

from .colour import linear_to_srgb, srgb_u8_to_linear_lut
from .procedural import dead_leaves
from .trajectory import CameraMotion

_TAU = 9  # sub-frames per exposure
_INTERVAL = 12  # sub-frames per frame: shutter open 75 % of the frame time
_SCENE_SCALE = 1.5
# Excursion budget within the scene margin ((1.5 - 1) / 2 = 0.25 of the size): room for slow,
# frame-to-frame coherent sway, which a tighter budget would trade for jitter.
_EXCURSION = 0.2
_LUT_BITS = 12  # linear -> sRGB table resolution: finer than 8-bit output needs
# A moderately good sensor: visible but not dominant noise.
_SHOT, _READ = 6e-4, 2e-6


def _gaussian_byte_lut() -> np.ndarray:
    """Maps uniform bytes to 256 Gaussian quantiles (unit variance).

    Drawing random bytes and looking them up is ~10x faster than generating float normals,
    and 256 levels are indistinguishable from continuous noise once it is quantised to 8 bit.
    """
    q = np.array([NormalDist().inv_cdf((i + 0.5) / 256.0) for i in range(256)], np.float32)
    return (q / q.std()).reshape(1, 256)


def synthetic_shaky_stream(width: int, height: int, seed: int = 0, profile: str = "handheld",
                           strength: float = 1.0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (blurry, sharp) uint8 height x width x 3 RGB frames forever."""
    if width < 8 or height < 8:
        raise ValueError(f"frame size must be at least 8x8, got {width}x{height}")
    rng = np.random.default_rng(seed)
    # Validate eagerly-ish: the generator body only runs on the first next().
    motion = CameraMotion(height, width, rng, profile, strength, max_excursion=_EXCURSION)
    return _frames(motion, width, height, rng)


def _frames(motion: CameraMotion, width: int, height: int,
            rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    sh, sw = int(np.ceil(_SCENE_SCALE * height)), int(np.ceil(_SCENE_SCALE * width))
    scene = dead_leaves(sh, sw, rng)
    to_view = np.array([[1.0, 0.0, -(sw - width) / 2.0], [0.0, 1.0, -(sh - height) / 2.0],
                        [0.0, 0.0, 1.0]])
    to_linear = srgb_u8_to_linear_lut().reshape(1, 256)
    levels = (1 << _LUT_BITS) - 1
    to_srgb8 = np.round(linear_to_srgb(np.arange(levels + 1) / levels) * 255).astype(np.uint8)
    gauss = _gaussian_byte_lut()
    acc = np.empty((height, width, 3), np.float32)
    frame = 0
    while True:
        cams = motion.homographies(frame * _INTERVAL + np.arange(_TAU))
        acc.fill(0.0)
        sharp = None
        for k, cam in enumerate(cams):
            sub = cv2.warpPerspective(scene, cam @ to_view, (width, height),
                                      flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            if k == _TAU // 2:
                sharp = sub
            cv2.accumulate(cv2.LUT(sub, to_linear), acc)  # average in linear light
        mean = acc * np.float32(1.0 / _TAU)
        # Poisson-Gaussian sensor noise in linear light: std = sqrt(a x + b).
        std = cv2.sqrt(mean * np.float32(_SHOT) + np.float32(_READ))
        noise = cv2.LUT(rng.integers(0, 256, mean.shape, dtype=np.uint8), gauss)
        noisy = mean + noise * std
        noisy *= np.float32(levels)
        np.clip(noisy, 0, levels, out=noisy)
        blurry = to_srgb8[(noisy + np.float32(0.5)).astype(np.uint16)]
        frame += 1
        yield blurry, sharp
