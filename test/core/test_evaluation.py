"""The evaluator: frames scored against the right ground truth, input and output alike."""

from __future__ import annotations

import numpy as np
import pytest

from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.scoring.evaluation import evaluate_sequence, summarise
from deblur_ros.core.synthesis.procedural import dead_leaves
from deblur_ros.core.synthesis.render import ClipSpec, render_clip


@pytest.fixture
def identity_stream(identity_model):
    return StreamingDeblurrer.from_checkpoint(identity_model, "cpu")


@pytest.fixture(scope="module")
def clip():
    rng = np.random.default_rng(3)
    photo = dead_leaves(120, 150, rng)
    return render_clip(photo, ClipSpec(n_frames=5, height=48, width=64, strength=0.8), rng)


def test_identity_model_scores_exactly_like_its_input(identity_stream, clip):
    blurry, sharp = clip
    result = evaluate_sequence(identity_stream, list(blurry), list(sharp), "c")
    summary = result.scores.summary()
    assert result.frames == 5 and (result.height, result.width) == (48, 64)
    for key in ("psnr", "ssim", "ewarp", "sharpness"):
        assert summary["output"][key] == pytest.approx(summary["input"][key], rel=1e-5), key
    assert len(result.scores.psnr) == 5 and len(result.scores.ewarp) == 4
    assert 10 < summary["input"]["psnr"] < 60


def test_each_output_is_scored_against_its_own_ground_truth(identity_stream, clip):
    """Ground truth = input + 0.05 everywhere: 26.02 dB for every frame, but only when
    output n (which comes out one push late with m=1) is paired with ground truth n."""
    blurry = [np.clip(f, 0.0, 0.9) for f in clip[0]]
    sharp = [f + 0.05 for f in blurry]
    result = evaluate_sequence(identity_stream, blurry, sharp, "offset")
    expected = 20 * np.log10(1 / 0.05)
    for inp, out in result.scores.psnr:
        assert inp == pytest.approx(expected, abs=1e-3)
        assert out == pytest.approx(expected, abs=1e-3)


def test_kept_frames_and_summary(identity_stream, clip):
    blurry, sharp = clip
    result = evaluate_sequence(identity_stream, list(blurry), None, "no_gt",
                               keep=lambda i: i in (0, 4))
    assert [k[0] for k in result.kept] == [0, 4]
    assert result.kept[0][3] is None
    np.testing.assert_allclose(result.kept[1][2], blurry[4], atol=1e-6)  # identity
    summary = summarise([result, result], "strcnn-w8-m1", "cpu")
    assert summary["frames"] == 10 and summary["fps"] > 0
    assert summary["input"]["psnr"] is None and summary["output"]["ssim"] is None
    assert summary["input"]["ewarp"] is not None and len(summary["sequences"]) == 2
    assert summary["flow"] == "opencv-dis-medium"


def test_short_or_mismatched_ground_truth_is_an_error(identity_stream, clip):
    blurry, sharp = clip
    with pytest.raises(ValueError, match="sharp sequence ends before blurry frame 3"):
        evaluate_sequence(identity_stream, list(blurry), list(sharp[:3]), "short")
    with pytest.raises(ValueError, match="does not match"):
        evaluate_sequence(identity_stream, list(blurry), [s[:40] for s in sharp], "size")
    with pytest.raises(ValueError, match="no frames"):
        evaluate_sequence(identity_stream, [], None, "empty")


class _Oracle:
    """Outputs the ground truth: a perfect deblurrer (no state, no look-ahead)."""

    def __init__(self, sharp):
        import torch

        self.device = torch.device("cpu")
        self.sharp = sharp

    def reset(self):
        pass

    def push(self, frame, stamp, payload=None):
        from deblur_ros.core.inference.streaming import StreamOutput

        return [StreamOutput(stamp, self.sharp[stamp], payload)]

    def flush(self):
        return []


def test_ground_truth_flow_ewarp_rewards_a_perfect_deblurrer():
    """The ground truth's own flow: a perfect output scores below its blurry input (the
    input's flow does not promise that: on the scene validation drives the ground truth
    scores worse than the input with it)."""
    rng = np.random.default_rng(5)
    photo = dead_leaves(160, 200, rng)
    blurry, sharp = render_clip(photo, ClipSpec(n_frames=6, height=96, width=128,
                                                strength=1.0), rng)
    result = evaluate_sequence(_Oracle(list(sharp)), list(blurry), list(sharp), "oracle")
    summary = result.scores.summary()
    assert len(result.scores.ewarp_gt) == 5
    assert summary["output"]["ewarp_gt"] < summary["input"]["ewarp_gt"]
    # The ground truth's own figures are the reference column: the oracle outputs it, so
    # they must equal the output's under both flows.
    assert summary["truth"]["ewarp"] == pytest.approx(summary["output"]["ewarp"])
    assert summary["truth"]["ewarp_gt"] == pytest.approx(summary["output"]["ewarp_gt"])
    from deblur_ros.cli.eval import format_summary

    table = format_summary({"model": "oracle", "device": "cpu", "frames": 6, "fps": 1.0,
                            "flow": "dis", **summary})
    assert "| ground truth |" in table
    row = next(ln for ln in table.splitlines() if ln.startswith("| E_warp (x1e-3)"))
    assert row.endswith(f" {summary['truth']['ewarp'] * 1000:.3f} |")
    no_gt = evaluate_sequence(_Oracle(list(sharp)), list(blurry), None, "no_gt")
    assert no_gt.scores.summary()["input"]["ewarp_gt"] is None
    assert "truth" not in no_gt.scores.summary()
