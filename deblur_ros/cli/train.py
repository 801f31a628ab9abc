"""``deblur-ros train live``: train STRCNN+DTB on clips synthesised from sharp photos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deblur_ros.cli.main import positive_int


def build_parser() -> argparse.ArgumentParser:
    from deblur_ros.core.training.live_trainer import LiveTrainConfig

    d = LiveTrainConfig()
    parser = argparse.ArgumentParser(
        prog="deblur-ros train live",
        description="Train the live model. Defaults are the paper's recipe (300k iterations, "
        "batch 8, 13-frame 128x128 clips, Adam 1e-4 x0.96 every 10k steps). Resumes from "
        "OUT/last.pt when it exists.",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/live"),
                        help="run folder: last.pt (resumable) and <name>.pt (export)")
    parser.add_argument("--width", type=positive_int, default=d.width,
                        help="channels (64 = the paper)")
    parser.add_argument("--lookahead", "-m", type=int, choices=(0, 1, 2), default=d.future,
                        help="frames of look-ahead m (1 = the paper, 0 = causal)")
    parser.add_argument("--iterations", type=positive_int, default=d.iterations)
    parser.add_argument("--batch", type=positive_int, default=d.batch)
    parser.add_argument("--crop", type=positive_int, default=d.crop)
    parser.add_argument("--clip-frames", type=positive_int, default=d.clip_frames)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--device", default=d.device, help="auto, cpu or cuda[:N]")
    parser.add_argument("--workers", type=int, default=d.workers, help="data loader processes")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--val-every", type=positive_int, default=d.val_every)
    parser.add_argument("--save-every", type=positive_int, default=d.save_every)
    parser.add_argument("--val-clips", type=positive_int, default=d.val_clips)
    parser.add_argument("--val-size", type=positive_int, default=d.val_size)
    parser.add_argument("--photos", default=None,
                        help="folder with cbsd68/ mcmaster18/ kodak24/ (default: ../shared/data/"
                        "sharp_photos if present; procedural images otherwise)")
    parser.add_argument("--procedural-fraction", type=float, default=d.procedural_fraction)
    parser.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    parser.add_argument("--fresh", action="store_true", help="ignore OUT/last.pt")
    parser.add_argument("--export", type=Path, default=None,
                        help="also copy the exported checkpoint here (e.g. models/)")
    return parser


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "live":
        print("usage: deblur-ros train live [options]  (the scene model trains in its node)",
              file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv[1:])
    import shutil

    from deblur_ros.core.checkpoint import CheckpointError
    from deblur_ros.core.training.live_trainer import LiveTrainConfig, train_live

    cfg = LiveTrainConfig(
        width=args.width, future=args.lookahead, past=max(1, args.lookahead),
        iterations=args.iterations, batch=args.batch, crop=args.crop,
        clip_frames=args.clip_frames, lr=args.lr, device=args.device, workers=args.workers,
        seed=args.seed, val_every=args.val_every, save_every=args.save_every,
        val_clips=args.val_clips, val_size=args.val_size,
        procedural_fraction=args.procedural_fraction, photo_root=args.photos,
        amp=not args.no_amp,
    )
    try:
        exported = train_live(cfg, args.out, resume=not args.fresh)
    except (CheckpointError, ValueError) as exc:
        print(f"deblur-ros train: {exc}", file=sys.stderr)
        return 2
    print(f"exported {exported}")
    if args.export:
        target = args.export / exported.name if args.export.is_dir() else args.export
        shutil.copyfile(exported, target)
        print(f"copied to {target}")
    return 0
