"""The scene path's pieces: sharpness selection, linear kernels, linear-light blur, the
U-Net and its checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deblur_ros.core.models.checkpoint import CheckpointError, load_model, save_checkpoint
from deblur_ros.core.models.unet import UNet, UNetConfig
from deblur_ros.core.sharpness import SharpFrameSelector, select_sharpest, variance_of_laplacian
from deblur_ros.core.synthesis.colour import linear_to_srgb, srgb_to_linear
from deblur_ros.core.synthesis.kernels import (
    blur_linear_light,
    kernel_size,
    linear_motion_kernel,
    random_shake_kernel,
    shake_motion_kernel,
)
from deblur_ros.core.synthesis.procedural import dead_leaves


def _scene(seed: int = 0, h: int = 96, w: int = 128) -> np.ndarray:
    return dead_leaves(h, w, np.random.default_rng(seed))


def _blurred(img: np.ndarray, length: float, angle: float = 30.0) -> np.ndarray:
    srgb = img.astype(np.float32) / 255.0
    return (blur_linear_light(srgb, linear_motion_kernel(length, angle)) * 255 + 0.5
            ).astype(np.uint8)


# -- kernels ---------------------------------------------------------------------------

@pytest.mark.parametrize("length,angle", [(0.0, 0.0), (1.5, 10.0), (7.3, 45.0), (12.0, 90.0),
                                          (20.6, 133.0), (30.0, 179.0)])
def test_kernel_is_symmetric_normalised_and_has_the_asked_length_and_angle(length, angle):
    k = linear_motion_kernel(length, angle).astype(np.float64)
    assert k.shape == (kernel_size(length),) * 2 and k.shape[0] % 2 == 1
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(k, k[::-1, ::-1], atol=1e-7)  # symmetric about the centre
    c = k.shape[0] // 2
    ys, xs = np.mgrid[: k.shape[0], : k.shape[1]]
    dx, dy = xs - c, -(ys - c)  # y up, as the angle is measured
    assert (k * dx).sum() == pytest.approx(0.0, abs=1e-6)  # centred
    assert (k * dy).sum() == pytest.approx(0.0, abs=1e-6)
    # Second moment along the streak: uniform over [-L/2, L/2] gives L^2/12; bilinear
    # splatting adds at most 1/6 px^2 per axis.
    theta = math.radians(angle)
    along = dx * math.cos(theta) + dy * math.sin(theta)
    across = -dx * math.sin(theta) + dy * math.cos(theta)
    var_along = (k * along**2).sum()
    assert length**2 / 12 - 0.01 <= var_along <= length**2 / 12 + 0.35
    assert (k * across**2).sum() <= 0.35  # thin: no spread across the streak


def test_kernel_refuses_bad_lengths_and_sizes():
    with pytest.raises(ValueError, match="length"):
        linear_motion_kernel(-1.0, 0.0)
    with pytest.raises(ValueError, match="does not fit"):
        linear_motion_kernel(20.0, 0.0, size=9)
    with pytest.raises(ValueError, match="odd"):
        linear_motion_kernel(2.0, 0.0, size=8)


def test_shake_kernel_bends_the_streak_and_stays_symmetric_and_centred():
    """A tremor bend moves weight off the straight line but keeps the kernel point-symmetric
    (so the sharp target is still the exposure's middle); no bends is the straight kernel."""
    assert np.array_equal(shake_motion_kernel(9.0, 40.0), linear_motion_kernel(9.0, 40.0))
    k = shake_motion_kernel(12.0, 0.0, ((2.0, 8.0, 90.0),)).astype(np.float64)
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(k, k[::-1, ::-1], atol=1e-7)

    def moments(kernel: np.ndarray) -> tuple[float, float, float]:  # mean x, mean y, var y
        c = kernel.shape[0] // 2
        ys, xs = np.mgrid[: kernel.shape[0], : kernel.shape[1]] - c
        return (kernel * xs).sum(), (kernel * ys).sum(), (kernel * ys**2).sum()

    mean_x, mean_y, across = moments(k)
    assert mean_x == pytest.approx(0.0, abs=1e-6) and mean_y == pytest.approx(0.0, abs=1e-6)
    assert across > 1.0 > moments(linear_motion_kernel(12.0, 0.0).astype(np.float64))[2]
    rng = np.random.default_rng(0)
    for length in (0.0, 0.4, 5.0, 21.0):
        r = random_shake_kernel(rng, length)
        assert r.sum() == pytest.approx(1.0, abs=1e-5) and np.allclose(r, r[::-1, ::-1])
    with pytest.raises(ValueError, match="does not fit"):
        shake_motion_kernel(10.0, 0.0, ((3.0, 5.0, 90.0),), size=11)


def test_gamma_round_trip_and_blur_in_linear_light():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    assert np.abs(linear_to_srgb(srgb_to_linear(x)) - x).max() < 1e-5
    # A black/white edge blurred in linear light is brighter at the half-way point than
    # the same blur on gamma-encoded values (photons add up, not pixel codes).
    img = np.zeros((9, 41, 3), np.float32)
    img[:, 20:] = 1.0
    k = linear_motion_kernel(10.0, 0.0)
    linear_blur = blur_linear_light(img, k)[4, 20, 0]
    import cv2

    gamma_blur = cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)[4, 20, 0]
    assert linear_blur > gamma_blur + 0.1


def test_longer_kernels_blur_more():
    img = _scene(1)
    scores = [variance_of_laplacian(_blurred(img, length)) for length in (0, 3, 8, 16)]
    assert scores == sorted(scores, reverse=True)


# -- selection -------------------------------------------------------------------------

def test_selection_picks_the_sharpest_frame_of_each_window():
    rng = np.random.default_rng(5)
    img = _scene(2)
    lengths = rng.uniform(6, 20, 60)
    sharpest = [12, 27, 51]  # one nearly sharp frame per window of 20
    for i in sharpest:
        lengths[i] = 0.5
    # Shift the view a little per frame so no two frames are duplicates.
    frames = [_blurred(np.roll(img, 3 * i, axis=1), lengths[i]) for i in range(60)]
    chosen = select_sharpest(frames, window=20)
    assert [s.index for s in chosen] == sharpest
    assert all(s.frame.shape == img.shape for s in chosen)


def test_selection_flushes_a_partial_last_window_and_keeps_stamps():
    frames = [_blurred(np.roll(_scene(3), 5 * i, axis=0), 8.0 if i != 23 else 0.0)
              for i in range(25)]
    selector = SharpFrameSelector(window=20)
    out = [s for i, f in enumerate(frames) if (s := selector.push(f, stamp_ns=1000 + i))]
    assert len(out) == 1
    last = selector.flush()
    assert last is not None and last.index == 23 and last.stamp_ns == 1023
    assert selector.flush() is None


def test_a_robot_standing_still_is_not_selected_twice():
    img = _scene(4)
    rng = np.random.default_rng(0)
    # 60 frames of the same view with a little sensor noise: one selection, two skipped.
    frames = [np.clip(img + rng.normal(0, 1.0, img.shape), 0, 255).astype(np.uint8)
              for _ in range(60)]
    selector = SharpFrameSelector(window=20)
    chosen = [s for f in frames if (s := selector.push(f))]
    assert len(chosen) == 1 and selector.duplicates_skipped == 2
    # Once the robot moves on, the next window is selected again.
    moved = [np.roll(img, 40, axis=1)] * 20
    assert [s for f in moved if (s := selector.push(f))]


def test_selection_refuses_a_bad_window():
    with pytest.raises(ValueError, match="window"):
        SharpFrameSelector(window=0)


# -- the U-Net -------------------------------------------------------------------------

@pytest.mark.parametrize("h,w", [(64, 64), (45, 71), (17, 9)])
def test_unfitted_unet_is_the_identity_at_any_size(h, w):
    model = UNet(UNetConfig(width=4, depth=3)).eval()
    x = torch.rand(2, 3, h, w)
    with torch.no_grad():
        assert torch.equal(model(x), x)


def test_unet_checkpoint_round_trip_and_refusals(tmp_path):
    model = UNet(UNetConfig(width=4, depth=2))
    with torch.no_grad():
        model.tail.weight.normal_(0, 0.1)
    path = save_checkpoint(tmp_path / "scene.pt", model, {"kind": "scene"})
    loaded, meta = load_model(path, architecture="unet")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x))
    assert meta["name"] == "unet-w4-d2"
    # The live node must refuse a scene model, and the scene path a live model.
    with pytest.raises(CheckpointError, match="'unet' network, not the 'strcnn_dtb'"):
        load_model(path)
    from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb

    live = save_checkpoint(tmp_path / "live.pt", StrcnnDtb(StrcnnConfig(width=4)))
    with pytest.raises(CheckpointError, match="not the 'unet'"):
        load_model(live, architecture="unet")


def test_sharpness_gate_share_falls_from_all_to_the_floor():
    from deblur_ros.core.inference.scene import SharpnessGate

    gate = SharpnessGate(window=4, full_below=0.5, keep_above=0.9, floor=0.4)
    assert gate.alpha(0.1) == gate.alpha(0.5) == 1.0
    assert gate.alpha(0.7) == pytest.approx(0.7)
    assert gate.alpha(0.9) == gate.alpha(1.0) == pytest.approx(0.4)
    for bad in ({"window": 0}, {"full_below": 0.9, "keep_above": 0.5}, {"floor": 1.5}):
        with pytest.raises(ValueError, match="sharpness gate"):
            SharpnessGate(**bad)


def test_gated_scene_model_leaves_sharp_frames_mostly_alone_and_deblurs_blurry_ones():
    """A stand-in model that brightens everything by 0.2: frames as sharp as the window's
    sharpest get the floor's share of it, a much blurrier one all of it; each stream (and
    a reset) starts its memory afresh."""
    from deblur_ros.core.inference.scene import SceneDeblurrer, SharpnessGate

    model = UNet(UNetConfig(4, 2))
    torch.nn.init.constant_(model.tail.bias, 0.2)
    gate = SharpnessGate(window=3, floor=0.25)
    sharp = (_scene() // 2).astype(np.uint8)  # headroom: nothing clips at +0.2
    blurry = _blurred(sharp, 15.0)
    assert variance_of_laplacian(blurry) < 0.3 * variance_of_laplacian(sharp)
    shift = lambda out, src: float((out.astype(np.float32) - src).mean()) / 255  # noqa: E731

    raw = SceneDeblurrer(model)
    assert shift(raw.deblur(sharp), sharp) == pytest.approx(0.2, abs=3e-3)
    gated = SceneDeblurrer(model, gate=gate)
    assert shift(gated.deblur(sharp), sharp) == pytest.approx(0.05, abs=3e-3)
    assert gated.last_alpha == pytest.approx(0.25)
    assert shift(gated.deblur(blurry), blurry) == pytest.approx(0.2, abs=3e-3)
    other = gated.new_stream()  # no memory of the sharp frame: the blurry one is its best
    assert shift(other.deblur(blurry), blurry) == pytest.approx(0.05, abs=3e-3)
    gated.reset()
    assert shift(gated.deblur(blurry), blurry) == pytest.approx(0.05, abs=3e-3)
    # With the shipped floor of 0 the sharpest frame of its window passes unchanged.
    assert np.array_equal(SceneDeblurrer(model, gate=SharpnessGate(window=3)).deblur(sharp),
                          sharp)
    # The window forgets: three blurry frames later the sharp one no longer counts.
    for _ in range(2):
        gated.deblur(blurry)
    assert gated.last_alpha == pytest.approx(0.25)


def test_gate_looks_ahead_in_a_stream_that_can_wait_and_stays_causal_frame_by_frame():
    """A blurry frame before a sharp one: frame by frame (the sidecar's live path) it is
    the sharpest it has seen and passes unchanged; pushed into a stream, it waits for the
    ``after`` frames behind it, finds the sharp one and gets all of the model's output."""
    from deblur_ros.core.inference.scene import SceneDeblurrer, SharpnessGate, sharpness_gate

    model = UNet(UNetConfig(4, 2))
    torch.nn.init.constant_(model.tail.bias, 0.2)
    sharp = (_scene() // 2).astype(np.uint8)
    blurry = _blurred(sharp, 15.0)
    shift = lambda out, src: float((out.astype(np.float32) - src).mean()) / 255  # noqa: E731
    assert sharpness_gate(True, 5).after == 5 and SharpnessGate(window=3).after == 3
    with pytest.raises(ValueError, match="after >= 0"):
        SharpnessGate(after=-1)

    causal = SceneDeblurrer(model, gate=SharpnessGate(window=3, after=2))
    assert np.array_equal(causal.deblur(blurry), blurry)

    stream = SceneDeblurrer(model, gate=SharpnessGate(window=3, after=2))
    assert stream.lookahead == 2
    assert stream.push(blurry, 10, "a") == [] and stream.push(sharp, 20, "b") == []
    assert stream.pending == 2
    (first,) = stream.push(sharp, 30, "c")  # the blurry frame has its two frames ahead
    assert (first.stamp, first.payload) == (10, "a")
    assert shift(first.frame, blurry) == pytest.approx(0.2, abs=3e-3)
    rest = stream.flush()
    assert [o.stamp for o in rest] == [20, 30] and stream.pending == 0
    assert all(np.array_equal(o.frame, sharp) for o in rest)  # the sharpest: unchanged
    # A whole sequence through process() is the same as push + flush.
    again = SceneDeblurrer(model, gate=SharpnessGate(window=3, after=2))
    frames = again.process([blurry, sharp, sharp])
    assert np.array_equal(frames[0], first.frame) and np.array_equal(frames[2], sharp)
    # Without a gate nothing is held.
    assert len(SceneDeblurrer(model).push(blurry, 1)) == 1
    stream.push(blurry, 40)
    stream.reset()
    assert stream.pending == 0
