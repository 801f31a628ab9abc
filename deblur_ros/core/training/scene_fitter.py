"""Fits a scene U-Net to the sharpest frames of one drive, within a budget.

Step-able and without threads of its own: the sidecar node runs :meth:`SceneFitter.fit`
in a worker process (its own thread pool, so a fit cannot starve a live node), the
evaluator and the CLI call it directly, tests call :meth:`step`. Progress is judged on a
fixed probe: crops of the selected frames blurred with fixed kernels, scored in PSNR
every ``probe_every`` steps. The probe decides early stopping and which weights are
kept (the best probe, never a later, worse step), and it uses nothing but the drive's
own frames, as fitting to test data must.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deblur_ros.core.hardware import cpu_has_bf16, hardware_description
from deblur_ros.core.models.checkpoint import SCENE_ARCHITECTURE, load_model, save_checkpoint
from deblur_ros.core.models.unet import UNet, UNetConfig, widened
from deblur_ros.core.synthesis.kernels import linear_motion_kernel
from deblur_ros.core.synthesis.scene_patches import PatchSpec, ScenePatches, to_batch
from deblur_ros.core.training.scene_losses import (
    PatchCritic,
    PerceptualLoss,
    gradient_penalty,
    pixel_fft_loss,
    reweighted,
)


@dataclass(frozen=True)
class FitConfig:
    # Width 32 (2.7 M parameters), widened from the width-16 MAML init: on the validation
    # drives, 3,000 steps with long kernels gave 30.05 dB at width 32 against 29.84 at
    # 24 (MODELS.md, "Width and long kernels"); a step costs 0.16 s against 0.07 s at 16
    # on 1 thread of the Xeon (AMX), and the 600 s budget bought 3,036-3,357 steps there.
    width: int = 32
    depth: int = 3
    lr: float = 1e-3
    # Cosine decay of the learning rate over the budget (by its fraction used, time or
    # iterations), to lr * lr_floor at the end; "constant" keeps lr. Measured on a
    # validation drive: at a constant rate the drive's PSNR swings +-0.3 dB from one
    # probe to the next (MODELS.md); the decay settles it at the end of the budget.
    lr_schedule: str = "cosine"
    lr_floor: float = 0.05
    patches: PatchSpec = field(default_factory=PatchSpec)
    reweight: bool = True
    vgg19_weights: str | None = None  # torchvision VGG19 state dict; None: download-free loss
    adversarial: float = 0.0  # weight of the WGAN-GP generator term; 0 switches it off
    critic_width: int = 16
    critic_lr: float = 1e-4
    gp_weight: float = 10.0
    # bf16 autocast and channels-last where the CPU has native bf16 units (AVX512_BF16,
    # AMX): measured 0.196 -> 0.090 s per step on 1 thread of the AMD EPYC, so a
    # wall-clock budget buys 2.2x the steps; the loss, the probe and the weights stay fp32.
    amp: bool = True
    probe_every: int = 50
    probe_size: int = 8
    patience: int = 8  # probes without a gain of min_delta_db before stopping early
    # ... but never before this fraction of the budget: under the cosine decay the drive
    # gains most as the rate falls, while the probe stalls in the first half. Measured on
    # drive00 with the 14k-step MAML init: stopped at 189 s (+2.87 dB) against +3.54 dB
    # for the whole 600 s.
    early_stop_after: float = 0.5
    min_delta_db: float = 0.02
    seed: int = 0


@dataclass(frozen=True)
class FitBudget:
    """Whichever comes first; None means no limit of that kind (not both)."""

    iterations: int | None = None
    seconds: float | None = 600.0

    def __post_init__(self) -> None:
        if self.iterations is None and self.seconds is None:
            raise ValueError("a fit needs a budget: iterations, seconds or both")
        if (self.iterations is not None and self.iterations < 1) or \
                (self.seconds is not None and self.seconds <= 0):
            raise ValueError(f"fit budget must be positive (got {self})")


@dataclass
class FitProgress:
    step: int
    elapsed_s: float
    loss: float
    fraction: float  # of the budget used, 0..1
    probe_input_psnr: float | None = None
    probe_output_psnr: float | None = None


@dataclass
class FitResult:
    iterations: int
    seconds: float
    stopped: str  # "iterations", "time", "converged", "cancelled" or "diverged"
    best_step: int
    probe_input_psnr: float
    probe_output_psnr: float
    losses: list[tuple[int, float, float]]  # (step, elapsed s, mean loss since last probe)
    probes: list[tuple[int, float, float]]  # (step, elapsed s, probe output PSNR)
    frames: list[dict[str, Any]]
    init: str
    config: dict[str, Any]
    skipped_steps: int = 0  # steps with a non-finite loss or gradient, not applied

    def metadata(self) -> dict[str, Any]:
        return asdict(self) | {"hardware": hardware_description(torch.device("cpu")),
                               "torch": torch.__version__}


class SceneFitter:
    """Owns the network, optimiser, patch sampler and probe of one fit."""

    def __init__(self, frames: Sequence[np.ndarray], config: FitConfig | None = None,
                 init: str | Path | nn.Module | None = None,
                 frame_info: Sequence[dict[str, Any]] | None = None) -> None:
        self.config = config or FitConfig()
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.model, self.init_name = _initial_model(init, cfg)
        self.model.train()
        self.use_amp = cfg.amp and cpu_has_bf16()
        if self.use_amp:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.patches = ScenePatches(frames, cfg.patches, seed=cfg.seed)
        self.frame_info = list(frame_info or [{"index": i} for i in range(len(frames))])
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.loss_fn: Callable = (PerceptualLoss(cfg.vgg19_weights) if cfg.vgg19_weights
                                  else pixel_fft_loss)
        self.critic: PatchCritic | None = None
        if cfg.adversarial > 0:
            self.critic = PatchCritic(cfg.critic_width)
            self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr,
                                               betas=(0.5, 0.9))
        if cfg.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be cosine or constant, not {cfg.lr_schedule!r}")
        self.probe = self._make_probe()
        self.step_count = 0
        self.skipped_steps = 0  # non-finite steps not applied (see step())

    def _make_probe(self) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.config.seed, 99])
        max_len = self.config.patches.max_kernel
        blurry, sharp = [], []
        for i in range(self.config.probe_size):
            # Lengths spread over the range, so the probe weighs mild and strong blur alike.
            length = max_len * (i + 0.5) / self.config.probe_size
            kernel = linear_motion_kernel(length, float(rng.uniform(0, 180)))
            crop = self.patches.crops(rng, 1)[0]
            blurry.append(self.patches.blur(crop, rng, kernel))
            sharp.append(crop)
        return to_batch(blurry), to_batch(sharp)

    def learning_rate(self, fraction: float) -> float:
        """The rate at ``fraction`` (0..1) of the budget."""
        cfg = self.config
        if cfg.lr_schedule == "constant":
            return cfg.lr
        decay = 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, fraction))))
        return cfg.lr * (cfg.lr_floor + (1.0 - cfg.lr_floor) * decay)

    def step(self, fraction: float | None = None) -> float:
        """One optimiser step on a fresh batch; returns its (reweighted) loss.

        ``fraction`` of the budget used so far sets the learning rate (None: unchanged).
        """
        if fraction is not None:
            for group in self.optimiser.param_groups:
                group["lr"] = self.learning_rate(fraction)
        blurry, sharp, weights = self.patches.batch()
        if not self.config.reweight:
            weights = torch.ones_like(weights)
        if self.use_amp:
            blurry = blurry.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.use_amp):
            output = self.model(blurry)
        output = output.float()
        loss = reweighted(self.loss_fn(output, sharp), weights)
        if self.critic is not None:
            self._critic_step(output.detach(), sharp)
            loss = loss - self.config.adversarial * self.critic(output).mean()
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        # One non-finite step applied by Adam makes every weight NaN for good; skipped, it
        # leaves the weights and the optimiser's moments as they were.
        grad_norm = torch.nn.utils.get_total_norm(
            [p.grad for p in self.model.parameters() if p.grad is not None])
        self.step_count += 1
        value = float(loss.detach())
        if not (math.isfinite(value) and math.isfinite(float(grad_norm))):
            self.optimiser.zero_grad(set_to_none=True)
            self.skipped_steps += 1
            return float("nan")
        self.optimiser.step()
        return value

    def _critic_step(self, fake: torch.Tensor, real: torch.Tensor) -> None:
        critic = self.critic
        loss = critic(fake).mean() - critic(real).mean() + \
            self.config.gp_weight * gradient_penalty(critic, real, fake)
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()

    @torch.no_grad()
    def probe_psnr(self) -> tuple[float, float]:
        """(input, output) PSNR on the fixed probe crops."""
        blurry, sharp = self.probe
        self.model.eval()
        out = self.model(blurry).clamp(0, 1)
        self.model.train()
        return tensor_psnr(blurry, sharp), tensor_psnr(out, sharp)

    def fit(self, budget: FitBudget, progress: Callable[[FitProgress], None] | None = None,
            cancelled: Callable[[], bool] | None = None, threads: int = 0) -> FitResult:
        """Steps until the budget is spent, the probe stops improving, or ``cancelled()``.

        Leaves the best-probe weights in :attr:`model`. ``threads`` > 0 sets PyTorch's
        thread pool, which is per process: give a fit its own process to isolate it.
        """
        if threads > 0:
            torch.set_num_threads(threads)
        cfg = self.config
        start = time.monotonic()
        probe_in, best_psnr = self.probe_psnr()
        best_state = _copy_state(self.model)
        best_step, since_best, stopped = 0, 0, "iterations"
        losses: list[tuple[int, float, float]] = []
        probes: list[tuple[int, float, float]] = [(0, 0.0, best_psnr)]
        window: list[float] = []
        skipped_in_a_row = 0
        while True:
            elapsed = time.monotonic() - start
            if cancelled is not None and cancelled():
                stopped = "cancelled"
                break
            if budget.iterations is not None and self.step_count >= budget.iterations:
                stopped = "iterations"
                break
            if budget.seconds is not None and elapsed >= budget.seconds:
                stopped = "time"
                break
            loss = self.step(_fraction(budget, self.step_count, elapsed))
            if math.isfinite(loss):
                window.append(loss)
                skipped_in_a_row = 0
            else:
                skipped_in_a_row += 1
                if skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW:
                    stopped = "diverged"  # the best probe's weights are kept, as always
                    break
            if self.step_count % cfg.probe_every == 0:
                elapsed = time.monotonic() - start
                _, psnr = self.probe_psnr()
                mean_loss = float(np.mean(window)) if window else float("nan")
                losses.append((self.step_count, elapsed, mean_loss))
                probes.append((self.step_count, elapsed, psnr))
                window = []
                if psnr > best_psnr + cfg.min_delta_db:
                    best_psnr, best_step, since_best = psnr, self.step_count, 0
                    best_state = _copy_state(self.model)
                else:
                    since_best += 1
                used = _fraction(budget, self.step_count, elapsed)
                if progress is not None:
                    progress(FitProgress(self.step_count, elapsed, losses[-1][2], used,
                                         probe_in, psnr))
                if since_best >= cfg.patience and used >= cfg.early_stop_after:
                    stopped = "converged"
                    break
        self.model.load_state_dict(best_state)
        self.model.eval()
        return FitResult(
            iterations=self.step_count, seconds=round(time.monotonic() - start, 2),
            stopped=stopped, best_step=best_step, probe_input_psnr=probe_in,
            probe_output_psnr=best_psnr, losses=losses, probes=probes,
            frames=self.frame_info, init=self.init_name, config=asdict(cfg),
            skipped_steps=self.skipped_steps)

    def save(self, path: str | Path, result: FitResult, extra: dict[str, Any] | None = None
             ) -> Path:
        """The fitted scene model as a checkpoint (architecture ``unet``) with the fit's record."""
        meta = {"name": self.model.config.name, "kind": "scene"} | result.metadata() | \
            (extra or {})
        return save_checkpoint(path, self.model, meta)


def _initial_model(init: str | Path | nn.Module | None, cfg: FitConfig) -> tuple[UNet, str]:
    """A fresh U-Net (zero output layer: the identity), or a copy of a given one
    (a MAML initialisation, a previous drive's model), widened to ``cfg.width`` where it
    is narrower (the width-16 MAML init starts a wider fit with its own function)."""
    if init is None:
        return UNet(UNetConfig(cfg.width, cfg.depth)), "random"
    if isinstance(init, nn.Module):
        if not isinstance(init, UNet):
            raise ValueError(f"a scene fit starts from a U-Net, not {type(init).__name__}")
        model, name = UNet(init.config), "given"
        model.load_state_dict(init.state_dict())
    else:
        model, meta = load_model(init, "cpu", architecture=SCENE_ARCHITECTURE)
        name = str(meta.get("name", Path(init).stem)) + f" ({Path(init).name})"
    if model.config.width < cfg.width:
        model = widened(model, cfg.width)
        name += f", widened to {cfg.width}"
    return model, name


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def tensor_psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR (peak 1) of two image batches, over all their pixels."""
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _fraction(budget: FitBudget, steps: int, elapsed: float) -> float:
    parts = []
    if budget.iterations is not None:
        parts.append(steps / budget.iterations)
    if budget.seconds is not None:
        parts.append(elapsed / budget.seconds)
    return min(1.0, max(parts))



DEFAULT_BUDGET = FitBudget(seconds=600.0)
"""Ten CPU minutes per drive (1 thread): what the sidecar, the bag tool and ``eval --model
scene`` use unless told; the validation drives still gained from 300 to 600 s (MODELS.md)."""

MAX_SKIPPED_IN_A_ROW = 20
"""Non-finite steps in a row after which a fit stops as "diverged" rather than spend its
budget on steps that cannot be applied (as the live trainer does)."""

SCENE_INIT_MODEL = "unet-w16-d3-maml"
"""The shipped MAML initialisation (models/MODELS.md)."""


def resolve_scene_init(spec: str | Path | None) -> str | Path | None:
    """``auto``: the shipped MAML initialisation when installed, else random; ``random``:
    random; anything else: a checkpoint path."""
    from deblur_ros.core.models.checkpoint import models_dir

    if spec is None or str(spec) == "random":
        return None
    if str(spec) == "auto":
        shipped = models_dir() / f"{SCENE_INIT_MODEL}.pt"
        return shipped if shipped.is_file() else None
    return spec
