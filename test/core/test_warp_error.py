"""E_warp against cases that can be worked out by hand."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deblur_ros.core.scoring.warp_error import (
    FlowPair,
    input_flows,
    optical_flow,
    valid_mask,
    warp,
    warping_error,
)


def texture(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """Smooth random colour texture, in [0, 1]: flow can lock onto it everywhere."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    img -= img.min()
    return img / img.max()


def moving_clip(shift: tuple[int, int], frames: int = 3) -> list[np.ndarray]:
    """Frames of one big texture seen through a window that moves by ``-shift`` per
    frame, so the content moves by ``shift`` = (dx, dy) pixels per frame."""
    big = texture(200, 240, seed=1)
    dx, dy = shift
    out = []
    for t in range(frames):
        y0, x0 = 40 - t * dy, 40 - t * dx
        out.append(big[y0:y0 + 120, x0:x0 + 160].copy())
    return out


def test_warp_with_a_known_flow_samples_the_shifted_pixel():
    img = texture()
    flow = np.zeros((120, 160, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2.0, 1.0
    warped, inside = warp(img, flow)
    np.testing.assert_allclose(warped[:-1, :-2], img[1:, 2:], atol=1e-6)
    assert inside[:-1, :-2].all() and not inside[:, -2:].any() and not inside[-1:].any()


def test_flow_recovers_a_known_shift():
    prev, cur = moving_clip((3, -2), frames=2)
    backward = optical_flow(cur, prev)  # cur(p) = prev(p + b) with b = -shift
    inner = backward[20:-20, 20:-20]
    assert np.median(inner[..., 0]) == pytest.approx(-3.0, abs=0.2)
    assert np.median(inner[..., 1]) == pytest.approx(2.0, abs=0.2)


def test_identical_frames_have_zero_error():
    frame = texture()
    clip = [frame, frame.copy(), frame.copy()]
    assert warping_error(clip, input_flows(clip)) == pytest.approx(0.0, abs=1e-10)


def test_pure_camera_motion_is_consistent_and_the_entering_border_is_masked():
    clip = moving_clip((3, -2))
    flows = input_flows(clip)
    # content moves right by 3: the 3 left columns of frame t+1 are new, not in frame t
    assert not flows[0].mask[:, :2].any()
    assert flows[0].mask[10:-10, 10:-10].mean() > 0.95
    assert warping_error(clip, flows) < 1e-3


def test_flicker_on_a_static_scene_gives_three_delta_squared():
    """Static input: zero flow, every pixel valid. An output whose brightness alternates
    by delta has E_warp = 3 channels x delta^2 exactly."""
    frame = 0.2 + 0.6 * texture()
    clip = [frame] * 4
    flows = input_flows(clip)
    delta = 0.1
    flicker = [frame + (delta if t % 2 else 0.0) for t in range(4)]
    assert warping_error(flicker, flows) == pytest.approx(3 * delta**2, rel=1e-4)
    assert warping_error(clip, flows) == pytest.approx(0.0, abs=1e-10)


def test_inconsistent_forward_and_backward_flow_is_occlusion():
    h, w = 40, 50
    backward = np.zeros((h, w, 2), np.float32)
    backward[..., 0] = 2.0
    consistent = -backward
    mask = valid_mask(backward, consistent)
    assert mask[:, : w - 3].all() and not mask[:, w - 2:].any()
    assert not valid_mask(backward, backward).any()  # the round trip misses by 4 px


def test_frame_and_flow_counts_must_agree():
    frame = texture()
    with pytest.raises(ValueError, match="3 frames need 2 flows"):
        warping_error([frame] * 3, [FlowPair(np.zeros((120, 160, 2), np.float32),
                                             np.ones((120, 160), bool))])
    assert np.isnan(warping_error([frame], []))
