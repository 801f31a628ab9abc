"""Training of the live model (STRCNN+DTB) on clips synthesised from sharp photos.

Defaults are the paper's (Sec. 5.2-5.3): MSE + 1e-5 weight decay, Adam 1e-4 decayed
x0.96 every 10k steps, 13-frame clips, 128x128 crops, batch 8, 300k iterations.
Each clip is run through the network exactly as the streaming deblurrer runs a
live stream (replicated past frames at the start, replicated look-ahead at the
end), so training sees the same boundary handling as inference.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from deblur_ros.core.checkpoint import read_checkpoint, save_checkpoint
from deblur_ros.core.metrics import psnr
from deblur_ros.core.strcnn_dtb import RecurrentState, StrcnnConfig, StrcnnDtb
from deblur_ros.core.streaming import select_device


@dataclass
class LiveTrainConfig:
    width: int = 64
    future: int = 1
    past: int = 1
    iterations: int = 300_000
    batch: int = 8
    crop: int = 128
    clip_frames: int = 13
    lr: float = 1e-4
    lr_decay: float = 0.96
    lr_decay_every: int = 10_000
    weight_decay: float = 1e-5
    device: str = "auto"
    workers: int = 2
    seed: int = 0
    val_every: int = 1000
    save_every: int = 500
    val_clips: int = 8
    val_size: int = 128
    procedural_fraction: float = 0.25
    photo_root: str | None = None
    amp: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_config(self) -> StrcnnConfig:
        return StrcnnConfig(width=self.width, past=self.past, future=self.future)


def hardware_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} ({torch.get_num_threads()} threads)"


def run_clip(
    model: StrcnnDtb, blurry: torch.Tensor, state: RecurrentState | None = None
) -> torch.Tensor:
    """Restore every frame of [N, T, 3, H, W] clips; returns [N, T, 3, H, W]."""
    cfg = model.config
    n_frames = blurry.shape[1]
    idx = torch.arange(-cfg.past, cfg.future + 1)
    outputs = []
    for t in range(n_frames):
        window = blurry[:, (idx + t).clamp(0, n_frames - 1)]
        sharp, state = model(window, state)
        outputs.append(sharp)
    return torch.stack(outputs, dim=1)


def validation_clips(cfg: LiveTrainConfig) -> list[dict]:
    """A fixed set (seed 1234) from the validation photos, or procedural images without them."""
    from deblur_ros.core.synthesis.photos import VAL_SETS, PhotoPool, default_photo_root
    from deblur_ros.core.synthesis.render import render_validation_set

    root = Path(cfg.photo_root) if cfg.photo_root else default_photo_root()
    pool = PhotoPool(root, VAL_SETS)
    rng = np.random.default_rng(1234)
    margin = int(cfg.val_size * 1.5)
    n_photos = max(1, cfg.val_clips // 3)
    photos = [pool.sample(rng, margin, margin) for _ in range(n_photos)]
    return render_validation_set(
        photos, seed=1234, n_frames=min(cfg.clip_frames, 7), height=cfg.val_size,
        width=cfg.val_size,
    )


@torch.inference_mode()
def evaluate(model: StrcnnDtb, clips: list[dict], device: torch.device) -> dict[str, float]:
    """Mean PSNR of input and output over all frames, and per blur level of the set."""
    model.eval()
    scores: dict[str, list[tuple[float, float]]] = {}
    for clip in clips:
        blurry = torch.from_numpy(clip["blurry"]).permute(0, 3, 1, 2)[None].to(device)
        sharp_pred = run_clip(model, blurry)[0].clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        for t in range(sharp_pred.shape[0]):
            scores.setdefault(f"level {clip['level']:g}", []).append(
                (psnr(clip["blurry"][t], clip["sharp"][t]), psnr(sharp_pred[t], clip["sharp"][t])))
    model.train()
    every = [pair for pairs in scores.values() for pair in pairs]
    result: dict = {"input_psnr": float(np.mean([a for a, _ in every])),
                    "output_psnr": float(np.mean([b for _, b in every])), "frames": len(every)}
    result["by_level"] = {
        level: {"input_psnr": float(np.mean([a for a, _ in pairs])),
                "output_psnr": float(np.mean([b for _, b in pairs]))}
        for level, pairs in sorted(scores.items())}
    return result


def train_live(cfg: LiveTrainConfig, out_dir: Path, resume: bool = True,
               progress: bool = True) -> Path:
    """Train (or resume) and write ``out_dir/last.pt``, ``best.pt`` and ``<name>.pt``.

    The export is the weights with the best validation PSNR seen so far (``best.pt``),
    so a run that dips early never ships worse weights than it reached.
    Returns the path of the exported checkpoint (weights + metadata, no optimiser).
    """
    from tqdm import tqdm

    from deblur_ros.core.synthesis.dataset import ClipDataset
    from deblur_ros.core.synthesis.photos import TRAIN_SETS, PhotoPool, default_photo_root
    from deblur_ros.core.synthesis.render import ClipSpec

    device = select_device(cfg.device)
    torch.manual_seed(cfg.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = StrcnnDtb(cfg.model_config).to(device)
    use_amp = cfg.amp and device.type == "cuda"
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimiser, step_size=cfg.lr_decay_every, gamma=cfg.lr_decay
    )
    step, elapsed, history = 0, 0.0, []
    last = out_dir / "last.pt"
    best = out_dir / "best.pt"
    if resume and last.exists():
        payload = read_checkpoint(last)
        model.load_state_dict(payload["state_dict"])
        state = payload["train_state"]
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        step, elapsed, history = state["step"], state["elapsed_s"], state["history"]

    root = Path(cfg.photo_root) if cfg.photo_root else default_photo_root()
    pool = PhotoPool(root, TRAIN_SETS, procedural_fraction=cfg.procedural_fraction)
    spec = ClipSpec(n_frames=cfg.clip_frames, height=cfg.crop, width=cfg.crop)
    dataset = ClipDataset(pool, spec, seed=cfg.seed + step)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=cfg.batch, num_workers=cfg.workers,
        pin_memory=device.type == "cuda", persistent_workers=cfg.workers > 0,
    )
    val = validation_clips(cfg)
    data_recipe = {
        "photos": str(root) if root else None,
        "train_sets": list(TRAIN_SETS) if root else [],
        "photos_in_pool": len(pool),
        "procedural_fraction": cfg.procedural_fraction if root else 1.0,
        "clip": asdict(spec),
    }

    def metadata(scores: dict[str, float] | None) -> dict[str, Any]:
        return {
            "name": cfg.model_config.name,
            "recipe": {k: v for k, v in asdict(cfg).items() if k != "extra"} | cfg.extra,
            "data": data_recipe,
            "iterations": step,
            "hardware": hardware_description(device),
            "train_time_s": round(elapsed, 1),
            "validation": scores,
            "history": history[-50:],
            "torch": str(torch.__version__),
        }

    def save(scores: dict[str, float] | None) -> None:
        save_checkpoint(last, model, metadata(scores), train_state={
            "optimiser": optimiser.state_dict(), "scheduler": scheduler.state_dict(),
            "step": step, "elapsed_s": elapsed, "history": history,
        })

    model.train()
    bar = tqdm(total=cfg.iterations, initial=step, disable=not progress, unit="it",
               dynamic_ncols=True)
    scores = history[-1]["val"] if history else None
    data_iter = iter(loader)
    t0 = time.perf_counter()
    while step < cfg.iterations:
        blurry, sharp = next(data_iter)
        blurry = blurry.to(device, non_blocking=True)
        sharp = sharp.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            pred = run_clip(model, blurry)
            loss = F.mse_loss(pred.float(), sharp)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        scheduler.step()
        step += 1
        now = time.perf_counter()
        elapsed += now - t0
        t0 = now
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.5f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
        if step % cfg.val_every == 0 or step == cfg.iterations:
            scores = evaluate(model, val, device)
            best_psnr = max((h["val"]["output_psnr"] for h in history), default=-1.0)
            history.append({"step": step, "loss": float(loss.item()), "val": scores})
            if scores["output_psnr"] > best_psnr:
                save_checkpoint(best, model, metadata(scores) | {"best_step": step})
            bar.write(f"step {step}: loss {loss.item():.5f}  val PSNR input "
                      f"{scores['input_psnr']:.2f} dB -> output {scores['output_psnr']:.2f} dB")
            t0 = time.perf_counter()
        if step % cfg.save_every == 0 or step == cfg.iterations:
            save(scores)
            t0 = time.perf_counter()
    bar.close()
    save(scores)
    exported = out_dir / f"{cfg.model_config.name}.pt"
    if best.exists():
        best_payload = read_checkpoint(best)
        model.load_state_dict(best_payload["state_dict"])
        final = metadata(best_payload["metadata"]["validation"])
        final["best_step"] = best_payload["metadata"]["best_step"]
    else:
        final = metadata(scores)
    save_checkpoint(exported, model.to(memory_format=torch.contiguous_format).cpu(), final)
    return exported
