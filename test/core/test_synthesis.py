"""Behaviour of the blur-synthesis layer (no ROS, no data files required except where noted)."""

from __future__ import annotations

import hashlib
import itertools
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from deblur_ros.core.synthesis import dataset as dataset_module
from deblur_ros.core.synthesis.colour import linear_to_srgb, srgb_to_linear
from deblur_ros.core.synthesis.dataset import ClipDataset
from deblur_ros.core.synthesis.photos import TRAIN_SETS, VAL_SETS, PhotoPool, default_photo_root
from deblur_ros.core.synthesis.procedural import dead_leaves
from deblur_ros.core.synthesis.render import (
    ClipSpec,
    render_clip,
    render_clip_with_info,
    render_validation_set,
)
from deblur_ros.core.synthesis.shaky_camera import synthetic_shaky_stream
from deblur_ros.core.synthesis.trajectory import PROFILES, camera_homographies


def _photo(seed: int = 0, size: int = 96) -> np.ndarray:
    return dead_leaves(size, size, np.random.default_rng(seed))


def _sharpness(frames: np.ndarray) -> float:
    """Mean variance of the Laplacian: drops as images get blurrier."""
    values = []
    for f in frames:
        grey = cv2.cvtColor(np.ascontiguousarray(f, np.float32), cv2.COLOR_RGB2GRAY)
        values.append(cv2.Laplacian(grey, cv2.CV_32F).var())
    return float(np.mean(values))


def _clean_spec(**kw) -> ClipSpec:
    """Small clips without degradations, so blur is the only difference to the targets."""
    base = dict(n_frames=3, height=64, width=64, noise=False, jpeg=False)
    base.update(kw)
    return ClipSpec(**base)


# --- colour -------------------------------------------------------------------------------


def test_srgb_known_values():
    lin = srgb_to_linear(np.array([0.0, 0.5, 1.0], np.float32))
    assert lin.dtype == np.float32
    np.testing.assert_allclose(lin, [0.0, 0.2140, 1.0], atol=2e-4)
    np.testing.assert_allclose(linear_to_srgb(np.array([0.0, 0.2140, 1.0])), [0, 0.5, 1], atol=2e-4)
    # Both branches of the piecewise curve (toe below 0.04045) are used.
    assert srgb_to_linear(np.array([0.02]))[0] == pytest.approx(0.02 / 12.92, rel=1e-5)


def test_srgb_round_trip_and_uint8_input():
    x = np.linspace(0.0, 1.0, 1001, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5)
    np.testing.assert_allclose(srgb_to_linear(np.array([0, 128, 255], np.uint8)),
                               srgb_to_linear(np.array([0, 128, 255]) / 255.0), atol=1e-6)


def test_blur_is_averaged_in_linear_light():
    # A black/white checkerboard has mean 0.5 in linear light. Averaging sub-frames in
    # linear light conserves that (blur moves light around, it does not create or destroy
    # it), which makes the blurred sRGB values brighter than the gamma-space mean of the
    # sub-frames; naive sRGB averaging would leave the sRGB mean where the sub-frames' is.
    yy, xx = np.mgrid[0:192, 0:192]
    board = ((yy // 6 + xx // 6) % 2 * 255).astype(np.uint8)
    photo = np.repeat(board[..., None], 3, axis=2)
    spec = _clean_spec(taus=(15,), strength=1.5, max_layers=0, height=96, width=96)
    blurry, sharp = render_clip(photo, spec, np.random.default_rng(0))
    assert float(srgb_to_linear(sharp).mean()) == pytest.approx(0.5, abs=0.01)
    assert float(srgb_to_linear(blurry).mean()) == pytest.approx(0.5, abs=0.01)
    assert float(blurry.mean()) > float(sharp.mean()) + 0.08
    # An edge blurred half-way is the sRGB encoding of 50 % light, not 50 % grey.
    assert float(np.median(blurry)) > 0.6


# --- trajectories -------------------------------------------------------------------------


def _mean_step_px(H: np.ndarray, height: int, width: int) -> float:
    """Mean displacement of a 3x3 grid of image points between consecutive sub-frames."""
    xs, ys = np.meshgrid([0, width / 2, width - 1], [0, height / 2, height - 1])
    pts = np.stack([xs.ravel(), ys.ravel(), np.ones(9)])
    q = H @ pts
    q = q[:, :2] / q[:, 2:]
    return float(np.linalg.norm(np.diff(q, axis=0), axis=1).mean())


@pytest.mark.parametrize("profile", PROFILES)
def test_homographies_start_at_identity_with_plausible_speed(profile):
    steps = []
    for seed in range(8):
        H = camera_homographies(200, 128, 128, np.random.default_rng(seed), profile)
        assert H.shape == (200, 3, 3) and H.dtype == np.float64
        np.testing.assert_allclose(H[0], np.eye(3), atol=1e-9)
        steps.append(_mean_step_px(H, 128, 128))
    # ~0.3-1 px per sub-frame, so tau = 7..15 sub-frames blur by a few to ~30 px.
    assert 0.2 < np.mean(steps) < 1.5


def test_strength_scales_motion_and_zero_is_identity():
    H0 = camera_homographies(50, 64, 64, np.random.default_rng(1), "walking", strength=0.0)
    np.testing.assert_allclose(H0, np.broadcast_to(np.eye(3), H0.shape), atol=1e-12)
    slow = camera_homographies(100, 64, 64, np.random.default_rng(1), "handheld", 0.5)
    fast = camera_homographies(100, 64, 64, np.random.default_rng(1), "handheld", 1.0)
    ratio = _mean_step_px(fast, 64, 64) / _mean_step_px(slow, 64, 64)
    assert 1.6 < ratio < 2.4


def test_unknown_profile_raises_with_valid_names():
    rng = np.random.default_rng(0)
    attempts = [
        lambda: camera_homographies(5, 32, 32, rng, "jetpack"),
        lambda: render_clip(_photo(), _clean_spec(profile="jetpack"), rng),
        lambda: synthetic_shaky_stream(64, 48, profile="jetpack"),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError) as err:
            attempt()
        assert "jetpack" in str(err.value)
        assert all(name in str(err.value) for name in PROFILES)


# --- clips ---------------------------------------------------------------------------------


def test_clip_shapes_dtypes_and_ranges():
    spec = ClipSpec(n_frames=4, height=48, width=80)  # noise, JPEG and layers on
    blurry, sharp = render_clip(_photo(size=128), spec, np.random.default_rng(3),
                                layer_source=lambda r, h, w: dead_leaves(h, w, r))
    for clip in (blurry, sharp):
        assert clip.shape == (4, 48, 80, 3)
        assert clip.dtype == np.float32
        assert np.isfinite(clip).all() and clip.min() >= 0.0 and clip.max() <= 1.0


def test_small_photo_is_upscaled():
    blurry, sharp = render_clip(_photo(size=40), _clean_spec(), np.random.default_rng(0))
    assert blurry.shape == sharp.shape == (3, 64, 64, 3)


def test_zero_strength_gives_blurry_equal_to_sharp():
    spec = _clean_spec(strength=0.0, max_layers=2)
    blurry, sharp, info = render_clip_with_info(_photo(), spec, np.random.default_rng(4))
    assert info.n_layers > 0  # moving layers stand still too
    assert np.abs(blurry - sharp).max() < 1e-4
    assert sharp.std() > 0.05  # not trivially equal because the frames are blank


def test_degradations_touch_only_blurry_frames():
    photo, spec = _photo(), _clean_spec(strength=0.0)
    _, clean_sharp = render_clip(photo, spec, np.random.default_rng(2))
    spec_dirty = _clean_spec(strength=0.0, noise=True, jpeg=True)
    blurry, sharp = render_clip(photo, spec_dirty, np.random.default_rng(2))
    np.testing.assert_array_equal(sharp, clean_sharp)
    assert np.abs(blurry - sharp).mean() > 1e-3


def test_blur_grows_with_strength():
    photo = _photo(seed=7, size=128)
    results = {}
    for strength in (0.3, 1.5):
        spec = _clean_spec(taus=(13,), strength=strength, profile="handheld", max_layers=0,
                           n_frames=4, height=80, width=80)
        results[strength] = render_clip(photo, spec, np.random.default_rng(11))
    weak_blurry, weak_sharp = results[0.3]
    strong_blurry, strong_sharp = results[1.5]
    assert _sharpness(strong_blurry) < 0.7 * _sharpness(strong_sharp)
    assert _sharpness(strong_blurry) < 0.8 * _sharpness(weak_blurry)


def test_render_is_deterministic_given_seed():
    spec = ClipSpec(n_frames=3, height=48, width=48)
    a = render_clip(_photo(), spec, np.random.default_rng(9))
    b = render_clip(_photo(), spec, np.random.default_rng(9))
    c = render_clip(_photo(), spec, np.random.default_rng(10))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_validation_set_is_deterministic_and_complete():
    photos = [_photo(0, 64), _photo(1, 64)]
    kw = dict(levels=(0.3, 1.2), n_frames=2, height=48, width=48)
    first = render_validation_set(photos, seed=4, **kw)
    second = render_validation_set(photos, seed=4, **kw)
    assert len(first) == 4
    assert [(c["photo_index"], c["level"]) for c in first] == list(
        itertools.product(range(2), (0.3, 1.2)))
    for c1, c2 in zip(first, second, strict=True):
        assert set(c1) == {"blurry", "sharp", "level", "tau", "profile", "photo_index"}
        assert c1["blurry"].shape == (2, 48, 48, 3)
        assert c1["tau"] in ClipSpec().taus and c1["profile"] in PROFILES
        np.testing.assert_array_equal(c1["blurry"], c2["blurry"])
        assert (c1["tau"], c1["profile"]) == (c2["tau"], c2["profile"])


# --- photos ---------------------------------------------------------------------------------


def test_dead_leaves_image():
    img = dead_leaves(60, 90, np.random.default_rng(0))
    assert img.shape == (60, 90, 3) and img.dtype == np.uint8
    assert img.std() > 20  # not flat
    np.testing.assert_array_equal(img, dead_leaves(60, 90, np.random.default_rng(0)))


def test_pool_without_root_is_procedural():
    pool = PhotoPool(None, TRAIN_SETS)
    assert len(pool) == 0
    img = pool.sample(np.random.default_rng(0), 50, 70)
    assert img.shape[0] >= 50 and img.shape[1] >= 70 and img.shape[2] == 3
    assert img.dtype == np.uint8 and img.std() > 10


def test_pool_reads_rgb_crops_and_upscales_small_photos(tmp_path):
    (tmp_path / "reds").mkdir()
    red = np.zeros((40, 50, 3), np.uint8)
    red[..., 0] = 200  # RGB red
    cv2.imwrite(str(tmp_path / "reds" / "a.png"), cv2.cvtColor(red, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "reds" / "tiny.png"), np.zeros((8, 8, 3), np.uint8))
    pool = PhotoPool(tmp_path, ["reds", "missing"], min_size=16)
    assert len(pool) == 2
    for seed in range(20):  # the tiny photo is skipped, never returned
        img = pool.sample(np.random.default_rng(seed), 100, 120)
        assert img.shape[0] >= 100 and img.shape[1] >= 120 and img.dtype == np.uint8
        assert img[..., 0].mean() > 190 and img[..., 1:].max() < 10


def test_pool_warns_when_root_has_no_photos(tmp_path):
    with pytest.warns(UserWarning, match="procedural"):
        pool = PhotoPool(tmp_path, VAL_SETS)
    assert pool.sample(np.random.default_rng(0), 16, 16).shape == (16, 16, 3)


def test_train_and_validation_photos_are_disjoint():
    root = default_photo_root()
    if root is None:
        pytest.skip("no sharp photo folder (set DEBLUR_ROS_PHOTOS or provide "
                    "../shared/data/sharp_photos)")
    assert not set(TRAIN_SETS) & set(VAL_SETS)
    train, val = PhotoPool(root, TRAIN_SETS), PhotoPool(root, VAL_SETS)
    if len(train) == 0 or len(val) == 0:
        pytest.skip(f"photo folder {root} lacks the train or validation sets")
    assert {p.parent.name for p in train.paths} <= set(TRAIN_SETS)
    assert {p.parent.name for p in val.paths} <= set(VAL_SETS)

    def digests(pool):
        return {hashlib.sha1(p.read_bytes()).hexdigest() for p in pool.paths}

    assert not digests(train) & digests(val)
    img = train.sample(np.random.default_rng(0), 96, 96)
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8


# --- dataset --------------------------------------------------------------------------------


def _first_clip(ds: ClipDataset, worker_id: int, monkeypatch) -> tuple[torch.Tensor, ...]:
    monkeypatch.setattr(dataset_module, "get_worker_info",
                        lambda: SimpleNamespace(id=worker_id))
    return next(iter(ds))


def test_dataset_yields_tensors_and_workers_differ(monkeypatch):
    ds = ClipDataset(PhotoPool(None, TRAIN_SETS), ClipSpec(n_frames=2, height=32, width=40),
                     seed=1)
    blurry, sharp = _first_clip(ds, 0, monkeypatch)
    assert blurry.shape == sharp.shape == (2, 3, 32, 40)
    assert blurry.dtype == sharp.dtype == torch.float32
    again, _ = _first_clip(ds, 0, monkeypatch)
    other, _ = _first_clip(ds, 1, monkeypatch)
    assert torch.equal(blurry, again)  # reproducible per (seed, worker)
    assert not torch.equal(blurry, other)  # workers render different clips


@pytest.mark.skipif(sys.platform != "linux", reason="relies on fork-started workers")
def test_dataloader_workers_differ():
    ds = ClipDataset(PhotoPool(None, TRAIN_SETS), ClipSpec(n_frames=2, height=24, width=24),
                     seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=1, num_workers=2)
    batches = list(itertools.islice(loader, 2))  # round robin: one from each worker
    assert not torch.equal(batches[0][0], batches[1][0])


# --- stream ---------------------------------------------------------------------------------


def test_stream_shapes_and_temporal_coherence():
    stream = synthetic_shaky_stream(320, 240, seed=3, profile="handheld")
    frames = list(itertools.islice(stream, 36))
    for blurry, sharp in frames[:2]:
        assert blurry.shape == sharp.shape == (240, 320, 3)
        assert blurry.dtype == sharp.dtype == np.uint8
    # Like a video, consecutive frames show nearly the same view; far-apart frames less so.
    # (Smoothed first, so the comparison is about the view, not about fine texture.)
    sharp = np.stack([cv2.GaussianBlur(s.astype(np.float32), (0, 0), 3) for _, s in frames])
    near = np.abs(sharp[1:] - sharp[:-1]).mean()
    far = np.abs(sharp[15:] - sharp[:-15]).mean()
    assert near < 0.6 * far
    assert np.abs(np.diff(sharp, axis=0)).mean(axis=(1, 2, 3)).min() > 0  # it does move


def test_stream_without_motion_is_static_and_noisy():
    stream = synthetic_shaky_stream(64, 48, seed=0, strength=0.0)
    (b0, s0), (b1, s1) = next(stream), next(stream)
    np.testing.assert_array_equal(s0, s1)
    assert not np.array_equal(b0, b1)  # fresh sensor noise every frame
    assert np.abs(b0.astype(np.float32) - s0).mean() < 6
