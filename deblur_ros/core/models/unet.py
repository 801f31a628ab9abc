"""The scene model: a plain U-Net fitted to one drive (Ren, Qian, Chen).

The paper found deep video networks unnecessary, even harmful, when the training set is a
handful of frames of one scene: a simple U-Net fits them. Where the paper is silent we
chose, and the model card repeats it:

- two 3x3 convolutions per level, strided 3x3 convolutions down, 2x2 transposed
  convolutions up, skip connections by concatenation; leaky ReLU (slope 0.1), as for the
  live model, so no unit dies in the first steps of a short fit;
- the output is a residual added to the blurry input and the last layer starts at zero,
  so an unfitted network is the identity: a fit stopped early (budget, cancellation)
  never returns something worse than doing nothing by construction of the start;
- any frame size works: the input is padded (edge replicated) to a multiple of
  2^depth and the output cropped back.

No batch normalisation: a fit sees batches of a few crops of the same frames, where batch
statistics are noisy, and MAML's inner steps would have to carry running statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812


@dataclass(frozen=True)
class UNetConfig:
    """What a checkpoint must record to rebuild the network."""

    width: int = 16
    depth: int = 3

    def __post_init__(self) -> None:
        if self.width < 1 or not 1 <= self.depth <= 6:
            raise ValueError(f"U-Net needs width >= 1 and depth 1-6 (got width {self.width}, "
                             f"depth {self.depth})")

    @property
    def name(self) -> str:
        return f"unet-w{self.width}-d{self.depth}"


def _act(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.1)


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return _act(self.conv2(_act(self.conv1(x))))


class UNet(nn.Module):
    """Blurry RGB [N, 3, H, W] in [0, 1] -> restored RGB, same shape."""

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or UNetConfig()
        w, d = self.config.width, self.config.depth
        widths = [w * 2**i for i in range(d + 1)]
        self.head = _Block(3, widths[0])
        self.down = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1)
                                  for i in range(d))
        self.enc = nn.ModuleList(_Block(widths[i + 1], widths[i + 1]) for i in range(d))
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                for i in reversed(range(d)))
        self.dec = nn.ModuleList(_Block(2 * widths[i], widths[i]) for i in reversed(range(d)))
        self.tail = nn.Conv2d(widths[0], 3, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = 2**self.config.depth
        ph, pw = (-h) % m, (-w) % m
        y = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        skips = [self.head(y)]
        for down, enc in zip(self.down, self.enc):
            skips.append(enc(_act(down(skips[-1]))))
        z = skips.pop()
        for up, dec in zip(self.up, self.dec):
            z = dec(torch.cat([_act(up(z)), skips.pop()], dim=1))
        out = y + self.tail(z)
        return out[..., :h, :w]


def widened(model: UNet, width: int) -> UNet:
    """A U-Net of ``width`` that computes exactly what ``model`` computes.

    Why: the shipped MAML initialisation was meta-trained at width 16, and a scene fit
    that needs more channels should still start from it rather than from random weights
    (measured: MAML starts a fit ~1 dB ahead; MODELS.md). The old weights fill the first
    channels of every layer (of both halves where a decoder reads a concatenation); the
    new units keep their fresh initialisation on what they read and get zero weights on
    what reads them, so the start is unchanged and every new weight still gets a gradient.
    """
    old_w = model.config.width
    if width < old_w:
        raise ValueError(f"cannot narrow a U-Net from width {old_w} to {width}")
    big = UNet(UNetConfig(width=width, depth=model.config.depth))
    source = model.state_dict()
    state = big.state_dict()
    for name, target in state.items():
        old = source[name]
        if target.ndim == 1:  # biases: new units keep their init
            target[: old.shape[0]] = old
            continue
        # Conv2d weights are [out, in, k, k]; ConvTranspose2d ones [in, out, k, k].
        out_dim, in_dim = (1, 0) if name.startswith("up.") else (0, 1)
        n_old_in, n_new_in = old.shape[in_dim], target.shape[in_dim]
        if name.startswith("dec.") and ".conv1." in name:  # cat([upsampled, skip])
            keep = [*range(n_old_in // 2), *range(n_new_in // 2, n_new_in // 2 + n_old_in // 2)]
        else:
            keep = list(range(n_old_in))
        t = target.movedim((out_dim, in_dim), (0, 1))
        o = old.movedim((out_dim, in_dim), (0, 1))
        rows = t[: o.shape[0]]
        rows.zero_()  # what old units read from new ones: nothing
        rows[:, keep] = o
    big.load_state_dict(state)
    return big
