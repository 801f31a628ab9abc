"""Experiment: does the lite model gain from more residual blocks, within its frame rate?

Every equal-cost lever measured so far (models/TRAINING.md) left the lite network (width 16,
4 + 4 residual blocks) near where it was, and width, the one lever that paid, costs more
frame rate than the live target leaves: width 20 and 24 ran at ~22 fps at 640x480 on this
CPU's 2 threads against the 24 fps target. Depth was never measured. Two more blocks on
each side add 22 % of the multiply-adds (6.43 -> 7.84 GMAC per VGA frame) and ~29 fps in
the same check, inside the target, with 26 % more weights and a wider receptive field.

Both arms start from the shipped lite model and train the same steps on the same clips
(same seed) with its own fine-tuning recipe (motion recipe + 50 % real-motion clips, the
five held-out X4K clips never decoded), so the comparison isolates the depth from the
extra training:

    python bench/live_depth_study.py deepen models/strcnn-w16-m1.pt runs/deep6/init.pt --blocks 6
    python bench/live_depth_study.py train --out runs/deep6 --init runs/deep6/init.pt
    python bench/live_depth_study.py train --out runs/deep4 --init models/strcnn-w16-m1.pt
    python bench/live_multiscale_study.py score runs/deep4/best.pt runs/deep6/best.pt \\
        --pairs eval_out/x4k_t11_ho --pairs eval_out/x4k_t25_ho --pairs eval_out/gopro_360

The warm-started blocks start as identities and may move little in a short fine-tune, so
depth is also trained from scratch (the shipped recipe, lr 1e-3, seed 0: the clips the plain
baseline of the multi-scale study saw, ``live_multiscale_study.py train --variant half``):

    python bench/live_depth_study.py train --out runs/deep6s --blocks 6 --iterations 6000

``deepen`` appends identity blocks (second convolution zero), so the deeper network starts
with exactly the shipped function; it checks that before it writes.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
from torch import nn

from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb

REAL = "../shared/data/real_highfps/x4k1000"
HELD_OUT = "TEST02,TEST04,TEST06,TEST08,TEST10"


def deepened(model: StrcnnDtb, blocks: int) -> StrcnnDtb:
    """``model`` with ``blocks`` residual blocks per side; the added ones are identities."""
    deep = StrcnnDtb(dataclasses.replace(model.config, blocks=blocks))
    state = deep.state_dict()
    for key, value in model.state_dict().items():
        state[key] = value.clone()  # blocks 0..n-1 of each side keep their names
    deep.load_state_dict(state)
    old = model.config.blocks
    with torch.no_grad():
        for side in (deep.encoder, deep.decoder):
            for block in list(side)[old:]:
                nn.init.zeros_(block.conv2.weight)
                nn.init.zeros_(block.conv2.bias)
    return deep


def deepen(args: argparse.Namespace) -> None:
    from deblur_ros.core.models.checkpoint import load_model, save_checkpoint

    model, metadata = load_model(args.source)
    model.eval()
    deep = deepened(model, args.blocks).eval()
    frames = torch.rand(2, model.config.n_frames, 3, 48, 64)
    with torch.no_grad():
        a, sa = model(frames, model.initial_state(frames))
        b, sb = deep(frames, deep.initial_state(frames))
        a, _ = model(frames, sa)
        b, _ = deep(frames, sb)
    err = (a - b).abs().max().item()
    if err > 1e-5:
        raise SystemExit(f"live_depth_study: the deepened network differs ({err:.1e})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.out, deep, {**metadata, "deepened_from": str(args.source)})
    print(f"{args.out}: {args.blocks} blocks per side, same output as {args.source} "
          f"(max difference {err:.1e} over two steps)")


def train(args: argparse.Namespace) -> None:
    from live_quarter_study import train_network  # bench/, beside this script

    from deblur_ros.core.models.checkpoint import read_checkpoint

    blocks = read_checkpoint(args.init)["config"]["blocks"] if args.init else args.blocks

    def network(config: StrcnnConfig) -> StrcnnDtb:
        """The trainer builds StrcnnDtb(width, look-ahead); this keeps the wanted depth, and
        the result is a plain StrcnnDtb, so every tool of the package loads the run."""
        return StrcnnDtb(dataclasses.replace(config, blocks=blocks))

    if args.init:  # the shipped lite model's fine-tune: real motion in the mix
        recipe = {"lr": args.lr or 3e-4, "warmup": 100, "init": str(args.init),
                  "real_footage": REAL, "real_share": 0.5, "real_hold_out": HELD_OUT}
    else:  # the shipped recipe from scratch, as the other studies' plain baseline
        recipe = {"lr": args.lr or 1e-3}
    torch.set_num_threads(args.threads)
    train_network(network, args.out, "live_depth_study", progress=False,
                  iterations=args.iterations, seed=args.seed,
                  extra={"variant": f"depth {blocks}"}, **recipe)


def speed(args: argparse.Namespace) -> None:
    """Frames per second of one recurrent step at 640x480, as the live node runs it on a CPU
    (PyTorch eager, bf16 autocast, channels-last, batch 1), for each width x blocks."""
    import time

    from deblur_ros.core.hardware import hardware_description
    from deblur_ros.core.models.strcnn_dtb import count_parameters, gmac_per_frame

    torch.set_num_threads(args.threads)
    print(f"# {hardware_description(torch.device('cpu'))}, torch {torch.__version__}, "
          "640x480, bf16 autocast, channels-last, random weights")
    for spec in args.networks:
        width, blocks = (int(v) for v in spec.split("x"))
        config = StrcnnConfig(width=width, blocks=blocks)
        model = StrcnnDtb(config).eval().to(memory_format=torch.channels_last)
        frames = torch.rand(1, config.n_frames, 3, 480, 640)
        state = model.initial_state(frames)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            for _ in range(5):
                _, state = model(frames, state)
            start = time.perf_counter()
            for _ in range(args.frames):
                _, state = model(frames, state)
            seconds = (time.perf_counter() - start) / args.frames
        print(f"width {width:2d} blocks {blocks:2d}: {count_parameters(model):7,} parameters "
              f"{gmac_per_frame(config):6.2f} GMAC  {1000 * seconds:5.1f} ms "
              f"({1 / seconds:5.1f} fps)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deepen")
    d.add_argument("source")
    d.add_argument("out", type=Path)
    d.add_argument("--blocks", type=int, default=6)
    t = sub.add_parser("train")
    t.add_argument("--out", type=Path, required=True)
    start = t.add_mutually_exclusive_group(required=True)
    start.add_argument("--init", type=Path, help="fine-tune this checkpoint (its depth)")
    start.add_argument("--blocks", type=int, help="from scratch with this many blocks a side")
    t.add_argument("--iterations", type=int, default=3000)
    t.add_argument("--lr", type=float, default=None,
                   help="peak rate (default 3e-4 with --init, the shipped fine-tune's; "
                        "1e-3 from scratch)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    f = sub.add_parser("speed")
    f.add_argument("networks", nargs="*", default=["16x4", "16x6", "16x8", "20x4", "24x4"],
                   metavar="WIDTHxBLOCKS")
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    {"deepen": deepen, "train": train, "speed": speed}[args.command](args)


if __name__ == "__main__":
    main()
