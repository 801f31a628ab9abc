"""The scene fitter: a short fit on the CPU lowers the loss, beats the blurry input on its
own drive, honours its budget and cancellation, and its checkpoint loads back; MAML steps
run in both orders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblur_ros.core.inference.scene import SceneDeblurrer
from deblur_ros.core.scoring.metrics import psnr
from deblur_ros.core.sharpness import select_sharpest
from deblur_ros.core.synthesis.kernels import blur_linear_light, linear_motion_kernel
from deblur_ros.core.synthesis.procedural import dead_leaves
from deblur_ros.core.synthesis.scene_patches import PatchSpec
from deblur_ros.core.training.scene_fitter import FitBudget, FitConfig, SceneFitter

SMALL = FitConfig(width=16, depth=2, lr=1e-3, probe_every=20, patience=100,
                  patches=PatchSpec(crop=48, batch=4, max_kernel=9.0, noise_prob=0.0))


def _drive(n: int = 40, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A camera panning over one scene; every 10th frame sharp, the others 4-8 px blur."""
    rng = np.random.default_rng(seed)
    scene = dead_leaves(96, 200, rng).astype(np.float32) / 255.0
    blurry, sharp = [], []
    for i in range(n):
        view = scene[8:72, 2 * i: 2 * i + 96]
        length = 0.0 if i % 10 == 3 else float(rng.uniform(4, 8))
        out = blur_linear_light(view, linear_motion_kernel(length, float(rng.uniform(0, 180))))
        blurry.append((out * 255 + 0.5).astype(np.uint8))
        sharp.append((view * 255 + 0.5).astype(np.uint8))
    return blurry, sharp


def test_a_short_fit_lowers_the_loss_and_beats_the_blurry_input_on_its_drive():
    torch.set_num_threads(1)
    blurry, sharp = _drive()
    chosen = select_sharpest(blurry, window=10)
    assert [s.index for s in chosen] == [3, 13, 23, 33]
    fitter = SceneFitter([s.frame for s in chosen], SMALL)
    result = fitter.fit(FitBudget(iterations=400, seconds=None))
    # The probe (fixed crops and kernels) is the loss that can be compared between steps;
    # a batch's own loss swings with its random kernels.
    assert result.probe_output_psnr > result.probe_input_psnr + 0.4, result.probes
    assert result.stopped == "iterations" and result.iterations == 400
    deblurrer = SceneDeblurrer(fitter.model)
    blurry_frames = [i for i in range(len(blurry)) if i % 10 != 3]
    before = np.mean([psnr(blurry[i], sharp[i]) for i in blurry_frames])
    after = np.mean([psnr(deblurrer.deblur(blurry[i]), sharp[i]) for i in blurry_frames])
    assert after > before + 0.3, (before, after)



def test_bf16_steps_follow_the_fp32_ones_where_the_cpu_has_bf16():
    """The fitter's bf16 autocast (2.2x the steps per second here) must train the same
    network: from the same weights and batches, 100 steps end at nearly the same probe."""
    from deblur_ros.core.hardware import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no native bf16: the fitter runs fp32 only")
    torch.set_num_threads(1)
    blurry, _ = _drive(20)
    fitters = [SceneFitter(blurry[:2], FitConfig(**{**SMALL.__dict__, "amp": amp}))
               for amp in (False, True)]
    assert [f.use_amp for f in fitters] == [False, True]
    losses = [[f.step() for _ in range(100)] for f in fitters]
    start = fitters[0].probe_psnr()[0]
    probes = [f.probe_psnr()[1] for f in fitters]
    assert probes[0] > start + 0.15, (start, probes)  # fp32 learnt something to compare
    assert abs(probes[1] - probes[0]) < 0.1, (start, probes)  # measured: 0.002 dB
    assert np.allclose(losses[0][:3], losses[1][:3], rtol=0.05), losses
    assert next(fitters[1].model.parameters()).dtype == torch.float32  # weights stay fp32


def test_budget_cancellation_and_progress():
    blurry, _ = _drive(20)
    fitter = SceneFitter(blurry[:2], SMALL)
    seen = []
    result = fitter.fit(FitBudget(iterations=1000, seconds=None), progress=seen.append,
                        cancelled=lambda: len(seen) >= 2)
    assert result.stopped == "cancelled" and result.iterations == 40
    assert [p.step for p in seen] == [20, 40] and 0 < seen[-1].fraction < 0.1
    timed = SceneFitter(blurry[:2], SMALL).fit(FitBudget(seconds=0.5))
    assert timed.stopped == "time" and timed.seconds < 5


def test_the_learning_rate_decays_over_the_budget_the_fit_uses():
    blurry, _ = _drive(20)
    fitter = SceneFitter(blurry[:2], SMALL)
    rates = [fitter.learning_rate(f) for f in np.linspace(0, 1, 11)]
    assert rates[0] == SMALL.lr and rates[-1] == pytest.approx(SMALL.lr * SMALL.lr_floor)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    seen = []
    fitter.fit(FitBudget(iterations=100, seconds=None),
               progress=lambda p: seen.append(fitter.optimiser.param_groups[0]["lr"]))
    # Set before each step from the fraction used: step 20 of 100 ran at fraction 0.19.
    assert seen[0] == pytest.approx(fitter.learning_rate(19 / 100))
    assert seen[-1] == pytest.approx(fitter.learning_rate(99 / 100)) and seen[-1] < seen[0]
    flat = SceneFitter(blurry[:2], FitConfig(**{**SMALL.__dict__, "lr_schedule": "constant"}))
    assert flat.learning_rate(0.9) == SMALL.lr
    with pytest.raises(ValueError, match="lr_schedule"):
        SceneFitter(blurry[:2], FitConfig(**{**SMALL.__dict__, "lr_schedule": "step"}))


def test_early_stopping_keeps_the_best_probe_weights():
    blurry, _ = _drive(20)
    config = FitConfig(**{**SMALL.__dict__, "patience": 1, "min_delta_db": 100.0})
    fitter = SceneFitter(blurry[:2], config)
    result = fitter.fit(FitBudget(iterations=200, seconds=None))
    # No probe can gain 100 dB: it stops at the first probe past half the budget (probes
    # every 20 steps: step 100) and keeps the start (identity).
    assert result.stopped == "converged" and result.best_step == 0
    assert result.iterations == 100
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(fitter.model(x), x)


def test_a_fit_whose_steps_turn_non_finite_stops_as_diverged_with_finite_weights():
    blurry, _ = _drive(20)
    fitter = SceneFitter(blurry[:2], SMALL)
    real_batch = fitter.patches.batch
    calls = {"n": 0}

    def poisoned_after_40() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        calls["n"] += 1
        crops, sharp, weights = real_batch()
        if calls["n"] > 40:  # a corrupt frame's NaN reaches the loss from step 41 on
            crops = torch.full_like(crops, float("nan"))
        return crops, sharp, weights

    fitter.patches.batch = poisoned_after_40
    fitter.fit(FitBudget(iterations=40, seconds=None))
    trained = {k: v.clone() for k, v in fitter.model.state_dict().items()}
    fitter.step()  # skipped: nothing moves, Adam's moments included
    assert fitter.skipped_steps == 1
    assert all(torch.equal(v, fitter.model.state_dict()[k]) for k, v in trained.items())
    result = fitter.fit(FitBudget(iterations=1000, seconds=None))
    # 20 skipped steps in a row end the fit instead of spending the budget on them.
    assert result.stopped == "diverged" and result.skipped_steps == 1 + 20
    assert result.iterations == 40 + 1 + 20
    assert all(torch.isfinite(v).all() for v in fitter.model.state_dict().values())
    assert all(np.isfinite(loss) or step > 40 for step, _, loss in result.losses)


def test_fitted_scene_model_saves_and_loads(tmp_path):
    blurry, _ = _drive(20)
    fitter = SceneFitter(blurry[:2], SMALL, frame_info=[{"index": 3}, {"index": 13}])
    result = fitter.fit(FitBudget(iterations=20, seconds=None))
    path = fitter.save(tmp_path / "scene.pt", result)
    loaded = SceneDeblurrer.from_checkpoint(path)
    frame = blurry[5]
    assert np.array_equal(loaded.deblur(frame), SceneDeblurrer(fitter.model).deblur(frame))
    from deblur_ros.core.models.checkpoint import load_model

    _, meta = load_model(path, architecture="unet")
    assert meta["kind"] == "scene" and meta["frames"] == [{"index": 3}, {"index": 13}]
    assert meta["iterations"] == 20 and meta["hardware"]


def test_a_narrower_init_is_widened_to_the_same_function_and_then_learns(tmp_path):
    """A width-8 init in a width-12 fit: step 0 deblurs exactly as the init does (the new
    units are read by nothing yet), the saved fit is width 12, and the new units' weights
    move in the first steps (they get a gradient); a narrower fit than its init is not
    asked for, so the init keeps its own width."""
    from deblur_ros.core.models.checkpoint import save_checkpoint
    from deblur_ros.core.models.unet import UNet, UNetConfig, widened

    torch.manual_seed(1)
    small = UNet(UNetConfig(8, 2))
    for p in small.tail.parameters():  # an init that is not the identity
        torch.nn.init.normal_(p, std=0.05)
    init = save_checkpoint(tmp_path / "init.pt", small)
    blurry, _ = _drive(20)
    cfg = FitConfig(**{**SMALL.__dict__, "width": 12, "amp": False})
    fitter = SceneFitter(blurry[:2], cfg, init=init)
    assert fitter.model.config.width == 12 and "widened to 12" in fitter.init_name
    frame = blurry[5]
    assert np.abs(SceneDeblurrer(fitter.model).deblur(frame).astype(int)
                  - SceneDeblurrer(small).deblur(frame).astype(int)).max() <= 1
    new_rows = fitter.model.head.conv1.weight[8:].detach().clone()
    read_by_old = fitter.model.head.conv2.weight[:8, 8:].detach().clone()
    assert torch.count_nonzero(read_by_old) == 0
    for _ in range(5):  # plain steps: fit() would hand back its best probe, step 0's
        fitter.step(0.5)
    assert not torch.equal(fitter.model.head.conv2.weight[:8, 8:], read_by_old)
    assert not torch.equal(fitter.model.head.conv1.weight[8:], new_rows)
    narrower = FitConfig(**{**SMALL.__dict__, "width": 4})
    assert SceneFitter(blurry[:2], narrower, init=init).model.config.width == 8
    with pytest.raises(ValueError, match="cannot narrow"):
        widened(small, 4)


def test_fit_refuses_no_frames_and_a_live_model_as_init(tmp_path):
    with pytest.raises(ValueError, match="no sharp frames"):
        SceneFitter([], SMALL)
    from deblur_ros.core.models.checkpoint import CheckpointError, save_checkpoint
    from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb

    live = save_checkpoint(tmp_path / "live.pt", StrcnnDtb(StrcnnConfig(width=4)))
    with pytest.raises(CheckpointError, match="not the 'unet'"):
        SceneFitter(_drive(2)[0], SMALL, init=live)


@pytest.mark.parametrize("first_order", [True, False])
def test_maml_step_moves_the_initial_weights_and_resumes(tmp_path, first_order):
    from deblur_ros.core.training.meta import MetaConfig, MetaTrainer

    cfg = MetaConfig(width=4, depth=2, tasks=2, crops=2, crop=32, scene_size=64,
                     first_order=first_order, photo_root=str(tmp_path / "none"))
    trainer = MetaTrainer(cfg)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    loss = trainer.step()
    assert np.isfinite(loss) and loss > 0
    moved = [k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])]
    assert "tail.weight" in moved and len(moved) > len(before) // 2
    path = trainer.save(tmp_path / "last.pt")
    again = MetaTrainer(cfg)
    again.resume(path)
    assert again.step_count == 1
    assert all(torch.equal(v, trainer.model.state_dict()[k])
               for k, v in again.model.state_dict().items())
    # The same generator state: the next tasks match.
    a, b = trainer._task(), again._task()
    assert torch.equal(a[2], b[2])


def test_still_crops_are_blurred_by_at_most_a_pixel_and_off_changes_nothing():
    """still_prob: a share of crops nearly sharp; when off (the default) the crops and
    their blur are exactly what they were before the option existed."""
    from deblur_ros.core.synthesis.scene_patches import ScenePatches

    frame = dead_leaves(96, 96, np.random.default_rng(3))
    plain = PatchSpec(crop=48, batch=6, noise_prob=0.0)
    still = PatchSpec(crop=48, batch=6, noise_prob=0.0, still_prob=1.0)
    b0, s0, _ = ScenePatches([frame], plain, seed=5).batch()
    b1, s1, _ = ScenePatches([frame], still, seed=5).batch()
    gap = lambda b, s: float((b - s).abs().mean())  # noqa: E731
    assert gap(b1, s1) < 0.3 * gap(b0, s0)  # streaks <= 1 px against up to 21 px
    off = PatchSpec(crop=48, batch=6, noise_prob=0.0, still_prob=0.0)
    b2, s2, _ = ScenePatches([frame], off, seed=5).batch()
    assert torch.equal(b0, b2) and torch.equal(s0, s2)


def test_shake_share_bends_kernels_and_off_changes_nothing():
    """shake_prob 1: kernels spread across their streak (bent); 0, the default: exactly the
    draws of the straight-only recipe, so earlier fits and MAML runs stay identical."""
    from deblur_ros.core.synthesis.kernels import linear_motion_kernel
    from deblur_ros.core.synthesis.scene_patches import draw_kernel, streak_length
    from deblur_ros.core.training.meta import MetaConfig

    def thickness(k: np.ndarray) -> float:  # smallest principal variance, px^2
        ys, xs = np.mgrid[: k.shape[0], : k.shape[1]]
        pts = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
        w = k.ravel().astype(np.float64)
        mean = (pts * w[:, None]).sum(0)
        cov = ((pts - mean).T * w) @ (pts - mean)
        return float(np.linalg.eigvalsh(cov)[0])

    for seed in range(5):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        assert np.array_equal(draw_kernel(a, 21.0, 0.0, 0.0),
                              linear_motion_kernel(streak_length(b, 21.0, 0.0),
                                                   float(b.uniform(0.0, 180.0))))
    rng = np.random.default_rng(1)
    straight = np.mean([thickness(draw_kernel(rng, 21.0, 0.0, 0.0)) for _ in range(30)])
    bent = np.mean([thickness(draw_kernel(rng, 21.0, 0.0, 1.0)) for _ in range(30)])
    assert straight < 0.35 and bent > 2 * straight
    with pytest.raises(ValueError, match="shake"):
        MetaConfig(shake_prob=1.5)


def test_long_kernel_share_draws_beyond_p_and_off_changes_nothing():
    """long_prob 1: every streak from (p, long_kernel); 0.5: about half; 0 (the default):
    exactly the draws of the recipe without the option."""
    from deblur_ros.core.synthesis.scene_patches import streak_length

    rng = np.random.default_rng(0)
    long = [streak_length(rng, 21.0, 0.0, 1.0, 35.0) for _ in range(200)]
    assert min(long) >= 21.0 and max(long) <= 35.0 and max(long) > 33.0
    half = [streak_length(rng, 21.0, 0.0, 0.5, 35.0) for _ in range(400)]
    assert 0.4 < np.mean(np.array(half) > 21.0) < 0.6
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    assert [streak_length(a, 21.0, 0.0, 0.0, 35.0) for _ in range(20)] == \
        [float(b.uniform(0.0, 21.0)) for _ in range(20)]


def test_maml_still_kernels_and_warm_start(tmp_path):
    """still_prob makes MAML's kernels nearly sharp (off: the same draws as before the
    option existed, so old runs resume identically); init warm-starts the weights and
    refuses a U-Net of another shape in one line."""
    from deblur_ros.core.models.checkpoint import save_checkpoint
    from deblur_ros.core.models.unet import UNet, UNetConfig
    from deblur_ros.core.synthesis.scene_patches import streak_length
    from deblur_ros.core.training.meta import MetaConfig, MetaTrainer, _fixed_tasks, adapted_psnr

    def length(trainer: MetaTrainer) -> float:  # the rule MetaTrainer._task draws with
        return streak_length(trainer.rng, trainer.config.max_kernel, trainer.config.still_prob)

    base = dict(width=4, depth=2, tasks=1, crops=2, crop=32, scene_size=64,
                first_order=True, photo_root=str(tmp_path / "none"))
    still = MetaTrainer(MetaConfig(**base, still_prob=1.0))
    assert all(length(still) <= 1.0 for _ in range(50))
    plain = MetaTrainer(MetaConfig(**base))
    reference = np.random.default_rng(plain.config.seed)
    assert [length(plain) for _ in range(5)] == \
        [float(reference.uniform(0, plain.config.max_kernel)) for _ in range(5)]
    val = adapted_psnr(plain, _fixed_tasks(plain, 2))
    assert set(val) == {"input_psnr", "output_psnr", "still_psnr"}
    assert np.isfinite(val["still_psnr"])

    source = UNet(UNetConfig(4, 2))
    torch.nn.init.normal_(source.tail.weight)
    path = save_checkpoint(tmp_path / "init.pt", source, {"name": "x"})
    warm = MetaTrainer(MetaConfig(**base, init=str(path)))
    assert torch.equal(warm.model.tail.weight, source.tail.weight)
    with pytest.raises(ValueError, match="pass its width and depth"):
        MetaTrainer(MetaConfig(**(base | {"width": 8}), init=str(path)))
