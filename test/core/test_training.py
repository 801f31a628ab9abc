"""The trainer learns, warm starts keep what was learnt, and training windows a clip exactly
as the streaming deblurrer does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.models.checkpoint import save_checkpoint
from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb
from deblur_ros.core.synthesis.motion import MotionSpec, render_motion_clip
from deblur_ros.core.synthesis.procedural import dead_leaves
from deblur_ros.core.training.live_trainer import (
    LiveTrainConfig,
    ema_decay,
    frequency_loss,
    learning_rate,
    run_clip,
    train_step,
    update_average,
    warm_start,
)


def _fixed_batch(n_clips: int = 2, frames: int = 3, size: int = 32) -> tuple[torch.Tensor, ...]:
    spec = MotionSpec(n_frames=frames, height=size, width=size, profile="handheld",
                      noise_prob=0.0, jpeg_prob=0.0, highlight_prob=0.0, object_prob=0.0)
    blurry, sharp = [], []
    for i in range(n_clips):
        rng = np.random.default_rng(i)
        b, s, _ = render_motion_clip(dead_leaves(2 * size, 2 * size, rng), spec, rng, level=6.0)
        blurry.append(torch.from_numpy(b).permute(0, 3, 1, 2))
        sharp.append(torch.from_numpy(s).permute(0, 3, 1, 2))
    return torch.stack(blurry), torch.stack(sharp)


def _trained(lookahead: int = 1, width: int = 8, steps: int = 150,
             loss: str = "l1") -> tuple[StrcnnDtb, list[float]]:
    """A few seconds of the real training step on one fixed batch (the recipe's lr and
    warm-up; the zero-initialised output layer gives a plateau of ~50 steps first)."""
    torch.manual_seed(0)
    model = StrcnnDtb(StrcnnConfig(width=width, lookahead=lookahead))
    cfg = LiveTrainConfig(width=width, lookahead=lookahead, lr=1e-3, warmup=10, iterations=steps,
                          schedule="step", loss=loss)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    blurry, sharp = _fixed_batch()
    losses = [train_step(model, opt, blurry, sharp, cfg, i, use_amp=False) for i in range(steps)]
    return model, losses


def test_a_short_deterministic_run_lowers_the_loss_on_a_fixed_task():
    _, losses = _trained()
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    # Identity (the untrained network) leaves the blur: the trained one must remove some.
    assert last < 0.85 * first, (first, last)
    _, again = _trained(steps=20)
    assert again == pytest.approx(losses[:20], rel=1e-4)  # deterministic


def test_the_frequency_loss_trains_towards_the_ground_truth_too():
    blurry, sharp = _fixed_batch()
    assert float(frequency_loss(sharp, sharp)) == 0.0
    model, losses = _trained(loss="charbonnier+fft")
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5])
    with torch.no_grad():  # the pixel error falls with it: the term adds, it does not redirect
        before = (blurry - sharp).abs().mean()
        after = (run_clip(model, blurry) - sharp).abs().mean()
    assert after < 0.9 * before, (float(before), float(after))


def test_the_weight_average_blends_by_its_decay_and_ramps_up():
    torch.manual_seed(0)
    model, average = StrcnnDtb(StrcnnConfig(width=8)), StrcnnDtb(StrcnnConfig(width=8))
    before = [p.detach().clone() for p in average.parameters()]
    update_average(average, model, 0.75)
    for kept, old, new in zip(average.parameters(), before, model.parameters()):
        assert torch.allclose(kept, 0.75 * old + 0.25 * new, atol=1e-6)
        assert not kept.requires_grad or kept.grad is None
    cfg = LiveTrainConfig(ema=0.999)
    assert ema_decay(cfg, 0) == pytest.approx(0.1)  # the start is nearly forgotten at once
    assert ema_decay(cfg, 100) < ema_decay(cfg, 1000) < 0.999
    assert ema_decay(cfg, 100_000) == 0.999


def test_learning_rate_schedules():
    cfg = LiveTrainConfig(lr=1e-3, warmup=10, iterations=100, schedule="cosine")
    assert learning_rate(cfg, 0) == pytest.approx(1e-4)
    assert learning_rate(cfg, 10) == pytest.approx(1e-3, rel=0.03)  # cosine has begun
    assert learning_rate(cfg, 100) == pytest.approx(1e-5)
    paper = LiveTrainConfig.paper()
    assert learning_rate(paper, 25_000) == pytest.approx(1e-4 * 0.96**2)
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(LiveTrainConfig(schedule="bogus"), 0)


def test_training_and_streaming_window_a_clip_alike():
    """One look-ahead rule: the trainer's clip runner and the live streamer agree."""
    model, _ = _trained(steps=5)
    model.eval()
    blurry, _ = _fixed_batch(n_clips=1, frames=5)
    with torch.no_grad():
        trained_view = run_clip(model, blurry)[0].permute(0, 2, 3, 1).numpy()
    frames = [f.permute(1, 2, 0).numpy() for f in blurry[0]]
    # One clip, one scene: detection off, as for every input whose clips are known (a
    # 32 px clip moved 6 px a frame is beyond what the scene-cut test can tell).
    streamed = StreamingDeblurrer(model, cut_threshold=0.0).process(frames)
    assert len(streamed) == len(frames)
    for a, b in zip(trained_view, streamed):
        assert np.abs(np.clip(a, 0, 1) - b).max() < 1e-5


def test_warm_start_to_a_wider_network_keeps_the_function_exactly(tmp_path):
    source, _ = _trained(steps=40)
    path = save_checkpoint(tmp_path / "src.pt", source)
    wide = StrcnnDtb(StrcnnConfig(width=12))
    assert "strcnn-w8-m1" in warm_start(wide, path)
    blurry, _ = _fixed_batch()
    with torch.no_grad():
        a = run_clip(source.eval(), blurry)
        b = run_clip(wide.eval(), blurry)
    assert (a - b).abs().max() < 1e-5
    # ... and the new channels are not dead weight: every parameter gets a gradient.
    wide.train()
    loss = (run_clip(wide, blurry) - blurry).abs().mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in wide.parameters())


def test_warm_start_dropping_the_look_ahead_matches_on_a_still_scene(tmp_path):
    """The look-ahead frame's input weights fold into the middle frame's: on a still scene
    (every frame alike) the causal model starts exactly where the look-ahead model is."""
    source, _ = _trained(steps=40)
    path = save_checkpoint(tmp_path / "src.pt", source)
    causal = StrcnnDtb(StrcnnConfig(width=8, lookahead=0))
    warm_start(causal, path)
    blurry, _ = _fixed_batch()
    still = blurry[:, :1].expand(-1, 3, -1, -1, -1).contiguous()
    with torch.no_grad():
        a = run_clip(source.eval(), still)
        b = run_clip(causal.eval(), still)
    assert (a - b).abs().max() < 1e-5
    assert (a - still).abs().max() > 1e-3  # the source is not the identity


def test_warm_start_reads_the_shipped_checkpoints_old_config_names():
    """The shipped checkpoints spell the look-ahead ``future``; widening them must work."""
    from deblur_ros.core.models.checkpoint import load_model, resolve_model

    path = resolve_model("strcnn-w16-m1")
    source, _ = load_model(path)
    wide = StrcnnDtb(StrcnnConfig(width=20))
    assert "strcnn-w16-m1" in warm_start(wide, path)
    blurry, _ = _fixed_batch()
    with torch.no_grad():
        assert (run_clip(source, blurry) - run_clip(wide.eval(), blurry)).abs().max() < 1e-5


def test_warm_start_refuses_another_depth(tmp_path):
    path = save_checkpoint(tmp_path / "deep.pt", StrcnnDtb(StrcnnConfig(width=8, blocks=2)))
    with pytest.raises(ValueError, match="residual blocks"):
        warm_start(StrcnnDtb(StrcnnConfig(width=8)), path)


@pytest.mark.parametrize(("change", "message"), [
    ({"val_size": 15}, "val-size must be even"),
    ({"crop": 8}, "crop must be even"),
    ({"photo_root": "/nosuch/photos"}, "does not exist"),
    ({"loss": "huber"}, "unknown loss"),
    ({"fft_weight": -1.0}, "fft-weight must be"),
    ({"ema": 1.0}, "ema is the average's decay"),
    ({"data": "gopro"}, "unknown data recipe"),
    ({"streak_min": 40.0}, "streak range"),
    ({"streak_min": 0.0}, "streak range"),
    ({"still_clips": 1.5}, "still-clips is a share"),
    ({"still_clips": 0.2, "data": "trajectory"}, "needs the motion recipe"),
    ({"real_share": 0.5}, "needs --real DIR"),
    ({"real_share": 1.5, "real_footage": "/nosuch"}, "real-share is a share"),
    ({"real_shuffle": -0.1}, "real-shuffle is a share"),
    ({"real_width": 64}, "real-width must be at least the crop"),
    ({"real_share": 0.5, "real_footage": "/nosuch/clips"}, "does not exist"),
    ({"real_footage": "/nosuch", "data": "trajectory"}, "mixes into the motion recipe"),
    ({"distill": 1.5}, "distill is the teacher's weight"),
    ({"clip_grad": -1.0}, "clip-grad is a gradient norm"),
])
def test_bad_settings_fail_before_training(tmp_path, change, message):
    from deblur_ros.core.training.live_trainer import train_live

    cfg = LiveTrainConfig(iterations=1, device="cpu", workers=0, **change)
    with pytest.raises(ValueError, match=message):
        train_live(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_out_naming_a_file_is_refused(tmp_path):
    from deblur_ros.core.training.live_trainer import train_live

    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        train_live(LiveTrainConfig(iterations=1, device="cpu", workers=0), target,
                   progress=False)


def test_a_student_with_distill_one_follows_its_teacher_not_the_ground_truth():
    """With the whole weight on the teacher, the ground truth (here the blurry clip
    itself, which an untrained network already matches) teaches nothing: what the
    student learns must come from the teacher's output."""
    teacher, _ = _trained()
    teacher.eval()
    blurry, _ = _fixed_batch()
    with torch.no_grad():
        taught = run_clip(teacher, blurry)
    torch.manual_seed(1)
    student = StrcnnDtb(StrcnnConfig(width=4))
    cfg = LiveTrainConfig(width=4, lr=1e-3, warmup=10, iterations=150, schedule="step",
                          loss="l1", distill=1.0)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr)

    def gap() -> float:
        with torch.no_grad():
            return float((run_clip(student, blurry) - taught).abs().mean())

    before = gap()
    for i in range(150):
        train_step(student, opt, blurry, blurry, cfg, i, use_amp=False, teacher=teacher)
    assert gap() < 0.7 * before, (before, gap())


def test_a_teacher_that_saw_a_held_out_clip_is_refused(tmp_path):
    from deblur_ros.core.training.live_trainer import train_live

    path = save_checkpoint(tmp_path / "teacher.pt", StrcnnDtb(StrcnnConfig(width=8)),
                           {"data": {"real": {"clips": ["TEST01_x", "TEST02_y"]}}})
    cfg = LiveTrainConfig(iterations=1, device="cpu", workers=0, teacher=str(path),
                          real_hold_out="TEST02")
    with pytest.raises(ValueError, match="trained on TEST02_y"):
        train_live(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_a_step_with_a_nan_loss_is_skipped_and_leaves_the_weights_alone():
    torch.manual_seed(0)
    model = StrcnnDtb(StrcnnConfig(width=8))
    cfg = LiveTrainConfig(width=8, lr=1e-3, warmup=0, schedule="step")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    blurry, sharp = _fixed_batch()
    train_step(model, opt, blurry, sharp, cfg, 0, use_amp=False)  # Adam has state now
    before = {k: v.clone() for k, v in model.state_dict().items()}
    poisoned = blurry.clone()
    poisoned[0, 0, 0, 0, 0] = float("nan")
    assert np.isnan(train_step(model, opt, poisoned, sharp, cfg, 1, use_amp=False))
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert np.isfinite(train_step(model, opt, blurry, sharp, cfg, 2, use_amp=False))


def test_clip_grad_caps_the_gradient_norm_of_a_step():
    torch.manual_seed(0)
    model = StrcnnDtb(StrcnnConfig(width=8))
    cfg = LiveTrainConfig(width=8, lr=1e-3, warmup=0, schedule="step", clip_grad=1e-4)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    blurry, sharp = _fixed_batch()
    for step in range(60):  # past the zero-initialised output layer's plateau
        train_step(model, opt, blurry, sharp, cfg, step, use_amp=False)
    norm = torch.linalg.vector_norm(torch.stack(
        [torch.linalg.vector_norm(p.grad) for p in model.parameters() if p.grad is not None]))
    assert 0 < float(norm) <= 1e-4 * (1 + 1e-3)


def test_a_diverging_run_stops_in_one_line_and_never_saves_nan_weights(tmp_path):
    from deblur_ros.core.training.live_trainer import TrainingDivergedError, train_live

    (tmp_path / "photos").mkdir()  # procedural images
    cfg = LiveTrainConfig(width=4, crop=32, clip_frames=3, batch=1, workers=0, device="cpu",
                          lr=1e4, warmup=0, schedule="step", iterations=200, save_every=1,
                          val_every=1, val_photos=1, val_size=32, amp=False,
                          photo_root=str(tmp_path / "photos"))
    with pytest.raises(TrainingDivergedError, match=r"diverged .*--lr or with --clip-grad"):
        train_live(cfg, tmp_path / "run", progress=True)  # the bar and log lines too
    last = tmp_path / "run" / "last.pt"
    if last.exists():  # whatever was saved is a state the run can go on from
        state = torch.load(last, weights_only=False)
        assert all(torch.isfinite(v).all() for v in state["state_dict"].values())
