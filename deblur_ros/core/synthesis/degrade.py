"""Sensor noise and compression, applied to the blurry frames only.

A network trained on clean synthetic blur learns to sharpen noise and JPEG blocking into
false detail on real camera footage. The sharp targets stay clean, so the network learns
to remove these artefacts instead of reproducing them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Degradation:
    """Per-clip camera settings: one camera does not change its sensor between frames."""

    shot: float  # a in var = a * x + b (linear light, x in [0, 1])
    read: float  # b
    jpeg_quality: int

    @staticmethod
    def random(rng: np.random.Generator) -> Degradation:
        # Log-uniform: from a clean daylight sensor to a noisy indoor phone. The read-noise
        # range is low because the sRGB toe amplifies deep shadows 12.9x.
        shot = float(np.exp(rng.uniform(np.log(1e-4), np.log(3e-3))))
        read = float(np.exp(rng.uniform(np.log(1e-7), np.log(1e-5))))
        return Degradation(shot, read, int(rng.integers(60, 96)))


def add_sensor_noise(linear: np.ndarray, shot: float, read: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Poisson-Gaussian noise in the heteroscedastic Gaussian approximation.

    Applied in linear light because that is where photon and read noise live; the later
    gamma encoding then gives the realistic look of noisier shadows.
    """
    std = np.sqrt(shot * np.clip(linear, 0.0, 1.0) + read)
    noisy = linear + std * rng.standard_normal(linear.shape, dtype=np.float32)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32, copy=False)


def jpeg_roundtrip_u8(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode an 8-bit RGB image the way a camera driver would."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def jpeg_roundtrip(srgb: np.ndarray, quality: int) -> np.ndarray:
    """Float [0, 1] version: quantises to 8 bit on the way, as real footage is."""
    u8 = (np.clip(srgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return jpeg_roundtrip_u8(u8, quality).astype(np.float32) / np.float32(255.0)
