"""MAML initialisation of the scene U-Net (Ren, Qian, Chen, Algorithm 1).

Fitting from random weights spends most of its budget learning "deblur at all" before it
learns the scene. MAML finds starting weights from which one gradient step on a scene's
own patches already helps: for each task (a photo standing in for a drive's sharp
frames), take one SGD step of size alpha on its patches blurred with kernel k1, then
score the adapted weights on the same patches blurred with a second kernel k2, and move
the initial weights (Adam, step beta) to lower that score summed over tasks.

Second-order MAML differentiates through the inner step (double backward); first-order
MAML treats the inner gradient as a constant. Both are here; which one the shipped
initialisation used, and what each cost per step on the CPU, is in models/MODELS.md.
Training photos only (cbsd68, mcmaster18): the validation drives are never seen.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from deblur_ros.core.hardware import cpu_has_bf16, hardware_description
from deblur_ros.core.models.checkpoint import read_checkpoint, save_checkpoint
from deblur_ros.core.models.unet import UNet, UNetConfig
from deblur_ros.core.synthesis.photos import TRAIN_SETS, PhotoPool, default_photo_root
from deblur_ros.core.synthesis.scene_patches import (
    PatchSpec,
    ScenePatches,
    draw_kernel,
    to_batch,
)
from deblur_ros.core.training.scene_fitter import tensor_psnr
from deblur_ros.core.training.scene_losses import pixel_fft_loss, reweighted


@dataclass(frozen=True)
class MetaConfig:
    width: int = 16
    depth: int = 3
    inner_lr: float = 0.01  # alpha: the inner SGD step
    outer_lr: float = 3e-4  # beta: Adam on the initial weights
    tasks: int = 4  # scenes per meta-step
    crops: int = 4  # patches per scene
    crop: int = 64
    max_kernel: float = 21.0  # as the fitter (PatchSpec)
    first_order: bool = False  # second order: 0.42 s per meta-step against 0.23 (measured)
    # bf16 autocast for the forward passes where the CPU has native bf16 (the scene fitter
    # measured 2.2x the steps); first order only: double backward stays in fp32.
    amp: bool = True
    scene_size: int = 256  # each task's "drive": a 256x256 view of one photo
    seed: int = 0
    photo_root: str | None = None
    # Share of kernels (support and query, each drawn apart) of at most 1 px: an init
    # that never sees sharp input learns to sharpen whatever it is given, and took nearly
    # still drives 44 -> 38 dB before any fit step (MODELS.md). 0 draws nothing, so runs
    # begun without it resume bit-identically.
    still_prob: float = 0.0
    shake_prob: float = 0.0  # share of kernels bent by tremor (PatchSpec.shake_prob)
    init: str | None = None  # warm start: weights of this U-Net checkpoint, fresh optimiser

    def __post_init__(self) -> None:
        if not 0.0 <= self.still_prob <= 1.0:
            raise ValueError(f"--still-prob is a share of kernels, 0..1 (got {self.still_prob})")
        if not 0.0 <= self.shake_prob <= 1.0:
            raise ValueError(f"--shake-prob is a share of kernels, 0..1 (got {self.shake_prob})")


class MetaTrainer:
    """Meta-trains a U-Net initialisation; step-able, resumable from a saved state."""

    def __init__(self, config: MetaConfig | None = None) -> None:
        self.config = cfg = config or MetaConfig()
        torch.manual_seed(cfg.seed)
        self.model = UNet(UNetConfig(cfg.width, cfg.depth))
        if cfg.init:
            payload = read_checkpoint(cfg.init, architecture="unet")
            if UNetConfig(**payload["config"]) != self.model.config:
                raise ValueError(f"--init {cfg.init} is a {payload['config']} U-Net, not "
                                 f"width {cfg.width} depth {cfg.depth}: pass its width and "
                                 "depth")
            self.model.load_state_dict(payload["state_dict"])
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=cfg.outer_lr)
        root = Path(cfg.photo_root) if cfg.photo_root else default_photo_root()
        self.pool = PhotoPool(root, TRAIN_SETS, procedural_fraction=0.1)
        self.spec = PatchSpec(crop=cfg.crop, batch=cfg.crops, max_kernel=cfg.max_kernel)
        self.rng = np.random.default_rng(cfg.seed)
        self.step_count = 0
        self.elapsed_s = 0.0
        self.history: list[dict[str, Any]] = []
        self.use_amp = cfg.amp and cfg.first_order and cpu_has_bf16()

    def _forward(self, params: dict[str, torch.Tensor], blurry: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.use_amp):
            out = functional_call(self.model, params, (blurry,))
        return out.float()

    def _task(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(blur with k1, blur with k2, sharp, weights) for one scene's patches."""
        rng, s = self.rng, self.config.scene_size
        scene = ScenePatches([self.pool.sample(rng, s, s)], self.spec,
                             seed=int(rng.integers(2**31)))
        sharp = scene.crops(rng, self.config.crops)
        cfg = self.config
        kernels = [draw_kernel(rng, cfg.max_kernel, cfg.still_prob, cfg.shake_prob)
                   for _ in range(2)]
        blurs = [[scene.blur(c, rng, k) for c in sharp] for k in kernels]
        weights = torch.tensor([scene.weight(c) for c in sharp], dtype=torch.float32)
        return to_batch(blurs[0]), to_batch(blurs[1]), to_batch(sharp), weights

    def step(self) -> float:
        """One meta-step over ``tasks`` scenes; returns the mean outer (query) loss."""
        cfg = self.config
        start = time.monotonic()
        params = dict(self.model.named_parameters())
        self.optimiser.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(cfg.tasks):
            support, query, sharp, weights = self._task()
            inner = reweighted(pixel_fft_loss(self._forward(params, support), sharp), weights)
            grads = torch.autograd.grad(inner, list(params.values()),
                                        create_graph=not cfg.first_order)
            adapted = {name: p - cfg.inner_lr * (g.detach() if cfg.first_order else g)
                       for (name, p), g in zip(params.items(), grads)}
            outer = reweighted(pixel_fft_loss(self._forward(adapted, query), sharp),
                               weights) / cfg.tasks
            outer.backward()
            total += float(outer.detach())
        self.optimiser.step()
        self.step_count += 1
        self.elapsed_s += time.monotonic() - start
        return total

    # -- resumable state --------------------------------------------------------------

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None,
             resumable: bool = True) -> Path:
        meta = {"name": f"{self.model.config.name}-maml", "kind": "scene-init",
                "meta_config": asdict(self.config), "iterations": self.step_count,
                "train_time_s": round(self.elapsed_s, 1), "history": self.history,
                "hardware": hardware_description(torch.device("cpu")),
                "torch": torch.__version__} | \
            (metadata or {})
        state = None
        if resumable:
            state = {"optimiser": self.optimiser.state_dict(), "step": self.step_count,
                     "elapsed_s": self.elapsed_s,
                     "rng": self.rng.bit_generator.state}
        return save_checkpoint(path, self.model, meta, train_state=state)

    def resume(self, path: str | Path) -> None:
        payload = read_checkpoint(path, architecture="unet")
        self.model.load_state_dict(payload["state_dict"])
        state = payload.get("train_state") or {}
        if "optimiser" in state:
            self.optimiser.load_state_dict(state["optimiser"])
        self.step_count = int(state.get("step", 0))
        self.elapsed_s = float(state.get("elapsed_s", 0.0))
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]
        self.history = list(payload.get("metadata", {}).get("history", []))


def _fixed_tasks(trainer: MetaTrainer, n: int = 6) -> list[tuple[torch.Tensor, ...]]:
    """Meta-validation tasks drawn once from a fixed generator (training photos: the
    validation drives stay unseen), so the curve compares like with like."""
    saved = trainer.rng
    trainer.rng = np.random.default_rng([trainer.config.seed, 7777])
    tasks = [trainer._task() for _ in range(n)]
    trainer.rng = saved
    return tasks


def adapted_psnr(trainer: MetaTrainer, tasks: list[tuple[torch.Tensor, ...]]
                 ) -> dict[str, float]:
    """Query PSNR before and after one inner step: exactly what MAML optimises; and
    ``still_psnr``: the adapted weights given the sharp crops themselves, which a good
    init leaves alone (an over-sharpening one scores low here)."""
    cfg = trainer.config
    model = trainer.model
    params = {k: v.detach().requires_grad_(True) for k, v in model.named_parameters()}
    before, after, still = [], [], []
    for support, query, sharp, weights in tasks:
        loss = reweighted(pixel_fft_loss(functional_call(model, params, (support,)), sharp),
                          weights)
        grads = torch.autograd.grad(loss, list(params.values()))
        adapted = {k: p.detach() - cfg.inner_lr * g for (k, p), g in zip(params.items(), grads)}
        with torch.no_grad():
            out = functional_call(model, adapted, (query,)).clamp(0, 1)
            kept = functional_call(model, adapted, (sharp,)).clamp(0, 1)
        before.append(tensor_psnr(query, sharp))
        after.append(tensor_psnr(out, sharp))
        still.append(tensor_psnr(kept, sharp))
    return {"input_psnr": float(np.mean(before)), "output_psnr": float(np.mean(after)),
            "still_psnr": float(np.mean(still))}



def train_meta(cfg: MetaConfig, out_dir: Path, iterations: int, val_every: int = 100,
               resume: bool = True, progress: bool = True) -> Path:
    """Meta-train (or resume) into ``out_dir``: ``last.pt`` (resumable), ``best.pt``,
    ``<name>.pt`` (the best meta-validation step) and ``curve.png``."""
    from tqdm import tqdm

    from deblur_ros.core.training.curve_plot import write_curve

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = MetaTrainer(cfg)
    last, best = out_dir / "last.pt", out_dir / "best.pt"
    if resume and last.exists():
        trainer.resume(last)
    tasks = _fixed_tasks(trainer)
    if not trainer.history:
        trainer.history.append({"step": 0, "elapsed_s": 0.0, "loss": None,
                                "val": adapted_psnr(trainer, tasks)})
    bar = tqdm(total=iterations, initial=trainer.step_count, disable=not progress, unit="it",
               desc="meta")
    losses: list[float] = []
    try:
        while trainer.step_count < iterations:
            losses.append(trainer.step())
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            if trainer.step_count % val_every == 0 or trainer.step_count == iterations:
                val = adapted_psnr(trainer, tasks)
                trainer.history.append({"step": trainer.step_count,
                                        "elapsed_s": round(trainer.elapsed_s, 1),
                                        "loss": float(np.mean(losses)), "val": val})
                losses = []
                bar.write(f"step {trainer.step_count}: one-step adapted PSNR "
                          f"{val['input_psnr']:.2f} -> {val['output_psnr']:.2f} dB, "
                          f"sharp input kept at {val['still_psnr']:.2f} dB")
                scored = [h for h in trainer.history if h["step"] > 0]
                if max(scored, key=lambda h: h["val"]["output_psnr"]) is scored[-1]:
                    trainer.save(best, {"best_step": trainer.step_count, "validation": val},
                                 resumable=False)
                trainer.save(last)
                write_curve(out_dir / "curve.png", trainer.history,
                            title=f"{trainer.model.config.name} MAML")
    finally:
        bar.close()
        trainer.save(last)
    source = best if best.exists() else last
    payload = read_checkpoint(source, architecture="unet")
    trainer.model.load_state_dict(payload["state_dict"])
    meta = dict(payload["metadata"])
    export = out_dir / f"{trainer.model.config.name}-maml.pt"
    trainer.save(export, {"best_step": meta.get("best_step"),
                          "validation": meta.get("validation"),
                          "iterations": trainer.step_count,
                          "train_time_s": round(trainer.elapsed_s, 1)}, resumable=False)
    return export
