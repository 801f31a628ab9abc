"""Training of the live model (STRCNN+DTB) on clips synthesised from sharp photos.

Defaults are the CPU recipe measured in ``models/TRAINING.md``; ``LiveTrainConfig.paper()``
gives the paper's (Sec. 5.2-5.3: MSE + 1e-5 weight decay, Adam 1e-4 decayed x0.96 every
10k steps, 13-frame clips, 128x128 crops, batch 8, 300k iterations). Each clip is run
through the network with the window rule of the streaming deblurrer
(:mod:`deblur_ros.core.inference.windows`), so training sees the same boundary handling
as inference.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from deblur_ros.core.hardware import cpu_has_bf16, hardware_description
from deblur_ros.core.inference.streaming import StreamingDeblurrer, select_device
from deblur_ros.core.inference.windows import window_indices
from deblur_ros.core.models import registry
from deblur_ros.core.models.checkpoint import read_checkpoint, save_checkpoint
from deblur_ros.core.models.strcnn_dtb import FEEDBACK_CHANNELS, StrcnnConfig, StrcnnDtb
from deblur_ros.core.scoring.evaluation import evaluate_sequence
from deblur_ros.core.scoring.validation import psnr_summary, score_clips


@dataclass
class LiveTrainConfig:
    """Defaults are the CPU recipe chosen by the experiments in ``models/TRAINING.md``.

    ``paper()`` gives the paper's settings (for a GPU run).
    """

    width: int = 16
    lookahead: int = 1
    past: int = 1
    iterations: int = 20_000
    batch: int = 8
    crop: int = 96
    clip_frames: int = 6
    lr: float = 1e-3
    schedule: str = "cosine"  # "cosine" (to lr/100, after warm-up) or "step" (the paper's)
    warmup: int = 300
    lr_decay: float = 0.96
    lr_decay_every: int = 10_000
    weight_decay: float = 1e-5
    loss: str = "charbonnier"  # one of LOSSES; "mse" is the paper's
    fft_weight: float = 1.0  # weight of the frequency term in "charbonnier+fft"
    ema: float = 0.0  # decay of a moving average of the weights, which validation and the
    # export use (0: off, the weights themselves)
    clip_grad: float = 0.0  # largest gradient norm per step (0: no clipping)
    data: str = "motion"  # "motion" (motion.py) or "trajectory" (the first recipe, render.py)
    streak_min: float = 1.0  # per-clip streak level range (px), drawn log-uniformly
    streak_max: float = 36.0
    still_clips: float = 0.0  # share of nearly still clips (MotionSpec.still_clip_prob)
    real_footage: str | None = None  # folder of high-frame-rate clips (real_motion.py)
    real_share: float = 0.0  # share of training clips averaged from that footage
    real_hold_out: str = ""  # comma-separated name parts of clips never trained on
    real_width: int = 1024  # the footage's working width (zoom is relative to it)
    real_shuffle: float = 0.0  # share of real clips with their colour channels permuted
    device: str = "auto"
    workers: int = 1
    seed: int = 0
    val_every: int = 500
    save_every: int = 250
    val_photos: int = 6
    val_size: int = 128
    val_frames: int = 7
    procedural_fraction: float = 0.1
    photo_root: str | None = None
    amp: bool = True  # bf16 autocast: on CUDA, and on CPUs with native bf16 (AVX512_BF16/AMX)
    activation: str = "lrelu"
    init: str | None = None  # warm start from this checkpoint (other width or look-ahead ok)
    teacher: str | None = None  # distil from this live checkpoint (e.g. the paper width)
    distill: float = 0.5  # weight of the teacher's output in the target (with --teacher)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_config(self) -> StrcnnConfig:
        return StrcnnConfig(width=self.width, past=self.past, lookahead=self.lookahead,
                            activation=self.activation)

    @staticmethod
    def paper(**overrides: Any) -> LiveTrainConfig:
        return LiveTrainConfig(**({
            "width": 64, "iterations": 300_000, "crop": 128, "clip_frames": 13, "lr": 1e-4,
            "schedule": "step", "warmup": 0, "loss": "mse", "val_every": 1000,
            "save_every": 1000} | overrides))


def run_clip(model: StrcnnDtb, blurry: torch.Tensor) -> torch.Tensor:
    """Restore every frame of [N, T, 3, H, W] clips from a fresh state; returns
    [N, T, 3, H, W]. Windows follow :func:`window_indices`, as in streaming."""
    cfg = model.config
    n_frames = blurry.shape[1]
    state = None
    outputs = []
    for t in range(n_frames):
        window = blurry[:, window_indices(t, n_frames, cfg.past, cfg.lookahead)]
        if state is None:
            state = model.initial_state(window)
        sharp, state = model(window, state)
        outputs.append(sharp)
    return torch.stack(outputs, dim=1)


def evaluate(model: StrcnnDtb, clips: list[dict], device: torch.device) -> dict[str, float]:
    """Validation PSNR (input and output, overall and per blur level) by the one scorer
    ``eval --validation`` uses; leaves the model in training mode."""
    deblurrer = StreamingDeblurrer(model, device, cut_threshold=0.0)  # clips known, as there
    try:
        return psnr_summary(score_clips(deblurrer, clips, figures=("psnr",)))
    finally:
        model.train()


@dataclass
class RealValidation:
    """Real blurry/sharp sequences scored beside the synthetic set at every validation.

    The synthetic set stopped telling runs apart (27.31 to 27.35 dB) while their real-motion
    figures differed by tenths of a dB, and the drop on a nearly still clip showed only in
    evaluations run afterwards (``models/TRAINING.md``). This puts real motion on the curve.
    It only watches: ``best.pt`` is still chosen on the synthetic set, so these clips can
    still be reported as unseen.
    """

    source: str
    sequences: list[tuple[str, list[np.ndarray], list[np.ndarray]]]


def evaluate_real(model: StrcnnDtb, real: RealValidation, device: torch.device
                  ) -> dict[str, Any]:
    """Mean input and output PSNR over every frame (what ``eval --dataset --deadzone 0``
    prints for the same folder), and per sequence; leaves the model in training mode."""
    deblurrer = StreamingDeblurrer(model, device, cut_threshold=0.0)
    try:
        results = [evaluate_sequence(deblurrer, blurry, sharp, name, figures=("psnr",))
                   for name, blurry, sharp in real.sequences]
    finally:
        model.train()

    def means(pairs: list[tuple[float, float]]) -> dict[str, float]:
        return {"input_psnr": float(np.mean([a for a, _ in pairs])),
                "output_psnr": float(np.mean([b for _, b in pairs]))}

    every = [pair for r in results for pair in r.scores.psnr]
    return means(every) | {"frames": len(every),
                           "by_sequence": {r.name: means(r.scores.psnr) for r in results}}


LOSSES = ("charbonnier", "l1", "mse", "charbonnier+fft")


def frequency_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 distance of the orthonormal 2-D spectra (real and imaginary parts).

    A pixel loss is content with a residual deblurrer that leaves a long streak's faint,
    wide edge error in place; in the spectrum that error lands on the high frequencies a
    sharp edge needs, which is why MIMO-UNet adds this term for real blur. (The scene fit's
    ``scene_losses.pixel_fft_loss`` takes the complex difference's magnitude per sample;
    this one the real and imaginary parts, as MIMO-UNet does.)
    """
    diff = torch.fft.rfft2(pred.float() - target.float(), norm="ortho")
    return torch.view_as_real(diff).abs().mean()


def training_loss(name: str, pred: torch.Tensor, target: torch.Tensor,
                  fft_weight: float = 1.0) -> torch.Tensor:
    """``fft_weight`` scales the frequency term of "charbonnier+fft". MIMO-UNet (Cho et al.,
    ICCV 2021) weights its own 0.1 on an unnormalised FFT of 256 px crops, about 25 in this
    orthonormal scale; at 1.0 the pixel term stays in charge."""
    if name == "mse":
        return F.mse_loss(pred, target)
    if name == "l1":
        return F.l1_loss(pred, target)
    if name in ("charbonnier", "charbonnier+fft"):
        pixel = torch.sqrt((pred - target) ** 2 + 1e-6).mean()
        if name == "charbonnier":
            return pixel
        return pixel + fft_weight * frequency_loss(pred, target)
    raise ValueError(f"unknown loss {name!r}: use {', '.join(LOSSES)}")


def learning_rate(cfg: LiveTrainConfig, step: int) -> float:
    """Warm-up then cosine to lr/100 (short CPU runs), or the paper's step decay."""
    if cfg.schedule == "step":
        base = cfg.lr * cfg.lr_decay ** (step // cfg.lr_decay_every)
    elif cfg.schedule == "cosine":
        t = min(1.0, step / max(1, cfg.iterations))
        base = cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))
    else:
        raise ValueError(f"unknown schedule {cfg.schedule!r}: use cosine or step")
    if cfg.warmup and step < cfg.warmup:
        base *= (step + 1) / cfg.warmup
    return base


def warm_start(model: StrcnnDtb, path: str | Path) -> str:
    """Load a checkpoint of another width or look-ahead into ``model``; says what was done.

    Narrower weights fill the first channels of each layer (of each part, where a layer
    reads a concatenation); new output channels keep a small random init and nothing
    reads them yet (zero weights), so the wider network starts with exactly the narrower
    one's function and every new weight still gets a gradient. A dropped look-ahead frame's
    input weights are added to the middle frame's (the nearest frame it has), so a
    causal model starts from the look-ahead model's behaviour on still scenes.
    """
    payload = read_checkpoint(path)
    src = payload["state_dict"]
    # The registry reads old spellings too (the shipped checkpoints say "future").
    src_cfg = registry.lookup(payload["architecture"]).config_from(payload["config"])
    cfg = model.config
    if src_cfg.activation != cfg.activation:
        raise ValueError(f"cannot warm-start a {cfg.activation} network from a "
                         f"{src_cfg.activation} one ({Path(path).name})")
    if src_cfg.blocks != cfg.blocks:
        raise ValueError(f"cannot warm-start {cfg.name} from {src_cfg.name}: "
                         f"{src_cfg.blocks} residual blocks, not {cfg.blocks}")
    src = dict(src)
    w_in = src["filter_in.weight"].reshape(src_cfg.width, src_cfg.n_frames, 3, 5, 5)
    frames = []
    for offset in range(-cfg.past, cfg.lookahead + 1):
        # Nearest frame of the source window; extra past/look-ahead frames start at zero.
        j = offset + src_cfg.past
        frames.append(w_in[:, j] if 0 <= j < src_cfg.n_frames else torch.zeros_like(w_in[:, 0]))
    for j in range(src_cfg.n_frames):
        offset = j - src_cfg.past
        if offset > cfg.lookahead:
            frames[cfg.past] = frames[cfg.past] + w_in[:, j]
        elif offset < -cfg.past:
            frames[0] = frames[0] + w_in[:, j]
    src["filter_in.weight"] = torch.stack(frames, 1).reshape(src_cfg.width, 3 * cfg.n_frames, 5, 5)
    own = model.state_dict()
    for name, target in own.items():
        own[name] = _widen(name, src[name], target, src_cfg.width, cfg.width)
    model.load_state_dict(own)
    return f"warm-started from {Path(path).name} ({src_cfg.name})"


def _input_map(name: str, old: int, new: int) -> list[tuple[int, int, int]]:
    """(source start, target start, length) of the input-channel blocks a layer reads."""
    fb = FEEDBACK_CHANNELS
    if name.startswith("fuse."):  # cat([features (width), feedback (32)])
        return [(0, 0, old), (old, new, fb)]
    if name.startswith("blend.conv."):  # cat([h~(n-1), h(n)])
        return [(0, 0, old), (old, new, old)]
    return [(0, 0, old)]


def _widen(name: str, value: torch.Tensor, target: torch.Tensor, old: int, new: int
           ) -> torch.Tensor:
    if value.shape == target.shape:
        return value.clone()
    if value.dim() == 1:  # a bias: new channels start at zero
        out = torch.zeros_like(target)
        out[:value.shape[0]] = value
        return out
    transposed = name.startswith("up.")  # ConvTranspose2d weights are [in, out, k, k]
    w = value.transpose(0, 1) if transposed else value
    t = target.transpose(0, 1) if transposed else target
    out = torch.zeros_like(t)
    # New output channels: small random weights (reading old and new inputs alike).
    out[w.shape[0]:] = 0.1 * t[w.shape[0]:]
    in_old = w.shape[1]
    blocks = _input_map(name, old, new) if in_old != t.shape[1] else [(0, 0, in_old)]
    for src0, dst0, length in blocks:
        out[:w.shape[0], dst0:dst0 + length] = w[:, src0:src0 + length]
    return out.transpose(0, 1).contiguous() if transposed else out


def check_config(cfg: LiveTrainConfig) -> None:
    """Fail before any work (not at the first validation, minutes later) on a bad setting."""
    training_loss(cfg.loss, torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
    learning_rate(cfg, 0)
    if cfg.data not in ("motion", "trajectory"):
        raise ValueError(f"unknown data recipe {cfg.data!r}: use motion or trajectory")
    for name in ("crop", "val_size"):
        value = getattr(cfg, name)
        if value < 16 or value % 2:
            raise ValueError(f"{name.replace('_', '-')} must be even and >= 16, got {value}")
    if not 0 < cfg.streak_min <= cfg.streak_max:
        raise ValueError(f"streak range must satisfy 0 < streak-min <= streak-max, got "
                         f"{cfg.streak_min} and {cfg.streak_max}")
    if not 0.0 <= cfg.still_clips <= 1.0:
        raise ValueError(f"still-clips is a share of the clips, in [0, 1]; got {cfg.still_clips}")
    if cfg.still_clips and cfg.data != "motion":
        raise ValueError("still-clips needs the motion recipe (--data motion)")
    if not 0.0 <= cfg.real_share <= 1.0:
        raise ValueError(f"real-share is a share of the clips, in [0, 1]; got {cfg.real_share}")
    if not cfg.clip_grad >= 0:
        raise ValueError(f"clip-grad is a gradient norm (0: off), got {cfg.clip_grad}")
    if not 0.0 <= cfg.real_shuffle <= 1.0:
        raise ValueError("real-shuffle is a share of the real clips, in [0, 1]; got "
                         f"{cfg.real_shuffle}")
    if cfg.real_width < cfg.crop:
        raise ValueError(f"real-width must be at least the crop ({cfg.crop} px); got "
                         f"{cfg.real_width}")
    if cfg.real_share and not cfg.real_footage:
        raise ValueError("real-share needs --real DIR (a folder of high-frame-rate clips)")
    if cfg.real_footage:
        if cfg.data != "motion":
            raise ValueError("real footage mixes into the motion recipe (--data motion)")
        from deblur_ros.core.synthesis.real_motion import footage_paths

        footage_paths(cfg.real_footage, _hold_out(cfg))
    if not 0.0 <= cfg.ema < 1.0:
        raise ValueError(f"ema is the average's decay per step, in [0, 1) (e.g. 0.999); got "
                         f"{cfg.ema}")
    if cfg.fft_weight < 0.0:
        raise ValueError(f"fft-weight must be >= 0; got {cfg.fft_weight}")
    if not 0.0 <= cfg.distill <= 1.0:
        raise ValueError(f"distill is the teacher's weight in the loss, in [0, 1]; got "
                         f"{cfg.distill}")
    if cfg.photo_root and not Path(cfg.photo_root).expanduser().is_dir():
        raise ValueError(f"photo folder {cfg.photo_root!r} does not exist (leave --photos out "
                         "to use ../shared/data/sharp_photos or procedural images)")


def _hold_out(cfg: LiveTrainConfig) -> list[str]:
    return [name.strip() for name in cfg.real_hold_out.split(",") if name.strip()]


def load_teacher(cfg: LiveTrainConfig, device: torch.device) -> tuple[StrcnnDtb, str]:
    """The frozen teacher and a note for the metadata.

    A teacher that was trained on a clip this run holds out would carry that clip's
    ground truth into the student and make its held-out figures a test on seen data,
    so that is refused rather than noted.
    """
    from deblur_ros.core.models.checkpoint import load_model

    teacher, meta = load_model(cfg.teacher, device)
    seen = ((meta.get("data") or {}).get("real") or {}).get("clips") or []
    leaked = sorted(c for c in seen if any(part in c for part in _hold_out(cfg)))
    if leaked:
        raise ValueError(f"teacher {Path(cfg.teacher).name} was trained on {', '.join(leaked)}, "
                         "which --real-hold-out keeps unseen; pick a teacher that held them "
                         "out too, or hold out other clips")
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, f"distilled from {Path(cfg.teacher).name} ({meta.get('name')}), weight " \
        f"{cfg.distill}"


MAX_BAD_STEPS = 20
"""Non-finite steps in a row after which a run is called diverged and stops."""


class TrainingDivergedError(RuntimeError):
    """The loss or the gradients stayed NaN/inf: the run stops before it saves such weights."""


def train_step(model: StrcnnDtb, optimiser: torch.optim.Optimizer, blurry: torch.Tensor,
               sharp: torch.Tensor, cfg: LiveTrainConfig, step: int, use_amp: bool,
               teacher: StrcnnDtb | None = None) -> float:
    """One optimiser step on a batch of clips [N, T, 3, H, W]; returns the loss.

    A step whose loss or gradient norm is not finite is skipped (returns NaN, weights
    untouched), as a bf16/fp16 loss scaler would: one NaN applied by AdamW makes every
    weight NaN, and the next save would overwrite ``last.pt`` with them (it happened to a
    wider network from scratch at lr 5e-4). ``cfg.clip_grad`` > 0 also caps the norm.

    With a teacher the loss is a blend of the distance to the ground truth and to the
    teacher's output on the same clips, in case a narrow network follows a wide one's
    output more easily than the ground truth; for the lite model it did not pay
    (``models/TRAINING.md``, "Distilling the paper width into the lite model").
    """
    for group in optimiser.param_groups:
        group["lr"] = learning_rate(cfg, step)
    with torch.autocast(blurry.device.type, dtype=torch.bfloat16, enabled=use_amp):
        pred = run_clip(model, blurry)
        if teacher is not None:
            with torch.no_grad():
                taught = run_clip(teacher, blurry).float().clamp(0.0, 1.0)
    loss = training_loss(cfg.loss, pred.float(), sharp, cfg.fft_weight)
    if teacher is not None:
        loss = (1.0 - cfg.distill) * loss + cfg.distill * training_loss(
            cfg.loss, pred.float(), taught, cfg.fft_weight)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(
        model.parameters(), cfg.clip_grad if cfg.clip_grad > 0 else float("inf"))
    value = float(loss.item())
    if not (math.isfinite(value) and math.isfinite(float(norm))):
        optimiser.zero_grad(set_to_none=True)
        return math.nan
    optimiser.step()
    return value


def _finite(scores: dict[str, Any]) -> bool:
    """Whether a validation summary holds a number for the whole set and every level (the
    scorer leaves a level's figure out, as None, when none of its frames was finite)."""
    figures = [scores["output_psnr"]] + [v["output_psnr"] for v in scores["by_level"].values()]
    return all(f is not None and not math.isnan(f) for f in figures)  # inf: a perfect frame


def ema_decay(cfg: LiveTrainConfig, step: int) -> float:
    """The average's decay at ``step``, ramped up from 0.1 so that its first steps follow the
    weights rather than the starting point (the usual (1 + t) / (10 + t) warm-up)."""
    return min(cfg.ema, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_average(average: StrcnnDtb, model: StrcnnDtb, decay: float) -> None:
    """average <- decay * average + (1 - decay) * model, parameter by parameter."""
    for kept, current in zip(average.parameters(), model.parameters()):
        kept.lerp_(current, 1.0 - decay)
    for kept, current in zip(average.buffers(), model.buffers()):
        kept.copy_(current)


def _leave_stop_to_main(worker_id: int) -> None:
    """Loader workers ignore SIGINT/SIGTERM: a stop sent to the whole process group (a
    service manager, ``timeout``, Ctrl-C) must reach the trainer alone, which saves and
    then shuts its workers down. A worker killed first made PyTorch raise "DataLoader
    worker is killed" inside the trainer's save, losing every step since the last one."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A stop that lands while the trainer is receiving a batch cuts the hand-over of its
    # shared memory; the worker's fd-sharing thread then reports the broken connection
    # through sys.excepthook, a traceback after "stopped" on a clean stop. The worker's
    # own errors reach the trainer through the DataLoader, so its threads get one line.
    sys.excepthook = _one_line_from_worker


def _stop_workers(batches: object) -> None:
    """Shut the loader's workers down now, on every way out of the training loop.

    They ignore SIGTERM (``_leave_stop_to_main``), and after an unexpected error (a full
    disk at a save) the loader outlived the trainer until interpreter exit, where
    multiprocessing terminates daemonic children with SIGTERM and joins them: the process
    printed its error and then hung for ever instead of exiting."""
    shutdown = getattr(batches, "_shutdown_workers", None)  # PyTorch's own clean shutdown
    if shutdown is not None:
        shutdown()


def _one_line_from_worker(kind: type[BaseException], exc: BaseException, tb: object) -> None:
    print(f"deblur-ros train: data loader worker: {kind.__name__}: {exc}", file=sys.stderr)


def train_live(cfg: LiveTrainConfig, out_dir: Path, resume: bool = True,
               progress: bool = True, real_val: RealValidation | None = None) -> Path:
    """Train (or resume) and write ``out_dir/last.pt``, ``best.pt``, ``<name>.pt``, ``curve.png``.

    The export is the weights with the best validation PSNR seen so far (``best.pt``),
    so a run that dips early never ships worse weights than it reached. ``last.pt``
    holds what resuming needs (weights, optimiser, step, time, the whole curve), so a
    run stopped at any point continues exactly there, on this machine or another.
    Returns the path of the exported checkpoint (weights + metadata, no optimiser).
    """
    from tqdm import tqdm

    from deblur_ros.core.synthesis.dataset import (
        ClipDataset,
        MotionClipDataset,
        RealMixClipDataset,
    )
    from deblur_ros.core.synthesis.motion import MotionSpec
    from deblur_ros.core.synthesis.photos import TRAIN_SETS, PhotoPool, default_photo_root
    from deblur_ros.core.synthesis.real_motion import RealMotionSpec, footage_paths
    from deblur_ros.core.synthesis.render import ClipSpec
    from deblur_ros.core.synthesis.validation import validation_set
    from deblur_ros.core.training.curve_plot import write_curve

    check_config(cfg)
    device = select_device(cfg.device)
    torch.manual_seed(cfg.seed)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {str(out_dir)!r} is a file; give a run folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    model = StrcnnDtb(cfg.model_config)
    last = out_dir / "last.pt"
    best = out_dir / "best.pt"
    resuming = resume and last.exists()
    init_note = None
    if cfg.init and not resuming:
        init_note = warm_start(model, cfg.init)
    model = model.to(device)
    use_amp = cfg.amp and (device.type == "cuda" or cpu_has_bf16())
    teacher, teacher_note = load_teacher(cfg, device) if cfg.teacher else (None, None)
    # Channels-last pays with bf16 on CPU (measured 0.18 -> 0.14 s/it) and on CUDA.
    if use_amp:
        model = model.to(memory_format=torch.channels_last)
        if teacher is not None:
            teacher = teacher.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate(cfg, 0),
                                  weight_decay=cfg.weight_decay)
    step, elapsed, history = 0, 0.0, []
    skipped = 0  # steps whose loss or gradients were not finite (not applied)
    if resuming:
        payload = read_checkpoint(last)
        model.load_state_dict(payload["state_dict"])
        state = payload["train_state"]
        optimiser.load_state_dict(state["optimiser"])
        step, elapsed, history = state["step"], state["elapsed_s"], state["history"]
        skipped = state.get("skipped_steps", 0)
        init_note = payload["metadata"].get("init")
    # With --ema, the average is what is validated, kept as best.pt and exported; the
    # weights themselves go on training. A run that had no average starts it here.
    average = copy.deepcopy(model).requires_grad_(False) if cfg.ema else None
    if average is not None and resuming and "ema" in state:
        average.load_state_dict(state["ema"])
    elif average is None and resuming and "ema" in state:
        # Silently training on from the raw weights would swap what best.pt and the
        # export are chosen from halfway through a run.
        kept = payload["metadata"].get("recipe", {}).get("ema")
        print(f"deblur-ros train: note: {last} keeps a moving average of the weights "
              f"(--ema {kept}); resumed without --ema, it is dropped and the raw weights "
              f"are validated and exported from here (pass --ema {kept} to keep it)",
              file=sys.stderr)
    scored = average if average is not None else model

    root = Path(cfg.photo_root) if cfg.photo_root else default_photo_root()
    pool = PhotoPool(root, TRAIN_SETS, procedural_fraction=cfg.procedural_fraction)
    # Resumed runs draw new clips (seed + step) rather than replaying the first ones.
    real_clips: list[Path] = []
    if cfg.data == "motion":
        spec = MotionSpec(n_frames=cfg.clip_frames, height=cfg.crop, width=cfg.crop,
                          streak=(cfg.streak_min, cfg.streak_max),
                          still_clip_prob=cfg.still_clips)
        if cfg.real_footage and cfg.real_share > 0:
            real_clips = footage_paths(cfg.real_footage, _hold_out(cfg))
            real_spec = RealMotionSpec(n_frames=cfg.clip_frames, height=cfg.crop,
                                       width=cfg.crop, channel_shuffle=cfg.real_shuffle)
            dataset = RealMixClipDataset(pool, spec, cfg.seed + step, real_clips,
                                         cfg.real_share, real_spec, cfg.real_width)
        else:
            dataset = MotionClipDataset(pool, spec, seed=cfg.seed + step)
    else:  # "trajectory", the first recipe (check_config refused anything else)
        spec = ClipSpec(n_frames=cfg.clip_frames, height=cfg.crop, width=cfg.crop)
        dataset = ClipDataset(pool, spec, seed=cfg.seed + step)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=cfg.batch, num_workers=cfg.workers, worker_init_fn=_leave_stop_to_main,
        pin_memory=device.type == "cuda", persistent_workers=cfg.workers > 0,
        prefetch_factor=4 if cfg.workers > 0 else None,
    )
    val = validation_set(cfg.val_photos, cfg.val_size, cfg.val_frames, cfg.photo_root)
    data_recipe = {
        "recipe": cfg.data,
        "photos": str(root) if root else None,
        "train_sets": list(TRAIN_SETS) if root else [],
        "photos_in_pool": len(pool),
        "procedural_fraction": cfg.procedural_fraction if root else 1.0,
        "clip": asdict(spec),
    }
    if real_clips:
        data_recipe["real"] = {"share": cfg.real_share, "clips": [p.name for p in real_clips],
                               "held_out": _hold_out(cfg), "width": cfg.real_width,
                               "clip": asdict(real_spec)}

    def metadata(scores: dict[str, float] | None) -> dict[str, Any]:
        return {
            "name": cfg.model_config.name,
            "recipe": {k: v for k, v in asdict(cfg).items() if k != "extra"} | cfg.extra,
            "data": data_recipe,
            "init": init_note,
            "teacher": teacher_note,
            "iterations": step,
            "hardware": hardware_description(device),
            "precision": "bf16 autocast" if use_amp else "fp32",
            "train_time_s": round(elapsed, 1),
            "skipped_steps": skipped,
            "validation": scores,
            "real_validation": ({"source": real_val.source,
                                 "sequences": [name for name, _, _ in real_val.sequences]}
                                if real_val else None),
            "history": history,
            "torch": str(torch.__version__),
        }

    def kept() -> str:
        return (f"{last} keeps step {saved_step}" if saved_step is not None
                else "nothing was saved")

    def save(scores: dict[str, float] | None) -> None:
        nonlocal saved_step
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            raise TrainingDivergedError(f"training diverged by step {step}: the weights hold "
                                        f"NaN/inf and were not saved; {kept()}")
        save_checkpoint(last, model, metadata(scores), train_state={
            "optimiser": optimiser.state_dict(), "step": step, "elapsed_s": elapsed,
            "history": history, "skipped_steps": skipped,
        } | ({"ema": average.state_dict()} if average is not None else {}))
        saved_step = step

    if not history:
        # The starting point of the curve: where the untrained (or warm-started) model is.
        history.append({"step": 0, "elapsed_s": 0.0, "loss": None,
                        "val": evaluate(scored, val, device)}
                       | ({"real": evaluate_real(scored, real_val, device)} if real_val else {}))
    model.train()
    bar = tqdm(total=cfg.iterations, initial=step, disable=not progress, unit="it",
               dynamic_ncols=True)
    scores = history[-1]["val"] if history else None
    data_iter = iter(loader)
    running = None
    bad_in_a_row = 0
    saved_step = step if resuming else None
    t0 = time.perf_counter()
    try:
        while step < cfg.iterations:
            blurry, sharp = next(data_iter)
            blurry = blurry.to(device, non_blocking=True)
            sharp = sharp.to(device, non_blocking=True)
            loss = train_step(model, optimiser, blurry, sharp, cfg, step, use_amp, teacher)
            if math.isnan(loss):
                skipped += 1
                bad_in_a_row += 1
                if bad_in_a_row >= MAX_BAD_STEPS:
                    raise TrainingDivergedError(
                        f"training diverged at step {step}: the loss or its gradients were "
                        f"NaN/inf {bad_in_a_row} steps in a row (none applied); {kept()}; "
                        "run again with a lower --lr or with --clip-grad")
            else:
                bad_in_a_row = 0
                running = loss if running is None else 0.98 * running + 0.02 * loss
            if average is not None:
                update_average(average, model, ema_decay(cfg, step))
            step += 1
            now = time.perf_counter()
            elapsed += now - t0
            t0 = now
            bar.update(1)
            shown = "nan" if running is None else f"{running:.5f}"  # no finite step yet
            bar.set_postfix(loss=shown, lr=f"{learning_rate(cfg, step):.2e}")
            if step % cfg.val_every == 0 or step == cfg.iterations:
                scores = evaluate(scored, val, device)
                if not _finite(scores):  # finite weights can still overflow the output
                    raise TrainingDivergedError(
                        f"training diverged by step {step}: the network's output on the "
                        f"validation clips is not finite; {kept()}; run again with a lower "
                        "--lr or with --clip-grad")
                best_psnr = max((h["val"]["output_psnr"] for h in history if h["step"] > 0),
                                default=-1.0)
                history.append({"step": step, "elapsed_s": round(elapsed, 1), "loss": running,
                                "val": scores})
                real_line = ""
                if real_val:
                    real = history[-1]["real"] = evaluate_real(scored, real_val, device)
                    worst, fig = min(real["by_sequence"].items(),
                                     key=lambda kv: kv[1]["output_psnr"] - kv[1]["input_psnr"])
                    real_line = (f"  real {real['input_psnr']:.2f} -> {real['output_psnr']:.2f} dB"
                                 f" (worst {worst} "
                                 f"{fig['output_psnr'] - fig['input_psnr']:+.2f})")
                if scores["output_psnr"] > best_psnr:
                    save_checkpoint(best, scored, metadata(scores) | {"best_step": step})
                levels = "  ".join(f"{k} {v['input_psnr']:.2f}->{v['output_psnr']:.2f}"
                                   for k, v in scores["by_level"].items())
                bar.write(f"step {step} ({elapsed / 60:.1f} min): loss {shown}  val "
                          f"PSNR {scores['input_psnr']:.2f} -> {scores['output_psnr']:.2f} dB"
                          f"  [{levels}]{real_line}")
                write_curve(out_dir / "curve.png", history, title=cfg.model_config.name)
                t0 = time.perf_counter()
            if step % cfg.save_every == 0 or step == cfg.iterations:
                save(scores)
                t0 = time.perf_counter()
    except TrainingDivergedError:
        bar.close()  # and no save: last.pt keeps the last finite weights
        raise
    except KeyboardInterrupt:
        # Stopped (Ctrl-C, SIGTERM): keep every step done so far; the same command resumes.
        bar.close()
        save(scores)
        raise
    finally:
        bar.close()
        _stop_workers(data_iter)
    save(scores)
    write_curve(out_dir / "curve.png", history, title=cfg.model_config.name)
    exported = out_dir / f"{cfg.model_config.name}.pt"
    if best.exists():
        best_payload = read_checkpoint(best)
        scored.load_state_dict(best_payload["state_dict"])
        final = metadata(best_payload["metadata"]["validation"])
        final["best_step"] = best_payload["metadata"]["best_step"]
    else:
        final = metadata(scores)
    save_checkpoint(exported, scored.to(memory_format=torch.contiguous_format).cpu(), final)
    return exported
