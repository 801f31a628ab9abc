"""Image quality figures, always reported beside the blurry input's own.

Images are float arrays in [0, 1] (HxW or HxWxC); PSNR and SSIM are over all
channels with peak 1. SSIM follows Wang et al. 2004 (11x11 Gaussian window,
sigma 1.5, K1 0.01, K2 0.03), averaged over channels.
"""

from __future__ import annotations

import cv2
import numpy as np

from deblur_ros.core.imaging import to_float01
from deblur_ros.core.sharpness import variance_of_laplacian


def psnr(img: np.ndarray, ref: np.ndarray) -> float:
    a, b = _float64(img), _float64(ref)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def ssim(img: np.ndarray, ref: np.ndarray) -> float:
    a, b = _float64(img), _float64(ref)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.ndim == 2:
        a, b = a[:, :, None], b[:, :, None]
    c1, c2 = 0.01**2, 0.03**2
    scores = []
    for ch in range(a.shape[2]):
        x, y = a[:, :, ch], b[:, :, ch]

        def blur(z: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

        mx, my = blur(x), blur(y)
        sxx = blur(x * x) - mx * mx
        syy = blur(y * y) - my * my
        sxy = blur(x * y) - mx * my
        num = (2 * mx * my + c1) * (2 * sxy + c2)
        den = (mx * mx + my * my + c1) * (sxx + syy + c2)
        scores.append(float(np.mean(num / den)))
    return float(np.mean(scores))


def sharpness(img: np.ndarray) -> float:
    """Variance of the Laplacian on a 0..255 scale: the same measure that picks the scene
    model's training frames (:func:`deblur_ros.core.sharpness.variance_of_laplacian`)."""
    return variance_of_laplacian(img)


def _float64(img: np.ndarray) -> np.ndarray:
    return to_float01(img, np.float64)
