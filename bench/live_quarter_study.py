"""Experiment: does the lite model gain from a quarter-resolution recurrent core?

The shipped lite model (width 16) runs its residual blocks and blending cell at half
resolution with 16 channels; its curves flattened near +0.9 dB (models/TRAINING.md), and
width 24 bought +0.16 dB for 2.2x the compute. This variant moves the same core to quarter
resolution with twice the channels (32): about the same multiply-adds per frame (+6 %),
four times the core's parameters, twice its receptive field (the validation's streaks reach
32 px), with the half-resolution features added back before the last upsampling. It is an
experiment, not a shipped network: the variant lives here, registered only for this run.

    python bench/live_quarter_study.py train --variant quarter --out runs/q16 --lr 5e-4
    python bench/live_quarter_study.py train --variant half --out runs/h16
    python bench/live_quarter_study.py score runs/q16/best.pt runs/h16/best.pt

Both use the project's trainer (``train_live``, the shipped CPU recipe) from scratch with the
same seed, so they see the same clips; ``score`` runs the 24-photo ``eval --validation`` set.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from deblur_ros.core.models import registry
from deblur_ros.core.models.strcnn_dtb import (
    FEEDBACK_CHANNELS,
    DynamicTemporalBlending,
    RecurrentState,
    ResBlock,
    StrcnnConfig,
    StrcnnDtb,
)


class QuarterStrcnn(StrcnnDtb):
    """STRCNN+DTB with the encoder, blending and decoder at quarter resolution, 2x width."""

    def __init__(self, config: StrcnnConfig) -> None:
        super().__init__(config)
        c, c2 = config.width, 2 * config.width
        self.down2 = nn.Conv2d(c, c2, 3, stride=2, padding=1)
        self.fuse = nn.Conv2d(c2 + FEEDBACK_CHANNELS, c2, 3, padding=1)
        self.encoder = nn.Sequential(*[ResBlock(c2, config.activation)
                                       for _ in range(config.blocks)])
        self.blend = DynamicTemporalBlending(c2)
        self.decoder = nn.Sequential(*[ResBlock(c2, config.activation)
                                       for _ in range(config.blocks)])
        self.to_feedback = nn.Conv2d(c2, FEEDBACK_CHANNELS, 3, padding=1)
        self.up2 = nn.ConvTranspose2d(c2, c, 4, stride=2, padding=1)

    def initial_state(self, frames: Tensor) -> RecurrentState:
        n, _, _, height, width = frames.shape
        quarter = (height // 4, width // 4)
        return RecurrentState(
            feedback=frames.new_zeros(n, FEEDBACK_CHANNELS, *quarter),
            blended=frames.new_zeros(n, 2 * self.config.width, *quarter),
            fresh=frames.new_ones(n, 1, 1, 1),
        )

    def forward(self, frames: Tensor, state: RecurrentState) -> tuple[Tensor, RecurrentState]:
        n, t, ch, height, width = frames.shape
        if height % 4 or width % 4:
            raise ValueError(f"height and width must be multiples of 4, got {height}x{width}")
        x = self.act(self.filter_in(frames.reshape(n, t * ch, height, width)))
        half = self.act(self.down(x))
        q = self.act(self.down2(half))
        q = self.act(self.fuse(torch.cat([q, state.feedback.to(q.dtype)], dim=1)))
        h = self.encoder(q)
        blended = self.blend(h, state.blended.to(h.dtype), state.fresh)
        y = self.decoder(blended)
        new_state = RecurrentState(feedback=self.to_feedback(y), blended=blended,
                                   fresh=torch.zeros_like(state.fresh))
        z = self.act(self.up2(y)) + half
        residual = self.to_image(self.act(self.up(z)))
        return frames[:, self.config.past] + residual, new_state


registry.ARCHITECTURES["strcnn_quarter"] = registry.Architecture(
    "strcnn_quarter", QuarterStrcnn, StrcnnConfig, legacy_defaults={}, legacy_names={})


def train(args: argparse.Namespace) -> None:
    from deblur_ros.core.models.checkpoint import CheckpointError
    from deblur_ros.core.training import live_trainer

    torch.set_num_threads(args.threads)
    if args.variant == "quarter":
        live_trainer.StrcnnDtb = QuarterStrcnn  # the trainer builds its network by this name
    cfg = live_trainer.LiveTrainConfig(iterations=args.iterations, workers=1, lr=args.lr,
                                       extra={"variant": args.variant})
    try:
        live_trainer.train_live(cfg, args.out)
    except CheckpointError as exc:  # the export reloads the run as a shipped live model
        print(f"trained; {args.out}/best.pt is the run's result (not exported: {exc})")


def train_network(network: Callable[[StrcnnConfig], nn.Module] | None, out: Path, study: str,
                  progress: bool = True, **config: object) -> None:
    """Run the project's trainer on ``network``, a class or factory taking a config (None:
    the shipped ``StrcnnDtb``).

    A study's network is not a shipped live architecture, so the trainer's final export
    refuses it: ``best.pt`` is then the run's result. A diverged run ends in one line.
    """
    from deblur_ros.core.models.checkpoint import CheckpointError
    from deblur_ros.core.training import live_trainer

    if network is not None:
        live_trainer.StrcnnDtb = network  # the trainer builds its network by this name
    cfg = live_trainer.LiveTrainConfig(workers=1, **config)
    try:
        live_trainer.train_live(cfg, out, progress=progress)
    except CheckpointError as exc:  # the export reloads the run as a shipped live model
        print(f"trained; {out}/best.pt is the run's result (not exported: {exc})")
    except live_trainer.TrainingDivergedError as exc:
        raise SystemExit(f"{study}: {exc}") from None


def score(args: argparse.Namespace) -> None:
    from deblur_ros.core.models.checkpoint import load_model
    from deblur_ros.core.synthesis.validation import validation_set

    torch.set_num_threads(args.threads)
    clips = validation_set(24, 128, 7)
    for path in args.checkpoints:
        model, metadata = load_model(path, architecture=None)
        print_validation(path, model, metadata, clips)


def print_validation(path: str, model: nn.Module, metadata: dict, clips: list) -> None:
    """One line: the 24-photo ``eval --validation`` gain, overall and per level."""
    from deblur_ros.core.inference.streaming import StreamingDeblurrer
    from deblur_ros.core.scoring.validation import psnr_summary, score_clips

    summary = psnr_summary(score_clips(StreamingDeblurrer(model), clips,
                                       figures=("psnr",)))
    levels = "  ".join(f"{k} {v['output_psnr'] - v['input_psnr']:+.2f}"
                       for k, v in summary["by_level"].items())
    params = sum(p.numel() for p in model.parameters())
    print(f"{path}: {type(model).__name__} {params:,} parameters, "
          f"{metadata.get('iterations')} steps: "
          f"{summary['input_psnr']:.2f} -> {summary['output_psnr']:.2f} dB "
          f"({summary['output_psnr'] - summary['input_psnr']:+.2f}; {levels})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--variant", choices=("quarter", "half"), required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--iterations", type=int, default=6000)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--lr", type=float, default=1e-3,
                   help="peak rate (the quarter core diverged at 1e-3 by step 280)")
    s = sub.add_parser("score")
    s.add_argument("checkpoints", nargs="+")
    s.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    train(args) if args.command == "train" else score(args)


if __name__ == "__main__":
    main()
