"""The streaming interface: look-ahead order, flush, state, resets, any size and layout."""

import numpy as np
import pytest
import torch

from deblur_ros.core.inference.streaming import StreamingDeblurrer, select_device
from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb


def make_stream(lookahead: int = 1, randomise: bool = True, seed: int = 0,
                cut_threshold: float = 0.0) -> StreamingDeblurrer:
    """Scene-cut detection off by default: these clips are noise, a cut at every frame
    (test_scene_cuts covers the detection)."""
    torch.manual_seed(seed)
    model = StrcnnDtb(StrcnnConfig(width=8, past=max(1, lookahead), lookahead=lookahead))
    if randomise:
        torch.nn.init.normal_(model.to_image.weight, std=0.05)
    return StreamingDeblurrer(model, "cpu", cut_threshold=cut_threshold)


def frames(n, h=12, w=16, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((h, w, c), dtype=np.float32) for _ in range(n)]


def test_lookahead_delays_by_one_frame_and_flush_returns_the_rest():
    stream = make_stream(lookahead=1)
    assert stream.lookahead == 1
    clip = frames(4)
    assert stream.push(clip[0], 10) == []
    got = []
    for i, f in enumerate(clip[1:], start=1):
        out = stream.push(f, 10 + i)
        assert [o.stamp for o in out] == [10 + i - 1]
        got += out
    tail = stream.flush()
    assert [o.stamp for o in tail] == [13]
    assert stream.flush() == [] and stream.pending == 0
    # the delayed frames are the same pictures a whole-clip run gives, in order
    whole = make_stream(lookahead=1).process(clip)
    for out, expected in zip(got + tail, whole, strict=True):
        np.testing.assert_array_equal(out.frame, expected)


def test_causal_model_returns_each_frame_immediately():
    stream = make_stream(lookahead=0)
    for i, f in enumerate(frames(3)):
        out = stream.push(f, i, payload=f"p{i}")
        assert [(o.stamp, o.payload) for o in out] == [(i, f"p{i}")]


def test_output_depends_on_previous_frames():
    clip = frames(3, seed=1)
    other = frames(3, seed=2)
    a = make_stream(lookahead=0).process([other[0], other[1], clip[2]])
    b = make_stream(lookahead=0).process([clip[0], clip[1], clip[2]])
    assert np.abs(a[2] - b[2]).max() > 1e-4


def test_streaming_equals_the_network_on_hand_built_windows():
    """Frame by frame, the streamer feeds the network the windows the paper's model needs:
    (previous, current, next), the first frame standing in before the start and the last
    one after the end, with the state carried from step to step."""
    clip = frames(4)
    stream = make_stream(lookahead=1)
    streamed = stream.process(clip)
    model = stream.runner.model
    t = [torch.from_numpy(f.transpose(2, 0, 1).copy()) for f in clip]
    windows = [(0, 0, 1), (0, 1, 2), (1, 2, 3), (2, 3, 3)]
    state = None
    with torch.no_grad():
        for (a, b, c), got in zip(windows, streamed, strict=True):
            window = torch.stack([t[a], t[b], t[c]])[None]
            state = model.initial_state(window) if state is None else state
            sharp, state = model(window, state)
            expected = sharp[0].clamp(0, 1).permute(1, 2, 0).numpy()
            np.testing.assert_allclose(got, expected, atol=1e-6)
    assert not np.allclose(streamed[1], clip[1], atol=1e-3)  # the network did something


@pytest.mark.parametrize("shape", [(15, 17, 3), (7, 9, 1), (11, 13), (2, 2, 3)])
def test_any_size_and_layout_cropped_back_exactly(shape):
    stream = make_stream(lookahead=1, randomise=False)  # identity network
    rng = np.random.default_rng(3)
    clip = [rng.random(shape, dtype=np.float32) for _ in range(3)]
    out = stream.process(clip)
    assert len(out) == 3
    for inp, res in zip(clip, out):
        assert res.shape == inp.shape and res.dtype == inp.dtype
        np.testing.assert_allclose(res, inp, atol=1e-6)


def test_frames_are_padded_to_the_network_s_own_size_multiple():
    """A network with more stride-2 levels declares a larger multiple; frames of any size
    reach it padded to that and come back cropped to their own size."""
    seen = []

    class Deeper(StrcnnDtb):
        size_multiple = 8

        def forward(self, frames, state):
            seen.append(tuple(frames.shape[-2:]))
            return super().forward(frames, state)

    stream = StreamingDeblurrer(Deeper(StrcnnConfig(width=8)), "cpu", cut_threshold=0.0)
    clip = frames(3, h=338, w=45)
    out = stream.process(clip)
    assert set(seen) == {(344, 48)}
    for inp, res in zip(clip, out):
        assert res.shape == inp.shape
        np.testing.assert_allclose(res, inp, atol=1e-6)  # identity network, crop in place


def test_uint8_in_uint8_out():
    stream = make_stream(lookahead=0, randomise=False)
    img = (np.arange(6 * 8 * 3) % 256).astype(np.uint8).reshape(6, 8, 3)
    (out,) = stream.process([img])
    assert out.dtype == np.uint8 and np.array_equal(out, img)


def test_resolution_change_flushes_then_resets_state():
    stream = make_stream(lookahead=1)
    a, b = frames(2, 12, 16), frames(1, 10, 14)
    stream.push(a[0], 1)
    stream.push(a[1], 2)  # returns frame 1, frame 2 pending
    out = stream.push(b[0], 3)  # flushes frame 2 in the old size, frame 3 pending
    assert [o.stamp for o in out] == [2] and out[0].frame.shape == (12, 16, 3)
    assert stream.resets == 1
    (last,) = stream.flush()
    fresh = make_stream(lookahead=1).process([b[0]])[0]
    np.testing.assert_array_equal(last.frame, fresh)  # no state carried over


def test_stamp_going_backwards_resets_like_a_looped_bag():
    clip = frames(3)
    stream = make_stream(lookahead=0)
    stream.process(clip)  # leaves state behind
    stream.push(clip[0], 100)
    out = stream.push(clip[1], 5)  # jump backwards
    assert stream.resets == 1
    np.testing.assert_array_equal(out[0].frame, make_stream(lookahead=0).process([clip[1]])[0])


def test_rejects_bad_frame_shape():
    with pytest.raises(ValueError, match="HxWx3"):
        make_stream().push(np.zeros((4, 4, 2), np.float32), 0)


def test_select_device():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="unknown device"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            select_device("cuda")


def test_window_rule_stands_the_nearest_frame_in_at_both_ends():
    from deblur_ros.core.inference.windows import window_indices

    assert window_indices(0, 5, past=1, lookahead=1) == [0, 0, 1]
    assert window_indices(2, 5, past=2, lookahead=1) == [0, 1, 2, 3]
    assert window_indices(4, 5, past=1, lookahead=2) == [3, 4, 4, 4]
    assert window_indices(0, 1, past=1, lookahead=0) == [0, 0]
    with pytest.raises(IndexError):
        window_indices(5, 5, past=1, lookahead=1)


def test_deadzone_shrinks_the_residual_by_its_grey_levels_and_nothing_else():
    clip = [0.25 + 0.5 * f for f in frames(5)]  # away from 0 and 1, where outputs clip
    plain = make_stream().process(clip)
    cored = make_stream()  # the same seeded weights
    cored.deadzone = 2.0
    out = cored.process(clip)
    for inp, a, b in zip(clip, plain, out):
        residual = a - inp
        expected = inp + np.sign(residual) * np.maximum(np.abs(residual) - 2.0 / 255.0, 0.0)
        np.testing.assert_allclose(b, expected, atol=1e-5)
    # the dead zone does something here: some residuals were smaller than it, some larger
    small = np.abs(np.stack(plain) - np.stack(clip)) < 2.0 / 255.0
    assert small.any() and (~small).any()


@pytest.mark.parametrize("mirror", [2, 4])
def test_mirror_averages_mirrored_streams_each_with_its_own_state(mirror):
    """Each mirrored copy must be a stream of its own (a shared state would mix views)."""
    clip = [0.25 + 0.5 * f for f in frames(5, h=12, w=16)]
    views = [lambda f: f, lambda f: f[:, ::-1], lambda f: f[::-1], lambda f: f[::-1, ::-1]]
    expected = np.zeros((5, 12, 16, 3), np.float32)
    for view in views[:mirror]:  # a view is its own inverse
        out = make_stream().process([np.ascontiguousarray(view(f)) for f in clip])
        expected += np.stack([view(o) for o in out]) / mirror
    ensemble = make_stream()
    ensemble.mirror = mirror
    got = np.stack(ensemble.process(clip))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    plain = np.stack(make_stream().process(clip))
    assert np.abs(got - plain).max() > 1e-3  # the mirrored views did change something
    # Odd sizes (padded for the network, then mirrored) come back in place and layout.
    odd = make_stream()
    odd.mirror = mirror
    out = odd.process([np.ascontiguousarray(f[:11, :15, :1]) for f in clip])
    assert [o.shape for o in out] == [(11, 15, 1)] * 5
    assert np.abs(out[2] - clip[2][:11, :15, :1]).max() < 0.1


def test_mirror_other_than_1_2_4_is_refused():
    model = StrcnnDtb(StrcnnConfig(width=4, lookahead=1))
    with pytest.raises(ValueError, match="mirror must be 1, 2 or 4"):
        StreamingDeblurrer(model, mirror=3)


def test_deadzone_out_of_range_is_refused_with_its_value():
    model = StrcnnDtb(StrcnnConfig(width=4, lookahead=1))
    with pytest.raises(ValueError, match=r"deadzone must be 0..32 grey levels of 255 \(got -1\)"):
        StreamingDeblurrer(model, deadzone=-1.0)


@pytest.mark.parametrize("recorded,requested,applied", [
    (None, None, 0.5),  # a checkpoint without its own value: the package default
    (2.0, None, 2.0),  # its own measured value
    (2.0, -1.0, 2.0),  # negative is "auto" too (the node's parameter)
    (2.0, 0.0, 0.0),  # asked for the raw network
    (None, 1.5, 1.5),
])
def test_checkpoint_records_its_own_deadzone_and_a_request_overrides_it(
        tmp_path, recorded, requested, applied):
    from deblur_ros.core.models.checkpoint import save_checkpoint

    metadata = {} if recorded is None else {"deadzone": recorded}
    path = save_checkpoint(tmp_path / "m.pt", StrcnnDtb(StrcnnConfig(width=4)), metadata)
    stream = StreamingDeblurrer.from_checkpoint(path, "cpu", deadzone=requested)
    assert stream.deadzone == applied


def test_a_bad_recorded_deadzone_is_refused_naming_it(tmp_path):
    from deblur_ros.core.models.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / "m.pt", StrcnnDtb(StrcnnConfig(width=4)),
                           {"deadzone": 99.0})
    with pytest.raises(ValueError, match=r"deadzone must be 0..32 .*got 99"):
        StreamingDeblurrer.from_checkpoint(path, "cpu")
