"""Real-motion training clips: exposures centred on their targets, held-out clips never
read, and footage too short or missing refused with a reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deblur_ros.core.synthesis.colour import linear_to_srgb, srgb_u8_to_linear_lut
from deblur_ros.core.synthesis.real_motion import (
    RealMotionSpec,
    footage_paths,
    load_footage,
    render_real_clip,
)


def _moving_bar_footage(count: int = 33, size: int = 64) -> np.ndarray:
    """Linear-light frames of a bright vertical bar moving 1 px per high-speed frame."""
    frames = np.full((count, size, size, 3), 0.05, np.float32)
    for i in range(count):
        frames[i, :, 10 + i:13 + i] = 0.8
    return frames.astype(np.float16)


def _clean(**kw) -> RealMotionSpec:
    kw.setdefault("still_prob", 0.0)
    return RealMotionSpec(n_frames=3, height=64, width=64, zoom=(1.0, 1.0), noise_prob=0.0,
                          jpeg_prob=0.0, **kw)


def _centroid_x(srgb: np.ndarray) -> float:
    lum = np.asarray(srgb_u8_to_linear_lut()[(srgb * 255 + 0.5).astype(np.uint8)]).mean(-1)
    weights = np.clip(lum - 0.06, 0.0, None).sum(0)
    return float((weights * np.arange(weights.size)).sum() / weights.sum())


def test_every_blurry_frame_is_centred_on_its_target_and_streaks_follow_tau():
    footage = _moving_bar_footage()
    rng = np.random.default_rng(0)
    for _ in range(20):
        blurry, sharp, info = render_real_clip(footage, _clean(tau=(3, 15)), rng)
        assert all(t % 2 == 1 and 3 <= t <= 15 for t in info["taus"])
        for b, s, tau in zip(blurry, sharp, info["taus"], strict=True):
            # Quarter turns move the bar to rows, so measure along the bar's normal.
            axis = 1 if np.ptp(s.mean(axis=(0, 2))) > np.ptp(s.mean(axis=(1, 2))) else 0
            b_, s_ = (b, s) if axis == 1 else (b.transpose(1, 0, 2), s.transpose(1, 0, 2))
            assert abs(_centroid_x(b_) - _centroid_x(s_)) < 0.3
            lit = (b_.mean(axis=(0, 2)) > linear_to_srgb(np.float32(0.06))).sum()
            assert lit == pytest.approx(tau + 2, abs=1)  # bar width 3 smeared over tau


def test_tau_one_gives_the_target_itself_and_draws_are_reproducible():
    footage = _moving_bar_footage()
    blurry, sharp, _ = render_real_clip(footage, _clean(tau=(1, 1), tau_jitter=0),
                                        np.random.default_rng(3))
    np.testing.assert_allclose(blurry, sharp, atol=1e-6)
    rng = np.random.default_rng(5)
    stills = sum(render_real_clip(footage, _clean(still_prob=0.3), rng)[2]["taus"] == [1, 1, 1]
                 for _ in range(300))
    assert 60 <= stills <= 120  # the still share, drawn per clip
    a = render_real_clip(footage, RealMotionSpec(n_frames=4, height=32, width=32),
                         np.random.default_rng(7))
    b = render_real_clip(footage, RealMotionSpec(n_frames=4, height=32, width=32),
                         np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[0].shape == (4, 32, 32, 3) and a[0].dtype == np.float32


def test_channel_shuffle_permutes_blurry_and_sharp_alike_and_keeps_old_draws():
    # Distinct channel levels (red bright, blue dark) show the order the clip got.
    footage = _moving_bar_footage() * np.array([1.0, 0.5, 0.2], np.float16)
    orders = []
    for seed in range(60):
        blurry, sharp, info = render_real_clip(footage, _clean(channel_shuffle=0.5),
                                               np.random.default_rng(seed))
        order = np.argsort(-sharp.mean(axis=(0, 1, 2)))  # brightest channel first
        np.testing.assert_array_equal(order, np.argsort(-blurry.mean(axis=(0, 1, 2))))
        np.testing.assert_array_equal(order, np.argsort(info["channels"]))
        orders.append(tuple(order))
    assert 15 <= sum(o != (0, 1, 2) for o in orders) <= 45  # about half the clips
    assert len(set(orders)) >= 4  # and not always the same other order
    # 0 draws nothing extra: the clips of runs from before the option are unchanged.
    a = render_real_clip(footage, _clean(), np.random.default_rng(1))
    b = render_real_clip(footage, _clean(channel_shuffle=0.0), np.random.default_rng(1))
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="channel_shuffle"):
        _clean(channel_shuffle=1.5).validate()


def test_held_out_clips_are_never_listed_and_short_footage_is_refused(tmp_path):
    for name in ("TEST01_a", "TEST02_b", "TEST03_c"):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(9):
            img = np.zeros((20, 40, 3), np.uint8)
            img[:, 2 * i:2 * i + 4] = 200
            cv2.imwrite(str(folder / f"{i:06d}.png"), img)
    kept = footage_paths(tmp_path, ["TEST02"])
    assert [p.name for p in kept] == ["TEST01_a", "TEST03_c"]
    frames = load_footage(kept[0], width=20)
    assert frames.shape == (9, 10, 20, 3) and frames.dtype == np.float16
    with pytest.raises(ValueError, match="no high-frame-rate clips left"):
        footage_paths(tmp_path, ["TEST"])
    with pytest.raises(ValueError, match="does not exist"):
        footage_paths(tmp_path / "nosuch")
    with pytest.raises(ValueError, match="too short"):
        render_real_clip(frames, RealMotionSpec(n_frames=6, height=8, width=8, tau=(7, 9)),
                         np.random.default_rng(0))
    with pytest.raises(ValueError, match="tau range"):
        RealMotionSpec(tau=(4, 9)).validate()
