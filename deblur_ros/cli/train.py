"""``deblur-ros train live``: train STRCNN+DTB on clips synthesised from sharp photos."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from deblur_ros.cli.args import positive_int, stop_on_signals

if TYPE_CHECKING:
    from deblur_ros.core.training.live_trainer import RealValidation


def build_parser() -> argparse.ArgumentParser:
    from deblur_ros.core.training.live_trainer import LOSSES, LiveTrainConfig

    d = LiveTrainConfig()
    parser = argparse.ArgumentParser(
        prog="deblur-ros train live",
        description="Train the live model. Defaults are the CPU recipe measured in "
        "models/TRAINING.md (width 16, 96x96 6-frame clips of the motion recipe, Charbonnier "
        "loss, AdamW 1e-3 with cosine decay, bf16 autocast where the CPU has it); --paper "
        "gives the paper's (width 64, 13-frame 128x128 clips, MSE, Adam 1e-4 x0.96 every 10k, "
        "300k iterations). Resumes from OUT/last.pt when it exists; writes OUT/curve.png.",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/live"),
                        help="run folder: last.pt (resumable), best.pt, <name>.pt, curve.png")
    parser.add_argument("--paper", action="store_true",
                        help="start from the paper's recipe instead of the CPU one")
    parser.add_argument("--width", type=positive_int, default=None,
                        help=f"channels (64 = the paper; default {d.width})")
    parser.add_argument("--lookahead", "-m", type=int, choices=(0, 1, 2), default=d.lookahead,
                        help="frames of look-ahead m (1 = the paper, 0 = causal)")
    for name, kind in (("iterations", positive_int), ("batch", positive_int),
                       ("crop", positive_int), ("clip-frames", positive_int), ("lr", float),
                       ("warmup", int), ("streak-min", float), ("streak-max", float),
                       ("still-clips", float),
                       ("val-every", positive_int), ("save-every", positive_int),
                       ("val-photos", positive_int),
                       ("val-size", positive_int), ("procedural-fraction", float)):
        parser.add_argument(f"--{name}", type=kind, default=None,
                            help=f"default {getattr(d, name.replace('-', '_'))}")
    parser.add_argument("--schedule", choices=("cosine", "step"), default=None)
    parser.add_argument("--loss", choices=LOSSES, default=None)
    parser.add_argument("--fft-weight", type=float, default=None, metavar="W",
                        help=f"weight of the frequency term of --loss charbonnier+fft "
                        f"(default {d.fft_weight})")
    parser.add_argument("--ema", type=float, default=None, metavar="DECAY",
                        help="validate, keep and export a moving average of the weights with "
                        "this decay per step (e.g. 0.999; default 0: the weights themselves)")
    parser.add_argument("--clip-grad", type=float, default=None, metavar="NORM",
                        help="cap the gradient norm of every step (default 0: off); steps "
                        "whose loss or gradients are NaN/inf are skipped either way")
    parser.add_argument("--activation", choices=("lrelu", "relu"), default=None,
                        help="lrelu (default: no dead units) or relu (the paper's)")
    parser.add_argument("--data", choices=("motion", "trajectory"), default=None,
                        help="blur recipe (motion: the shipped one; trajectory: the first one)")
    parser.add_argument("--real", default=None, metavar="DIR",
                        help="folder of high-frame-rate clips (e.g. ../shared/data/real_highfps/"
                        "x4k1000) to average into real-motion training clips")
    parser.add_argument("--real-share", type=float, default=None,
                        help="share of clips from --real (default 0.5 with --real)")
    parser.add_argument("--real-shuffle", type=float, default=None, metavar="P",
                        help="share of --real clips with their colour channels permuted "
                        "(default 0)")
    parser.add_argument("--real-width", type=int, default=None, metavar="PX",
                        help="width the --real footage is decoded at before cropping (default "
                        "1024); a wider one gives longer streaks at the same zoom")
    parser.add_argument("--real-hold-out", default=None, metavar="NAMES",
                        help="comma-separated parts of clip names never trained on (evaluate "
                        "on those)")
    parser.add_argument("--real-val", default=None, metavar="DIR",
                        help="real blurry/sharp pairs (DIR/<sequence>/blur and sharp, e.g. made "
                        "by 'deblur-ros pairs') scored at every validation beside the synthetic "
                        "set; best.pt is still chosen on the synthetic set")
    parser.add_argument("--init", default=None,
                        help="warm-start from this checkpoint (path or shipped name); another "
                        "width or look-ahead is adapted")
    parser.add_argument("--teacher", default=None, metavar="CKPT",
                        help="distil from this live checkpoint (path or shipped name, e.g. "
                        "strcnn-w64-m1): the loss blends the ground truth and its output")
    parser.add_argument("--distill", type=float, default=None, metavar="W",
                        help=f"the teacher's weight in the loss (default {d.distill})")
    parser.add_argument("--device", default=d.device, help="auto, cpu or cuda[:N]")
    parser.add_argument("--threads", type=int, default=0,
                        help="PyTorch CPU threads (0 = PyTorch's default)")
    parser.add_argument("--workers", type=int, default=d.workers, help="data loader processes")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--photos", default=None,
                        help="folder with cbsd68/ mcmaster18/ kodak24/ (default: ../shared/data/"
                        "sharp_photos if present; procedural images otherwise)")
    parser.add_argument("--no-amp", action="store_true", help="fp32 only (no bf16 autocast)")
    parser.add_argument("--fresh", action="store_true", help="ignore OUT/last.pt")
    parser.add_argument("--export", type=Path, default=None,
                        help="also copy the exported checkpoint here (e.g. models/)")
    return parser


def build_meta_parser() -> argparse.ArgumentParser:
    from deblur_ros.core.training.meta import MetaConfig

    d = MetaConfig()
    parser = argparse.ArgumentParser(
        prog="deblur-ros train scene-meta",
        description="Meta-train (MAML, Algorithm 1 of Ren, Qian, Chen) the scene U-Net's "
        "initial weights over synthetic drives from the training photos, so a fit to a new "
        "drive needs minutes. Resumes from OUT/last.pt; writes OUT/curve.png (query PSNR "
        "after one inner step on fixed tasks) and OUT/unet-wW-dD-maml.pt.")
    parser.add_argument("--out", type=Path, default=Path("training/unet-maml"))
    parser.add_argument("--iterations", type=positive_int, default=2000, help="meta-steps")
    parser.add_argument("--val-every", type=positive_int, default=100)
    for name in ("width", "depth", "tasks", "crops", "crop"):
        parser.add_argument(f"--{name}", type=positive_int, default=getattr(d, name),
                            help=f"default {getattr(d, name)}")
    for name in ("inner-lr", "outer-lr", "max-kernel", "still-prob", "shake-prob"):
        parser.add_argument(f"--{name}", type=float, default=getattr(d, name.replace("-", "_")),
                            help=f"default {getattr(d, name.replace('-', '_'))}")
    parser.add_argument("--first-order", action="store_true",
                        help="treat the inner gradient as a constant (default: second-order "
                        "MAML, the paper's; 1.8x the time per meta-step on the CPU)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--photos", default=None, help="folder with cbsd68/ and mcmaster18/")
    parser.add_argument("--init", default=None, metavar="CKPT",
                        help="start from this U-Net's weights (e.g. a previous MAML run's "
                        "best.pt) with a fresh optimiser; ignored when OUT/last.pt resumes")
    parser.add_argument("--fresh", action="store_true", help="ignore OUT/last.pt")
    parser.add_argument("--export", type=Path, default=None, help="also copy the result here")
    return parser


def main_meta(argv: list[str]) -> int:
    args = build_meta_parser().parse_args(argv)

    from deblur_ros.core.training.meta import MetaConfig, train_meta

    try:
        cfg = MetaConfig(width=args.width, depth=args.depth, inner_lr=args.inner_lr,
                         outer_lr=args.outer_lr, tasks=args.tasks, crops=args.crops,
                         crop=args.crop, max_kernel=args.max_kernel,
                         first_order=args.first_order, seed=args.seed,
                         photo_root=args.photos, still_prob=args.still_prob,
                         shake_prob=args.shake_prob, init=args.init)
    except ValueError as exc:
        print(f"deblur-ros train: {exc}", file=sys.stderr)
        return 2
    return _run(lambda: train_meta(cfg, args.out, args.iterations, args.val_every,
                                   resume=not args.fresh), args)


def _run(train: Callable[[], Path], args: argparse.Namespace) -> int:
    """Thread count, the run itself with one-line errors, and the optional --export copy."""
    import shutil

    from deblur_ros.core.models.checkpoint import CheckpointError
    from deblur_ros.core.training.live_trainer import TrainingDivergedError

    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    try:
        exported = train()
    except (CheckpointError, ValueError, TrainingDivergedError) as exc:
        print(f"deblur-ros train: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk or a lost mount at a save: every save is atomic
        where = f": {exc.filename}" if exc.filename else ""
        print(f"deblur-ros train: {exc.strerror or exc}{where}; what the run saved so far "
              "is intact: fix that and run the same command to resume", file=sys.stderr)
        return 1
    print(f"exported {exported}")
    if args.export:
        target = args.export / exported.name if args.export.is_dir() else args.export
        shutil.copyfile(exported, target)
        print(f"copied to {target}")
    return 0


def load_real_validation(root: str) -> RealValidation:
    """Read every frame of a pairs folder once, up front: a missing sharp folder or an
    unreadable frame stops the run before training starts, not at its first validation."""
    from deblur_ros.adapters.frame_sources import pairs_dataset
    from deblur_ros.core.training.live_trainer import RealValidation

    sequences = []
    for name, blur, sharp in pairs_dataset(root):
        if sharp is None:
            raise ValueError(f"--real-val {root!r}: {name} has no sharp/ folder; real "
                             "validation needs ground truth (make pairs with 'deblur-ros pairs')")
        sequences.append((name, list(blur), list(sharp)))
    return RealValidation(str(root), sequences)


def main(argv: list[str]) -> int:
    # SIGTERM/SIGINT stop a run the way Ctrl-C does: the trainer saves ``last.pt`` on
    # the way out, and the same command resumes there.
    stop_on_signals()
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("deblur-ros train: stopped; last.pt holds the run, the same command resumes it",
              file=sys.stderr)
        return 130


def _main(argv: list[str]) -> int:
    if argv and argv[0] == "scene-meta":
        return main_meta(argv[1:])
    if not argv or argv[0] != "live":
        print("usage: deblur-ros train live [options]  or  deblur-ros train scene-meta "
              "[options]", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv[1:])

    from deblur_ros.core.training.live_trainer import LiveTrainConfig, train_live

    chosen = {name: getattr(args, name) for name in (
        "width", "iterations", "batch", "crop", "clip_frames", "lr", "warmup", "streak_min",
        "streak_max", "still_clips", "val_every", "save_every", "val_photos", "val_size",
        "procedural_fraction", "schedule", "loss", "data", "activation", "real_share",
        "real_hold_out", "real_shuffle", "real_width", "distill", "fft_weight", "ema",
        "clip_grad")
        if getattr(args, name) is not None}
    chosen |= {"lookahead": args.lookahead, "past": max(1, args.lookahead), "device": args.device,
               "workers": args.workers, "seed": args.seed, "photo_root": args.photos,
               "amp": not args.no_amp}
    if args.real:
        chosen["real_footage"] = args.real
        chosen.setdefault("real_share", 0.5)
    from deblur_ros.core.models.checkpoint import resolve_model

    if args.init:
        chosen["init"] = str(resolve_model(args.init))
    if args.teacher:
        chosen["teacher"] = str(resolve_model(args.teacher))
    elif args.distill is not None:
        print("deblur-ros train: --distill needs --teacher CKPT", file=sys.stderr)
        return 2
    cfg = LiveTrainConfig.paper(**chosen) if args.paper else LiveTrainConfig(**chosen)
    return _run(lambda: train_live(
        cfg, args.out, resume=not args.fresh,
        real_val=load_real_validation(args.real_val) if args.real_val else None), args)
