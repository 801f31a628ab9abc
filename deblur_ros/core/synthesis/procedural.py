"""Procedural "dead leaves" images: a data-free stand-in for sharp photographs.

Dead leaves images (random occluding shapes with a power-law size distribution) share the
statistics that matter for deblurring with natural photos: sharp occlusion edges at every
scale and a roughly 1/f^2 power spectrum. They let training and the demo stream run on a
machine without any photo data set.
"""

from __future__ import annotations

import cv2
import numpy as np

# Exponent of the radius density p(r) ~ r^-alpha. alpha = 3 is the scale-invariant choice;
# less gives large shapes more of the visible area, which looks more like real scenes
# (few big surfaces with detail on top) than confetti.
_ALPHA = 2.5
# Drawn shape area relative to the image area: enough that the background rarely shows.
_COVERAGE = 4.0
_SHIFT = 4  # sub-pixel bits for cv2 drawing, so edges are not snapped to the pixel grid
_SCALE = 1 << _SHIFT


def _sample_radii(n: int, r_min: float, r_max: float, rng: np.random.Generator) -> np.ndarray:
    """Inverse-CDF sampling of the truncated power law."""
    e = 1.0 - _ALPHA
    u = rng.random(n)
    return (r_min**e + u * (r_max**e - r_min**e)) ** (1.0 / e)


def _random_colours(n: int, rng: np.random.Generator) -> np.ndarray:
    """Colours with a spread of saturation, because real scenes are mostly unsaturated."""
    grey = rng.random((n, 1))
    tint = rng.random((n, 3))
    saturation = rng.random((n, 1)) ** 2
    return np.clip(255.0 * ((1.0 - saturation) * grey + saturation * tint), 0, 255)


def _palette_colours(n: int, rng: np.random.Generator) -> np.ndarray:
    """Half the shapes reuse jittered colours from a small per-image palette: real scenes
    repeat a few materials, and fully independent colours look like confetti."""
    palette = _random_colours(int(rng.integers(3, 9)), rng)
    picks = palette[rng.integers(len(palette), size=n)] + rng.normal(0.0, 12.0, (n, 3))
    use_palette = rng.random((n, 1)) < 0.5
    return np.clip(np.where(use_palette, picks, _random_colours(n, rng)), 0, 255)


def _texture(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A gradient, stripe or blotch texture: flat-coloured shapes alone would teach the
    network nothing about restoring fine interior detail."""
    c0, c1 = _random_colours(2, rng)
    kind = rng.integers(3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0.0, np.pi)
    proj = xx * np.cos(angle) + yy * np.sin(angle)
    if kind == 0:  # linear gradient
        t = (proj - proj.min()) / max(float(np.ptp(proj)), 1.0)
    elif kind == 1:  # stripes, from fine to coarse
        period = rng.uniform(3.0, max(4.0, 0.5 * max(h, w)))
        t = 0.5 + 0.5 * np.sin(2.0 * np.pi * proj / period + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.5:
            t = (t > 0.5).astype(np.float32)
    else:  # smooth random blotches
        gh, gw = int(rng.integers(2, 9)), int(rng.integers(2, 9))
        t = cv2.resize(rng.random((gh, gw)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
        t = np.clip(t, 0.0, 1.0)
    t = t[..., None]
    return ((1.0 - t) * c0 + t * c1).astype(np.uint8)


def _polygon(cx: float, cy: float, r: float, rng: np.random.Generator) -> np.ndarray:
    """A random rotated rectangle or triangle, in cv2 fixed-point coordinates."""
    if rng.random() < 0.7:
        aspect = rng.uniform(0.3, 1.0)
        half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)
        half *= [r, r * aspect]
    else:
        ang = np.sort(rng.uniform(0, 2 * np.pi, 3))
        half = r * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    a = rng.uniform(0, np.pi)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = half @ rot.T + [cx, cy]
    return np.round(pts * _SCALE).astype(np.int32)


def dead_leaves(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Render a height x width uint8 RGB dead-leaves image."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    size = min(height, width)
    r_min = max(1.0, 0.008 * size)
    r_max = max(r_min + 1.0, 0.45 * size)
    # Mean area of the truncated power law, to choose how many shapes cover the image.
    e2 = 3.0 - _ALPHA
    mean_r2 = ((_ALPHA - 1.0) / e2) * (r_max**e2 - r_min**e2) / (r_min ** (1 - _ALPHA)
                                                                   - r_max ** (1 - _ALPHA))
    n = int(np.clip(_COVERAGE * height * width / (np.pi * mean_r2), 50, 40000))

    img = _texture(height, width, rng)  # textured background shows through any gaps
    radii = _sample_radii(n, r_min, r_max, rng)
    centres = rng.uniform([-0.05 * width, -0.05 * height], [1.05 * width, 1.05 * height], (n, 2))
    colours = _palette_colours(n, rng)
    kinds = rng.random(n)
    # Only large shapes get textures: small ones would not show them, and they are costly.
    textured = (radii > 0.06 * size) & (rng.random(n) < 0.3)
    for i in range(n):
        cx, cy = centres[i]
        r = radii[i]
        colour = tuple(float(c) for c in colours[i])
        if textured[i]:
            _draw_textured(img, cx, cy, r, kinds[i] < 0.5, rng)
        elif kinds[i] < 0.5:
            cv2.circle(img, (int(cx * _SCALE), int(cy * _SCALE)), int(r * _SCALE), colour,
                       -1, cv2.LINE_AA, _SHIFT)
        else:
            cv2.fillConvexPoly(img, _polygon(cx, cy, r, rng), colour, cv2.LINE_AA, _SHIFT)
    return img


def _draw_textured(img: np.ndarray, cx: float, cy: float, r: float, disc: bool,
                   rng: np.random.Generator) -> None:
    """Paste a texture through a shape-shaped mask, clipped to the image."""
    h, w = img.shape[:2]
    x0, y0 = max(int(cx - r) - 2, 0), max(int(cy - r) - 2, 0)
    x1, y1 = min(int(cx + r) + 3, w), min(int(cy + r) + 3, h)
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    lx, ly = cx - x0, cy - y0
    if disc:
        cv2.circle(mask, (int(lx * _SCALE), int(ly * _SCALE)), int(r * _SCALE), 255, -1,
                   cv2.LINE_AA, _SHIFT)
    else:
        cv2.fillConvexPoly(mask, _polygon(lx, ly, r, rng), 255, cv2.LINE_AA, _SHIFT)
    tex = _texture(y1 - y0, x1 - x0, rng).astype(np.float32)
    alpha = mask.astype(np.float32)[..., None] / 255.0
    region = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (alpha * tex + (1.0 - alpha) * region + 0.5).astype(np.uint8)
