"""The network as the paper describes it: shapes, recurrence, blending, identity start."""

import pytest
import torch

from deblur_ros.core.models.strcnn_dtb import (
    FEEDBACK_CHANNELS,
    DynamicTemporalBlending,
    StrcnnConfig,
    StrcnnDtb,
    count_parameters,
    gmac_per_frame,
)

NOT_FRESH = torch.zeros(1, 1, 1, 1)


def _randomise_output(model: StrcnnDtb) -> StrcnnDtb:
    torch.nn.init.normal_(model.to_image.weight, std=0.05)
    return model


def test_paper_model_size_matches_paper():
    cfg = StrcnnConfig(width=64, past=1, lookahead=1)
    assert cfg.n_frames == 3 and cfg.name == "strcnn-w64-m1"
    params = count_parameters(StrcnnDtb(cfg))
    assert 0.85e6 < params < 1.1e6  # paper: ~0.93 M
    assert 70 < gmac_per_frame(cfg) < 85  # paper: ~77 GMAC per VGA frame


def test_untrained_network_is_identity_on_middle_frame():
    model = StrcnnDtb(StrcnnConfig(width=8)).eval()
    frames = torch.rand(2, 3, 3, 16, 24)
    out, state = model(frames, model.initial_state(frames))
    assert out.shape == (2, 3, 16, 24)
    assert torch.allclose(out, frames[:, 1])
    assert state.feedback.shape == (2, FEEDBACK_CHANNELS, 8, 12)
    assert state.blended.shape == (2, 8, 8, 12)


def test_output_depends_on_previous_step_through_state():
    torch.manual_seed(0)
    model = _randomise_output(StrcnnDtb(StrcnnConfig(width=8))).eval()
    a, b = torch.rand(1, 3, 3, 16, 16), torch.rand(1, 3, 3, 16, 16)
    x = torch.rand(1, 3, 3, 16, 16)
    with torch.no_grad():
        _, state_a = model(a, model.initial_state(a))
        _, state_b = model(b, model.initial_state(b))
        out_a, _ = model(x, state_a)
        out_b, _ = model(x, state_b)
    assert (out_a - out_b).abs().max() > 1e-4


def test_blending_beta_is_trainable_and_clamped():
    blend = DynamicTemporalBlending(4)
    h, prev = torch.rand(1, 4, 6, 6), torch.rand(1, 4, 6, 6)
    with torch.no_grad():
        blend.conv.weight.zero_()
        blend.conv.bias.zero_()
        blend.beta.fill_(1.7)  # clamped to 1: w = 1, all current
    assert torch.allclose(blend(h, prev, NOT_FRESH), h)
    with torch.no_grad():
        blend.beta.fill_(-0.5)  # clamped to 0: w = 0, all previous
    assert torch.allclose(blend(h, prev, NOT_FRESH), prev)
    with torch.no_grad():
        blend.beta.fill_(0.25)
    blend(h, prev, NOT_FRESH).sum().backward()
    assert blend.beta.grad is not None and blend.beta.grad.abs() > 0


def test_blending_on_a_fresh_state_is_the_current_map_exactly():
    """The first step of a stream must not mix in the zero tensors of the initial state."""
    blend = DynamicTemporalBlending(4)
    h, prev = torch.rand(2, 4, 6, 6), torch.rand(2, 4, 6, 6)
    fresh = torch.tensor([1.0, 0.0]).view(2, 1, 1, 1)
    out = blend(h, prev, fresh)
    assert torch.equal(out[0], h[0])
    assert not torch.allclose(out[1], h[1])


def test_blending_convolution_is_padded_no_dead_border():
    blend = DynamicTemporalBlending(2)
    assert blend.conv.kernel_size == (5, 5) and blend.conv.padding == (2, 2)
    out = blend(torch.rand(1, 2, 7, 7), torch.rand(1, 2, 7, 7), NOT_FRESH)
    assert out.shape == (1, 2, 7, 7)


def test_rejects_wrong_window_and_odd_size():
    model = StrcnnDtb(StrcnnConfig(width=8, lookahead=0))
    assert model.config.n_frames == 2
    with pytest.raises(ValueError, match="expects"):
        x = torch.rand(1, 3, 3, 16, 16)
        model(x, model.initial_state(x))
    with pytest.raises(ValueError, match="even"):
        x = torch.rand(1, 2, 3, 15, 16)
        model(x, model.initial_state(x))
