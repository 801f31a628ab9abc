"""Experiment: does the lite model gain from a multi-scale recurrent core at equal compute?

The lite model (width 16) is limited by capacity, not by what it is taught: its curves
flatten near +0.9 dB, width 24 bought +0.16 dB for 2.2x the compute, and distilling the
paper width into it moved nothing (models/TRAINING.md). At a fixed budget of multiply-adds
per frame, channels are cheapest where the resolution is lowest: a 3x3 convolution with 64
channels at 1/8 resolution costs what one with 16 channels costs at 1/2. This variant keeps
the lite model's full-resolution input filter and output, and moves the recurrent core
(feedback fusion, residual blocks, the blending cell) to 1/8 resolution with 64 channels,
with a 32-channel level at 1/4 between them and skip connections on the way up (the
encoder-decoder shape of efficient deblurring networks such as MIMO-UNet and NAFNet).
The earlier quarter-resolution study lost detail on mild blur because only a bare sum
carried the half-resolution features past its core; here each level's decoder has a
residual block of its own. It is an experiment, not a shipped network: the variant lives
here and is registered only for this run.

    python bench/live_multiscale_study.py cost
    python bench/live_multiscale_study.py train --variant multiscale --out runs/ms16 \
        --lr 3e-4 --clip-grad 0.1
    python bench/live_multiscale_study.py train --variant half --out runs/h16
    python bench/live_multiscale_study.py score runs/ms16/best.pt runs/h16/best.pt \
        --pairs eval_out/x4k_t11 --pairs eval_out/x4k_t25 --pairs eval_out/gopro_360

Both use the project's trainer (``train_live``, the shipped CPU recipe) from scratch with the
same seed, so they see the same clips; ``score`` runs the 24-photo ``eval --validation`` set.
"""

from __future__ import annotations

import argparse
import platform
import time
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
    gmac_per_frame,
)

SCALE = 8
"""The core's resolution divisor: frame sides must be multiples of it."""

ZERO_BLOCKS = False
"""Start every residual block as the identity (``train --zero-blocks``): without a
normalisation layer, eleven blocks of 64/32 channels diverged at lr 5e-4 from scratch."""


class MultiScaleStrcnn(StrcnnDtb):
    """STRCNN+DTB with its recurrent core at 1/8 resolution and 4x the width there."""

    size_multiple = SCALE

    def __init__(self, config: StrcnnConfig) -> None:
        super().__init__(config)
        c1, c2, c3 = config.width, 2 * config.width, 4 * config.width
        self.down2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.enc2 = ResBlock(c2, config.activation)
        self.down3 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.fuse = nn.Conv2d(c3 + FEEDBACK_CHANNELS, c3, 3, padding=1)
        self.encoder = nn.Sequential(*[ResBlock(c3, config.activation)
                                       for _ in range(config.blocks)])
        self.blend = DynamicTemporalBlending(c3)
        self.decoder = nn.Sequential(*[ResBlock(c3, config.activation)
                                       for _ in range(config.blocks)])
        self.to_feedback = nn.Conv2d(c3, FEEDBACK_CHANNELS, 3, padding=1)
        self.up3 = nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1)
        self.dec2 = ResBlock(c2, config.activation)
        self.up2 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
        self.dec1 = ResBlock(c1, config.activation)
        if ZERO_BLOCKS:  # SkipInit/Fixup: every block starts as the identity
            for module in self.modules():
                if isinstance(module, ResBlock):
                    nn.init.zeros_(module.conv2.weight)
                    nn.init.zeros_(module.conv2.bias)

    def initial_state(self, frames: Tensor) -> RecurrentState:
        n, _, _, height, width = frames.shape
        low = (height // SCALE, width // SCALE)
        return RecurrentState(
            feedback=frames.new_zeros(n, FEEDBACK_CHANNELS, *low),
            blended=frames.new_zeros(n, 4 * self.config.width, *low),
            fresh=frames.new_ones(n, 1, 1, 1),
        )

    def forward(self, frames: Tensor, state: RecurrentState) -> tuple[Tensor, RecurrentState]:
        n, t, ch, height, width = frames.shape
        if height % SCALE or width % SCALE:
            raise ValueError(f"height and width must be multiples of {SCALE}, "
                             f"got {height}x{width}")
        x = self.act(self.filter_in(frames.reshape(n, t * ch, height, width)))
        e1 = self.act(self.down(x))
        e2 = self.enc2(self.act(self.down2(e1)))
        e3 = self.act(self.down3(e2))
        e3 = self.act(self.fuse(torch.cat([e3, state.feedback.to(e3.dtype)], dim=1)))
        h = self.encoder(e3)
        blended = self.blend(h, state.blended.to(h.dtype), state.fresh)
        y = self.decoder(blended)
        new_state = RecurrentState(feedback=self.to_feedback(y), blended=blended,
                                   fresh=torch.zeros_like(state.fresh))
        d2 = self.dec2(self.act(self.up3(y)) + e2)
        d1 = self.dec1(self.act(self.up2(d2)) + e1)
        residual = self.to_image(self.act(self.up(d1)))
        return frames[:, self.config.past] + residual, new_state


registry.ARCHITECTURES["strcnn_ms"] = registry.Architecture(
    "strcnn_ms", MultiScaleStrcnn, StrcnnConfig, legacy_defaults={}, legacy_names={})


def multiscale_gmac(config: StrcnnConfig, height: int = 480, width: int = 640) -> float:
    """Multiply-accumulates of one step, counted layer by layer like ``gmac_per_frame``."""
    c1, c2, c3, f, k = (config.width, 2 * config.width, 4 * config.width,
                        FEEDBACK_CHANNELS, config.n_frames)
    full = height * width
    p1, p2, p3 = full // 4, full // 16, full // 64
    macs = full * 3 * k * c1 * 25 + p1 * c1 * c1 * 9  # filter_in, down
    macs += p2 * c1 * c2 * 9 + p2 * 2 * c2 * c2 * 9  # down2, enc2
    macs += p3 * c2 * c3 * 9 + p3 * (c3 + f) * c3 * 9  # down3, fuse
    macs += p3 * 2 * config.blocks * 2 * c3 * c3 * 9  # encoder + decoder
    macs += p3 * 2 * c3 * c3 * 25 + p3 * c3 * f * 9  # blending, to_feedback
    macs += p2 * c3 * c2 * 16 + p2 * 2 * c2 * c2 * 9  # up3, dec2
    macs += p1 * c2 * c1 * 16 + p1 * 2 * c1 * c1 * 9  # up2, dec1
    macs += full * c1 * c1 * 4 + full * c1 * 3 * 9  # up, to_image
    return macs / 1e9


def cost(args: argparse.Namespace) -> None:
    """Parameters, GMAC and speed per VGA frame of both networks, in the node's precision."""
    torch.set_num_threads(args.threads)
    cfg = StrcnnConfig(width=16)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, 640x480, bf16 autocast, channels-last")
    for name, net, gmac in (("half (shipped)", StrcnnDtb(cfg), gmac_per_frame(cfg)),
                            ("multiscale", MultiScaleStrcnn(cfg), multiscale_gmac(cfg))):
        net.eval()
        net = net.to(memory_format=torch.channels_last)
        frames = torch.rand(1, cfg.n_frames, 3, 480, 640)
        state = net.initial_state(frames)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            for _ in range(3):
                net(frames, state)
            start = time.perf_counter()
            for _ in range(args.repeats):
                _, state = net(frames, state)
            ms = (time.perf_counter() - start) / args.repeats * 1e3
        params = sum(p.numel() for p in net.parameters())
        print(f"{name:16s} {params:9,d} parameters  {gmac:5.2f} GMAC  {ms:6.1f} ms "
              f"({1e3 / ms:5.1f} fps)")


def train(args: argparse.Namespace) -> None:
    from live_quarter_study import train_network  # bench/, beside this script

    global ZERO_BLOCKS
    ZERO_BLOCKS = args.zero_blocks
    torch.set_num_threads(args.threads)
    train_network(MultiScaleStrcnn if args.variant == "multiscale" else None, args.out,
                  "live_multiscale_study", progress=False, iterations=args.iterations,
                  lr=args.lr, clip_grad=args.clip_grad,
                  extra={"variant": args.variant, "zero_blocks": args.zero_blocks})


def score(args: argparse.Namespace) -> None:
    from live_quarter_study import print_validation  # bench/, beside this script

    from deblur_ros.cli.train import load_real_validation
    from deblur_ros.core.models.checkpoint import load_model
    from deblur_ros.core.synthesis.validation import validation_set
    from deblur_ros.core.training.live_trainer import evaluate_real

    torch.set_num_threads(args.threads)
    clips = validation_set(24, 128, 7)
    real_sets = [load_real_validation(root) for root in args.pairs]
    for path in args.checkpoints:
        model, metadata = load_model(path, architecture=None)
        for real in real_sets:  # the raw network (no dead zone), as --deadzone 0
            figures = evaluate_real(model, real, torch.device("cpu"))
            worst, fig = min(figures["by_sequence"].items(),
                             key=lambda kv: kv[1]["output_psnr"] - kv[1]["input_psnr"])
            print(f"{path}: {real.source}: {figures['input_psnr']:.2f} -> "
                  f"{figures['output_psnr']:.2f} dB "
                  f"({figures['output_psnr'] - figures['input_psnr']:+.2f}; worst {worst} "
                  f"{fig['output_psnr'] - fig['input_psnr']:+.2f})")
        print_validation(path, model, metadata, clips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cost")
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--repeats", type=int, default=20)
    t = sub.add_parser("train")
    t.add_argument("--variant", choices=("multiscale", "half"), required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--iterations", type=int, default=6000)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--lr", type=float, default=1e-3,
                   help="peak rate (the multi-scale core diverged at 5e-4 by step 1,250)")
    t.add_argument("--clip-grad", type=float, default=0.0)
    t.add_argument("--zero-blocks", action="store_true",
                   help="multiscale: every residual block starts as the identity")
    s = sub.add_parser("score")
    s.add_argument("checkpoints", nargs="+")
    s.add_argument("--pairs", action="append", default=[], metavar="DIR",
                   help="also score real blurry/sharp pairs (deblur-ros pairs' layout)")
    s.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    {"cost": cost, "train": train, "score": score}[args.command](args)


if __name__ == "__main__":
    main()
