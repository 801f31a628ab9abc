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
    c = size // 2
    n = max(1, math.ceil(length * _SAMPLES_PER_PX / 2.0))
    # Offsets along the streak from -length/2 to +length/2, symmetric about 0.
    s = (np.arange(n) + 0.5) / n * (length / 2.0)
    s = np.concatenate([-s[::-1], s]) if length > 0 else np.zeros(1)
    theta = math.radians(angle_deg)
    return _splat(c + s * math.cos(theta), c - s * math.sin(theta), size)


def shake_motion_kernel(length: float, angle_deg: float,
                        bends: tuple[tuple[float, float, float], ...] = (),
                        size: int | None = None) -> np.ndarray:
    """A streak bent by hand tremor, still symmetric about the kernel's centre.

    Real hand-held exposures are seldom straight: tremor adds wiggles of a pixel or more
    across the streak, and a scene model fitted to straight kernels alone did not learn
    to undo them (MODELS.md: a validation drive with an S-bent streak of ~1 px gained
    +1.3 dB at 6-12 px, +3.1 dB on the same frames rendered straight). Each bend
    ``(amplitude px, omega rad per exposure, direction deg)`` adds
    ``amplitude * sin(omega * (t - 1/2))`` along ``direction`` at time t in [0, 1]: an odd
    function of the exposure's middle, so the path is point-symmetric, the kernel equals
    itself turned by 180 degrees and the sharp target stays the middle sub-frame.
    """
    if not math.isfinite(length) or length < 0:
        raise ValueError(f"kernel length must be a finite number >= 0 px (got {length})")
    reach = length / 2.0 + sum(abs(a) for a, _, _ in bends)
    size = kernel_size(2.0 * reach) if size is None else int(size)
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and positive (got {size})")
    if reach + 1.0 > size // 2:
        raise ValueError(f"a path reaching {reach:.1f} px does not fit a {size}x{size} kernel")
    c = size // 2
    n = max(1, math.ceil(2.0 * reach * _SAMPLES_PER_PX / 2.0))
    t = (np.arange(n) + 0.5) / n * 0.5  # time after the middle, symmetric pairs below
    t = np.concatenate([-t[::-1], t]) if reach > 0 else np.zeros(1)
    theta = math.radians(angle_deg)
    xs = c + t * length * math.cos(theta)
    ys = c - t * length * math.sin(theta)
    for amplitude, omega, direction in bends:
        phi = math.radians(direction)
        offset = amplitude * np.sin(omega * t)
        xs = xs + offset * math.cos(phi)
        ys = ys - offset * math.sin(phi)
    return _splat(xs, ys, size)


def _splat(xs: np.ndarray, ys: np.ndarray, size: int) -> np.ndarray:
    """Path points (mirrored pairs about the centre) splatted bilinearly into a normalised
    size x size kernel, averaged with its 180-degree turn for exact symmetry despite
    rounding."""
    kernel = np.zeros((size, size), np.float64)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                      (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (y0 + dy, x0 + dx), w)
    kernel = (kernel + kernel[::-1, ::-1]) / 2.0
    return (kernel / kernel.sum()).astype(np.float32)


def random_shake_kernel(rng: np.random.Generator, length: float) -> np.ndarray:
    """A streak of ``length`` px at a random angle with one or two random tremor bends,
    each up to a fifth of the length across or along the streak, 3-15 rad per exposure
    (from a slow arc to two wiggles)."""
    angle = float(rng.uniform(0.0, 180.0))
    bends = tuple((float(rng.uniform(0.0, 0.2) * length), float(rng.uniform(3.0, 15.0)),
                   float(rng.uniform(0.0, 180.0)))
                  for _ in range(int(rng.integers(1, 3))))
    return shake_motion_kernel(length, angle, bends)


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
