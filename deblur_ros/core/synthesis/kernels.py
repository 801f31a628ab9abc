"""Linear motion-blur kernels for the scene model, as Ren, Qian and Chen make them.

Over one exposure a camera's blur is close to a straight streak. The kernel is
**symmetric**: the streak's middle is the kernel's centre, because the sharp target is the
frame at the middle of the exposure (the paper measured lower warping error and fewer
artefacts than with asymmetric or simulated kernels). The streak is rasterised with
sub-pixel accuracy so that lengths and angles between pixels give distinct kernels, and
blur is applied in linear light (undo the sRGB curve, convolve, redo it), since photons,
not gamma-encoded values, add up during an exposure.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .colour import linear_to_srgb, srgb_to_linear
from .degrade import add_sensor_noise

_SAMPLES_PER_PX = 8


def kernel_size(length: float) -> int:
    """Odd side that holds a streak of ``length`` px at any angle with a bilinear border."""
    return 2 * math.ceil(length / 2.0 + 1.0) + 1


def linear_motion_kernel(length: float, angle_deg: float, size: int | None = None) -> np.ndarray:
    """A normalised float32 kernel of a straight streak centred on the kernel's centre.

    ``length`` is the streak in pixels (0: a delta), ``angle_deg`` its direction
    (counter-clockwise from +x, image rows growing downwards). Points spaced 1/8 px along
    the streak are splatted bilinearly, in pairs mirrored about the centre, so the kernel
    equals itself rotated by 180 degrees up to rounding.
    """
    if not math.isfinite(length) or length < 0:
        raise ValueError(f"kernel length must be a finite number >= 0 px (got {length})")
    size = kernel_size(length) if size is None else int(size)
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and positive (got {size})")
    if length / 2.0 + 1.0 > size // 2:
        raise ValueError(f"a {length:.1f} px streak does not fit a {size}x{size} kernel")
    kernel = np.zeros((size, size), np.float64)
    c = size // 2
    n = max(1, math.ceil(length * _SAMPLES_PER_PX / 2.0))
    # Offsets along the streak from -length/2 to +length/2, symmetric about 0.
    s = (np.arange(n) + 0.5) / n * (length / 2.0)
    s = np.concatenate([-s[::-1], s]) if length > 0 else np.zeros(1)
    theta = math.radians(angle_deg)
    xs = c + s * math.cos(theta)
    ys = c - s * math.sin(theta)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                      (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (y0 + dy, x0 + dx), w)
    kernel = (kernel + kernel[::-1, ::-1]) / 2.0  # exact symmetry despite rounding
    return (kernel / kernel.sum()).astype(np.float32)


def random_kernel(rng: np.random.Generator, max_length: float) -> tuple[np.ndarray, float, float]:
    """A kernel with length uniform in (0, max_length) and angle uniform in [0, 180)."""
    length = float(rng.uniform(0.0, max_length))
    angle = float(rng.uniform(0.0, 180.0))
    return linear_motion_kernel(length, angle), length, angle


def blur_linear_light(srgb: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Blur a float sRGB image in [0, 1] (HxW or HxWxC) by ``kernel`` in linear light.

    OpenCV's filter2D correlates; for these symmetric kernels that is the convolution.
    Borders are mirrored, as a crop of a larger frame would continue.
    """
    linear = srgb_to_linear(srgb)
    blurred = cv2.filter2D(linear, -1, kernel, borderType=cv2.BORDER_REFLECT)
    return linear_to_srgb(blurred)


def blur_with_noise(srgb: np.ndarray, kernel: np.ndarray, rng: np.random.Generator,
                    shot: float = 0.0, read: float = 0.0) -> np.ndarray:
    """:func:`blur_linear_light` plus Poisson-Gaussian sensor noise after the blur.

    Noise comes after the blur (a sensor adds it to the collected light), which is the
    order a network must learn to undo; the training issue measured it among the
    degradations that matter most for real footage.
    """
    linear = cv2.filter2D(srgb_to_linear(srgb), -1, kernel, borderType=cv2.BORDER_REFLECT)
    if shot > 0 or read > 0:
        linear = add_sensor_noise(linear, shot, read, rng)
    return linear_to_srgb(linear)
