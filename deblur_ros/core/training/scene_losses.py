"""Losses of the scene fit: perceptual when the user gives VGG19 weights, else a
download-free loss, both reweighted by the patch's sharpness; and the WGAN-GP critic terms.

The paper uses a perceptual loss on VGG19 features. Pretrained weights cannot be fetched
here, and a robot in the field should never download at run time, so the VGG loss is used
only when ``vgg19_weights`` points at a torchvision-layout VGG19 state dict on disk.
Without it the loss is Charbonnier on pixels plus an L1 distance of the 2-D spectra (the
frequency term pushes towards the high frequencies a pixel loss smooths away, the reason
the paper left pixel losses).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

FFT_WEIGHT = 0.05
_EPS = 1e-3

# torchvision's vgg19().features: channel counts of the conv layers, "M" for max pooling.
_VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
# relu1_2, relu2_2, relu3_4: index of the ReLU in torchvision's ``features``.
VGG_LAYERS = (3, 8, 17)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VggLoadError(ValueError):
    """A VGG19 weights file that cannot be used; the message is for the user."""


def _vgg19_features(until: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    cin = 3
    for item in _VGG19_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(item), 3, padding=1), nn.ReLU(inplace=False)]
            cin = int(item)
    return nn.Sequential(*layers[:until + 1])


class PerceptualLoss(nn.Module):
    """L1 between VGG19 features of output and target (paper eq. 2, lambda_l = 1)."""

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        self.features = _vgg19_features(max(VGG_LAYERS))
        path = Path(weights).expanduser()
        if not path.is_file():
            raise VggLoadError(f"VGG19 weights not found: {path} (give a torchvision VGG19 "
                               "state dict, or leave the parameter empty for the "
                               "download-free loss)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - many torch error types
            raise VggLoadError(f"VGG19 weights {path} cannot be read ({type(exc).__name__})") \
                from None
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise VggLoadError(f"VGG19 weights {path} hold no state dict")
        ours = {}
        for key, value in state.items():
            name = key[len("features."):] if key.startswith("features.") else key
            if name.split(".")[0].isdigit() and int(name.split(".")[0]) <= max(VGG_LAYERS):
                ours[name] = value
        try:
            self.features.load_state_dict(ours)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0][:160]
            raise VggLoadError(f"VGG19 weights {path} do not fit torchvision's VGG19 "
                               f"features ({first})") from None
        self.features.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        """Per-sample loss, shape [N]."""
        x = (output - self.mean) / self.std
        y = (target - self.mean) / self.std
        loss = output.new_zeros(output.shape[0])
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if i in VGG_LAYERS:
                loss = loss + (x - y).abs().flatten(1).mean(1)
        return loss


def pixel_fft_loss(output: Tensor, target: Tensor) -> Tensor:
    """Charbonnier + FFT_WEIGHT * L1 of the spectra, per sample (shape [N])."""
    diff = output - target
    pixel = torch.sqrt(diff * diff + _EPS**2).flatten(1).mean(1)
    spectrum = torch.fft.rfft2(output.float()) - torch.fft.rfft2(target.float())
    freq = spectrum.abs().flatten(1).mean(1) / (output.shape[-1] * output.shape[-2]) ** 0.5
    return pixel + FFT_WEIGHT * freq


def reweighted(per_sample: Tensor, weights: Tensor) -> Tensor:
    """Paper eq. 3: each patch's loss times its variance of Laplacian / N."""
    return (per_sample * weights).mean()


class PatchCritic(nn.Module):
    """Markovian (PatchGAN) critic with five hidden layers, for WGAN-GP.

    No normalisation layers: the gradient penalty is defined per sample, which batch
    normalisation would break (Gulrajani et al.).
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        chans = (3, w, 2 * w, 4 * w, 8 * w, 8 * w)
        strides = (2, 2, 2, 1, 1)
        self.hidden = nn.ModuleList(nn.Conv2d(chans[i], chans[i + 1], 3, strides[i], 1)
                                    for i in range(5))
        self.out = nn.Conv2d(chans[-1], 1, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.hidden:
            x = F.leaky_relu(conv(x), 0.2)
        return self.out(x)


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP: (||grad D(x_hat)|| - 1)^2 on random interpolates of real and fake."""
    mix = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x_hat = (mix * real + (1 - mix) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
