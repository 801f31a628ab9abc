"""Independently moving foreground layers.

Camera shake alone gives blur that is one smooth field over the image; real videos also
have objects moving on their own, with occlusion boundaries where blurred foreground mixes
with a differently blurred background. A video deblurring network has to learn that its
neighbouring frames do not all move alike, so we paste a few moving cut-outs on top.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from .colour import srgb_to_linear
from .procedural import dead_leaves
from .trajectory import Sinusoids, fit_amplitudes

LayerSource = Callable[[np.random.Generator, int, int], np.ndarray]

_PAD = 2  # transparent border, so constant-border warping never smears opaque pixels
_SHIFT = 4
# Objects may move faster than the shaking camera (px per sub-frame at strength 1).
_SPEED_RANGE = (0.3, 1.5)
_X, _Y, _ROT = range(3)


@dataclass
class Layer:
    """A premultiplied linear-light RGBA cut-out and its own smooth path."""

    rgba: np.ndarray  # float32 [h, w, 4], colour already multiplied by alpha
    centre: np.ndarray  # rest position of the cut-out centre in the reference view
    radius: float  # px, converts rotation to image speed
    path: Sinusoids  # components: x, y (px), rotation (px at `radius`)

    def transforms(self, times: np.ndarray) -> np.ndarray:
        """[n, 3, 3] maps from cut-out pixels to reference-view pixels at each time."""
        p = self.path.evaluate(np.asarray(times, np.float64))
        h, w = self.rgba.shape[:2]
        angle = p[:, _ROT] / self.radius
        c, s = np.cos(angle), np.sin(angle)
        lx, ly = (w - 1) / 2.0, (h - 1) / 2.0
        tx = self.centre[0] + p[:, _X] - (c * lx - s * ly)
        ty = self.centre[1] + p[:, _Y] - (s * lx + c * ly)
        out = np.zeros((len(p), 3, 3))
        out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = c, -s, tx
        out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = s, c, ty
        out[:, 2, 2] = 1.0
        return out


def _shape_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Anti-aliased random polygon or ellipse filling most of an h x w box (float32 0..1)."""
    mask = np.zeros((h, w), np.uint8)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    rx, ry = (w - 1) / 2.0 - _PAD, (h - 1) / 2.0 - _PAD
    s = 1 << _SHIFT
    if rng.random() < 0.4:
        cv2.ellipse(mask, (round(cx * s), round(cy * s)), (round(rx * s), round(ry * s)),
                    0.0, 0.0, 360.0, 255, -1, cv2.LINE_AA, _SHIFT)
    else:
        n = int(rng.integers(3, 10))
        ang = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
        rad = rng.uniform(0.55, 1.0, n)
        pts = np.stack([cx + rx * rad * np.cos(ang), cy + ry * rad * np.sin(ang)], axis=1)
        cv2.fillPoly(mask, [np.round(pts * s).astype(np.int32)], 255, cv2.LINE_AA, _SHIFT)
    return mask.astype(np.float32) / np.float32(255.0)


def random_layer(height: int, width: int, rng: np.random.Generator, strength: float,
                 source: LayerSource | None = None) -> Layer:
    """A cut-out sized for a height x width view, moving at strength-scaled speed."""
    size = min(height, width)
    lh = max(8, int(size * rng.uniform(0.25, 0.6))) + 2 * _PAD
    lw = max(8, int(size * rng.uniform(0.25, 0.6))) + 2 * _PAD
    if source is not None and rng.random() < 0.7:
        content = source(rng, lh, lw)
        if content.shape[0] < lh or content.shape[1] < lw:
            content = cv2.resize(content, (lw, lh), interpolation=cv2.INTER_LINEAR)
        content = content[:lh, :lw]
    else:
        content = dead_leaves(lh, lw, rng)
    alpha = _shape_mask(lh, lw, rng)[..., None]
    rgba = np.concatenate([srgb_to_linear(content) * alpha, alpha], axis=2)

    centre = rng.uniform([0.15 * width, 0.15 * height], [0.85 * width, 0.85 * height])
    radius = 0.5 * max(lh, lw)
    comp = np.array([_X, _X, _Y, _Y, _ROT])
    omega = np.exp(rng.uniform(np.log(0.005), np.log(0.06), len(comp)))
    weight = np.array([1.0, 0.5, 1.0, 0.5, 0.3])
    path = Sinusoids(comp, omega, weight / omega, rng.uniform(0, 2 * np.pi, len(comp)), 3)
    speed = strength * rng.uniform(*_SPEED_RANGE)
    # Objects may wander far (even partly out of view), but not leave it for good.
    caps = 0.5 * size * np.sqrt(weight / weight.sum())
    caps[comp == _ROT] = np.minimum(caps[comp == _ROT], 0.5 * radius)
    if speed > 0:
        fit_amplitudes(path, speed, caps)
    else:
        path.amplitude[:] = 0.0
    return Layer(np.ascontiguousarray(rgba, np.float32), centre, radius, path)


def composite(background: np.ndarray, layer: Layer, view: np.ndarray) -> np.ndarray:
    """Paint a layer over a linear-light frame; view maps cut-out pixels to frame pixels."""
    h, w = background.shape[:2]
    warped = cv2.warpPerspective(layer.rgba, view, (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # Premultiplied "over": interpolation at the cut-out edge then mixes colour correctly.
    return warped[..., :3] + background * (1.0 - warped[..., 3:4])
