"""Temporal consistency: the warping error E_warp of Lai et al. (ECCV 2018).

A video restorer that flickers scores well frame by frame and still ruins a SLAM
front end, so the evaluator reports how well each output frame agrees with its
predecessor warped along the motion. Following Lai et al.:

- optical flow is computed once, on the *input* video, and the same flow and masks
  judge both input and output, so the two figures are comparable;
- frame t is warped to frame t+1 with the backward flow (t+1 -> t);
- pixels are excluded where forward and backward flow disagree (occlusion), on
  motion boundaries (Ruder et al. 2016 thresholds), and where the flow leaves the
  frame (no data to compare with);
- E_warp(t) = sum over valid pixels of the squared RGB difference (images in
  [0, 1]) divided by the number of valid pixels; E_warp of a video is the mean
  over its frame pairs.

The flow is OpenCV's DIS (medium preset) on grey frames, the only dense flow
installable here; FlowNet2, which Lai et al. used, is not. Values computed with
different flows are not comparable: every report names ``FLOW_NAME``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from deblur_ros.core.imaging import to_float01

FLOW_NAME = "opencv-dis-medium"


def _grey_u8(img: np.ndarray) -> np.ndarray:
    a = to_float01(img)
    grey = a if a.ndim == 2 else a[:, :, :3].mean(axis=2)
    return np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _as_float(img: np.ndarray) -> np.ndarray:
    a = to_float01(img)
    return a[:, :, None] if a.ndim == 2 else a


def optical_flow(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Dense flow F with src(p) ~ dst(p + F(p)), HxWx2 (x, y) in pixels."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_grey_u8(src), _grey_u8(dst), None)


def warp(img: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``img`` at p + flow(p) (bilinear); also return where that lands inside."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[:, :, 0], gy + flow[:, :, 1]
    src = img.astype(np.float32)
    out = cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 2 and src.ndim == 3:
        out = out[:, :, None]
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return out, inside


def valid_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Pixels of frame t+1 whose backward flow (t+1 -> t) can be trusted.

    ``backward`` maps t+1 to t, ``forward`` maps t to t+1. Occluded: the round trip
    does not come back (|b + f(p+b)|^2 > 0.01 (|b|^2 + |f(p+b)|^2) + 0.5). Motion
    boundary: |grad b_x|^2 + |grad b_y|^2 > 0.01 |b|^2 + 0.002. Outside: p + b
    leaves the frame.
    """
    fwd_at, inside = warp(forward, backward)
    round_trip = np.sum((backward + fwd_at) ** 2, axis=2)
    magnitudes = np.sum(backward**2, axis=2) + np.sum(fwd_at**2, axis=2)
    occluded = round_trip > 0.01 * magnitudes + 0.5
    grad = np.zeros(backward.shape[:2], np.float32)
    for c in range(2):
        gy, gx = np.gradient(backward[:, :, c])
        grad += gx**2 + gy**2
    boundary = grad > 0.01 * np.sum(backward**2, axis=2) + 0.002
    return inside & ~occluded & ~boundary


@dataclass
class FlowPair:
    """Flow and mask for one frame pair of the input video, reused for every output."""

    backward: np.ndarray  # t+1 -> t
    mask: np.ndarray  # HxW bool, valid pixels of frame t+1


def input_flows(frames: Sequence[np.ndarray]) -> list[FlowPair]:
    pairs = []
    for prev, cur in zip(frames[:-1], frames[1:]):
        backward = optical_flow(cur, prev)
        forward = optical_flow(prev, cur)
        pairs.append(FlowPair(backward, valid_mask(backward, forward)))
    return pairs


def pair_error(prev: np.ndarray, cur: np.ndarray, pair: FlowPair) -> float:
    """Squared RGB difference between ``cur`` and ``prev`` warped onto it, over valid pixels."""
    warped, _ = warp(_as_float(prev), pair.backward)
    diff = np.sum((_as_float(cur) - warped) ** 2, axis=2)
    n = int(pair.mask.sum())
    return float(diff[pair.mask].sum() / n) if n else float("nan")


def warping_error(frames: Sequence[np.ndarray], flows: Sequence[FlowPair]) -> float:
    """E_warp of a video (mean over its frame pairs); NaN for fewer than two frames."""
    if len(frames) != len(flows) + 1:
        raise ValueError(f"{len(frames)} frames need {len(frames) - 1} flows, got {len(flows)}")
    errors = [pair_error(a, b, f) for a, b, f in zip(frames[:-1], frames[1:], flows)]
    errors = [e for e in errors if np.isfinite(e)]
    return float(np.mean(errors)) if errors else float("nan")
