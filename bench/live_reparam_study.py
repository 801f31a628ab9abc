"""Experiment: does the lite model learn more when trained over-parameterised, at no inference cost?

Distillation and a multi-scale core left the lite network (width 16) where it was
(models/TRAINING.md), which says the limit is what 72k weights can represent *or* how far
Adam gets with them in a CPU budget. Structural re-parameterisation separates the two:
each 3x3 convolution of the residual blocks and of the feedback fusion is trained as a sum
of linear branches (the 3x3 itself, a 1x1, and a 1x1 expansion followed by a 3x3, as in
ECBSR and ACNet, without batch norm), which is still one 3x3 convolution, so the trained
network collapses exactly into the shipped ``StrcnnDtb`` with the same cost per frame.
Only the optimisation path changes. If the collapsed network beats the plain one trained on
the same clips for the same steps, the lite model was limited by its training, not its size.

    python bench/live_reparam_study.py train --out runs/rep16
    python bench/live_reparam_study.py collapse runs/rep16/best.pt runs/rep16/collapsed.pt
    python bench/live_multiscale_study.py score runs/rep16/collapsed.pt runs/ms-half/best.pt \
        --pairs eval_out/x4k_t11 --pairs eval_out/x4k_t25 --pairs eval_out/gopro_360

``train`` is the project's trainer (``train_live``, the shipped CPU recipe at lr 1e-3, the
plain baseline being ``live_multiscale_study.py train --variant half``), from scratch with
the same seed, so both see the same clips; ``collapse`` checks that the collapsed network
gives the trained one's output before it writes a checkpoint every tool of the package loads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

from deblur_ros.core.models import registry
from deblur_ros.core.models.strcnn_dtb import ResBlock, StrcnnConfig, StrcnnDtb

EXPAND = 1
"""Hidden channels of the 1x1-then-3x3 branch, per output channel (ECBSR uses 2; 1 keeps a
training step about 1.6x the plain one's on this CPU)."""


class RepConv3x3(nn.Module):
    """A padded 3x3 convolution trained as 3x3 + 1x1 + (1x1 -> 3x3): one linear map.

    The expansion branch pads the input *before* its 1x1, so its border sees the 1x1's bias
    exactly as the collapsed convolution sees zero padding: the collapse is exact.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv3 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv1 = nn.Conv2d(cin, cout, 1)
        self.expand1 = nn.Conv2d(cin, EXPAND * cout, 1)
        self.expand3 = nn.Conv2d(EXPAND * cout, cout, 3)
        with torch.no_grad():  # the sum starts near the plain convolution's scale
            self.conv1.weight.mul_(0.5)
            self.expand3.weight.mul_(0.5)

    def forward(self, x: Tensor) -> Tensor:
        return (self.conv3(x) + self.conv1(x)
                + self.expand3(self.expand1(F.pad(x, (1, 1, 1, 1)))))

    @torch.no_grad()
    def collapsed(self) -> tuple[Tensor, Tensor]:
        """(weight, bias) of the single 3x3 convolution this module computes."""
        weight = self.conv3.weight.clone()
        bias = self.conv3.bias + self.conv1.bias + self.expand3.bias
        weight[:, :, 1, 1] += self.conv1.weight[:, :, 0, 0]
        w1 = self.expand1.weight[:, :, 0, 0]  # [hidden, cin]
        weight += torch.einsum("omhw,mi->oihw", self.expand3.weight, w1)
        bias = bias + torch.einsum("omhw,m->o", self.expand3.weight, self.expand1.bias)
        return weight, bias


def _rep_targets(net: StrcnnDtb) -> list[tuple[nn.Module, str]]:
    """The (parent, attribute) of every 3x3 convolution that is trained re-parameterised."""
    targets: list[tuple[nn.Module, str]] = [(net, "fuse")]
    for block in [*net.encoder, *net.decoder]:
        assert isinstance(block, ResBlock)
        targets += [(block, "conv1"), (block, "conv2")]
    return targets


class RepStrcnn(StrcnnDtb):
    """STRCNN+DTB whose residual-block and fusion convolutions train as ``RepConv3x3``."""

    def __init__(self, config: StrcnnConfig) -> None:
        super().__init__(config)
        for parent, name in _rep_targets(self):
            conv = getattr(parent, name)
            setattr(parent, name, RepConv3x3(conv.in_channels, conv.out_channels))


registry.ARCHITECTURES["strcnn_rep"] = registry.Architecture(
    "strcnn_rep", RepStrcnn, StrcnnConfig, legacy_defaults={}, legacy_names={})


def collapse_network(rep: RepStrcnn) -> StrcnnDtb:
    """The plain network computing exactly what ``rep`` computes."""
    plain = StrcnnDtb(rep.config)
    state = {k: v for k, v in rep.state_dict().items()}
    plain_state = plain.state_dict()
    for key in plain_state:
        if key in state:
            plain_state[key] = state[key]
    for (parent, name), (plain_parent, _) in zip(_rep_targets(rep), _rep_targets(plain)):
        weight, bias = getattr(parent, name).collapsed()
        conv = getattr(plain_parent, name)
        prefix = next(k for k, m in plain.named_modules() if m is conv)
        plain_state[f"{prefix}.weight"] = weight
        plain_state[f"{prefix}.bias"] = bias
    plain.load_state_dict(plain_state)
    return plain


def train(args: argparse.Namespace) -> None:
    from live_quarter_study import train_network  # bench/, beside this script

    torch.set_num_threads(args.threads)
    train_network(RepStrcnn, args.out, "live_reparam_study", progress=False,
                  iterations=args.iterations, lr=args.lr,
                  extra={"variant": "reparam", "expand": EXPAND})


def collapse(args: argparse.Namespace) -> None:
    from deblur_ros.core.models.checkpoint import load_model, save_checkpoint

    rep, metadata = load_model(args.checkpoint, architecture="strcnn_rep")
    rep.eval()
    plain = collapse_network(rep).eval()
    frames = torch.rand(2, rep.config.n_frames, 3, 48, 64)
    with torch.no_grad():
        a, sa = rep(frames, rep.initial_state(frames))
        b, sb = plain(frames, plain.initial_state(frames))
        a, sa = rep(frames, sa)
        b, sb = plain(frames, sb)
    # the state too: an untrained network's output layer is zero, its state is not
    err = max((x - y).abs().max().item() for x, y in
              ((a, b), (sa.feedback, sb.feedback), (sa.blended, sb.blended)))
    if err > 1e-4:
        raise SystemExit(f"live_reparam_study: collapse is not exact (max error {err:.2e})")
    save_checkpoint(args.out, plain, {**metadata, "collapsed_from": str(args.checkpoint)})
    print(f"{args.out}: plain StrcnnDtb, max output difference {err:.1e} over two steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--iterations", type=int, default=6000)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--lr", type=float, default=1e-3)
    c = sub.add_parser("collapse")
    c.add_argument("checkpoint", type=Path)
    c.add_argument("out", type=Path)
    args = parser.parse_args()
    {"train": train, "collapse": collapse}[args.command](args)


if __name__ == "__main__":
    main()
