"""STRCNN+DTB: the spatio-temporal recurrent deblurring network of Kim et al., ICCV 2017.

The paper fixes the structure (Sec. 5.1, Fig. 4): 2m+1 blurry frames are filtered,
concatenated with the previous step's feature map F(n-1) (half resolution, 32
channels), passed through 4 residual blocks to give h(n); a dynamic temporal
blending cell mixes h(n) with the previous blended map h~(n-1) using one 5x5
convolution; 4 residual blocks with 64 3x3 filters decode the latent sharp frame
L(n) and the feature map F(n) handed to the next step.

Where the text is silent we chose, and the model card repeats it:
- the input filtering is a 5x5 convolution at full resolution followed by a strided
  3x3 convolution, which is what puts h and F at half resolution;
- the decoder upsamples with a 4x4 transposed convolution and predicts a residual
  added to the middle frame B(n); the last layer starts at zero, so an untrained
  network is the identity and training can only move away from "do nothing";
- the blending convolution is padded (no dead border) and beta is a trainable
  scalar squashed into [0, 1] by clamping in the forward pass;
- the activations are leaky ReLUs (slope 0.1) by default: with plain ReLUs and Adam,
  narrow networks lost whole layers in the first steps (measured: width 8 had every unit
  of ``fuse`` dead by step 10 and then output only a colour offset, which is what the first
  shipped checkpoints had learnt). ``activation="relu"`` keeps the paper's choice and
  reads checkpoints written before this option existed.

With width 64 this gives ~0.99 M parameters and ~79 GMAC per VGA frame, against
the paper's ~0.93 M and ~77 GMAC.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

FEEDBACK_CHANNELS = 32
"""Channels of F(n), fixed by the paper independently of the width."""


@dataclass(frozen=True)
class StrcnnConfig:
    """What a checkpoint must record to rebuild the network.

    ``past`` and ``lookahead`` count the neighbour frames on each side of the frame
    being restored: the paper's model is past=1, lookahead=1 (2m+1 = 3 frames, one
    frame of delay); the causal model is past=1, lookahead=0 (no delay).
    """

    width: int = 64
    past: int = 1
    lookahead: int = 1
    blocks: int = 4
    activation: str = "lrelu"  # "lrelu" (slope 0.1) or "relu" (the paper's)

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}: use "
                             f"{' or '.join(ACTIVATIONS)}")

    @property
    def n_frames(self) -> int:
        return self.past + 1 + self.lookahead

    @property
    def name(self) -> str:
        return model_name(self.width, self.lookahead)


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.1, inplace=True)


def _relu(x: Tensor) -> Tensor:
    return F.relu(x, inplace=True)


ACTIVATIONS = {"lrelu": _lrelu, "relu": _relu}


def model_name(width: int, lookahead: int) -> str:
    """Checkpoint name, e.g. ``strcnn-w64-m1`` for the paper's model."""
    return f"strcnn-w{width}-m{lookahead}"


class ResBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut (He et al.), no batch norm."""

    def __init__(self, channels: int, activation: str = "lrelu") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class DynamicTemporalBlending(nn.Module):
    """w = min(1, |tanh(A h~(n-1) + B h(n))| + beta);  h~(n) = w h(n) + (1 - w) h~(n-1).

    A and B are the two halves of one 5x5 convolution over the concatenation. ``fresh``
    (1 on a stream's first step, else 0) forces w = 1 there, so the first blended map is
    h(n) itself without a branch on a missing state: the state is always tensors, which a
    traced or exported graph can carry.
    """

    def __init__(self, channels: int, beta_init: float = 0.2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, channels, 5, padding=2)
        self.beta = nn.Parameter(torch.tensor(float(beta_init)))

    def forward(self, h: Tensor, h_prev: Tensor, fresh: Tensor) -> Tensor:
        beta = self.beta.clamp(0.0, 1.0)
        w = torch.clamp(torch.tanh(self.conv(torch.cat([h_prev, h], dim=1))).abs() + beta, max=1.0)
        w = torch.maximum(w, fresh.to(w.dtype))
        return w * h + (1.0 - w) * h_prev


@dataclass
class RecurrentState:
    """What one time step hands to the next: F(n) and h~(n) at half resolution, and
    ``fresh`` ([N, 1, 1, 1]: 1 before a stream's first step, 0 after it)."""

    feedback: Tensor
    blended: Tensor
    fresh: Tensor


class StrcnnDtb(nn.Module):
    """One recurrent step: (blurry window, state) -> (sharp middle frame, new state)."""

    size_multiple = 2  # frame sides must divide by this (one stride-2 level)

    def __init__(self, config: StrcnnConfig = StrcnnConfig()) -> None:
        super().__init__()
        self.config = config
        c = config.width
        self.filter_in = nn.Conv2d(3 * config.n_frames, c, 5, padding=2)
        self.down = nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.fuse = nn.Conv2d(c + FEEDBACK_CHANNELS, c, 3, padding=1)
        self.act = ACTIVATIONS[config.activation]
        self.encoder = nn.Sequential(*[ResBlock(c, config.activation)
                                       for _ in range(config.blocks)])
        self.blend = DynamicTemporalBlending(c)
        self.decoder = nn.Sequential(*[ResBlock(c, config.activation)
                                       for _ in range(config.blocks)])
        self.to_feedback = nn.Conv2d(c, FEEDBACK_CHANNELS, 3, padding=1)
        self.up = nn.ConvTranspose2d(c, c, 4, stride=2, padding=1)
        self.to_image = nn.Conv2d(c, 3, 3, padding=1)
        nn.init.zeros_(self.to_image.weight)
        nn.init.zeros_(self.to_image.bias)

    def initial_state(self, frames: Tensor) -> RecurrentState:
        """The state before a stream's first frame, shaped for ``frames`` [N, T, 3, H, W]."""
        n, _, _, height, width = frames.shape
        half = (height // 2, width // 2)
        return RecurrentState(
            feedback=frames.new_zeros(n, FEEDBACK_CHANNELS, *half),
            blended=frames.new_zeros(n, self.config.width, *half),
            fresh=frames.new_ones(n, 1, 1, 1),
        )

    def forward(self, frames: Tensor, state: RecurrentState) -> tuple[Tensor, RecurrentState]:
        """Restore the middle frame of ``frames``.

        frames: [N, n_frames, 3, H, W] in [0, 1], H and W even, oldest first;
        the frame restored is index ``config.past``. A stream starts from
        :meth:`initial_state`.
        """
        n, t, ch, height, width = frames.shape
        if t != self.config.n_frames or ch != 3:
            raise ValueError(
                f"{self.config.name} expects [N, {self.config.n_frames}, 3, H, W], "
                f"got {list(frames.shape)}"
            )
        if height % 2 or width % 2:
            raise ValueError(f"height and width must be even, got {height}x{width}")
        x = self.act(self.filter_in(frames.reshape(n, t * ch, height, width)))
        x = self.act(self.down(x))
        x = self.act(self.fuse(torch.cat([x, state.feedback.to(x.dtype)], dim=1)))
        h = self.encoder(x)
        blended = self.blend(h, state.blended.to(h.dtype), state.fresh)
        y = self.decoder(blended)
        new_state = RecurrentState(feedback=self.to_feedback(y), blended=blended,
                                   fresh=torch.zeros_like(state.fresh))
        residual = self.to_image(self.act(self.up(y)))
        sharp = frames[:, self.config.past] + residual
        return sharp, new_state


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def gmac_per_frame(config: StrcnnConfig, height: int = 480, width: int = 640) -> float:
    """Multiply-accumulates of one step at the given size, counted layer by layer."""
    c, f, k = config.width, FEEDBACK_CHANNELS, config.n_frames
    full = height * width
    half = (height // 2) * (width // 2)
    macs = full * (3 * k) * c * 25  # filter_in
    macs += half * c * c * 9  # down (strided)
    macs += half * (c + f) * c * 9  # fuse
    macs += half * 2 * config.blocks * 2 * c * c * 9  # encoder + decoder
    macs += half * 2 * c * c * 25  # blending
    macs += half * c * f * 9  # to_feedback
    macs += full * c * c * 4  # transposed conv, 4x4 kernel, stride 2
    macs += full * c * 3 * 9  # to_image
    return macs / 1e9
