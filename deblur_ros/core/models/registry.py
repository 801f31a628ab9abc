"""Which network class a checkpoint's ``architecture`` string rebuilds.

Checkpoints name their network instead of the loader knowing one class, so a second
network (the scene model's U-Net) is one more entry here, not a branch in every caller.
Each entry gives the module class and the config dataclass it is built from; the
config's fields are what a checkpoint stores under ``config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb
from deblur_ros.core.models.unet import UNet, UNetConfig


@dataclass(frozen=True)
class Architecture:
    name: str
    network: type[nn.Module]
    config: type
    # Config values that checkpoints written before a field existed imply.
    legacy_defaults: dict[str, Any]
    # Config fields stored under an older name (old name -> field).
    legacy_names: dict[str, str]

    def config_from(self, stored: dict[str, Any]) -> Any:
        """The config a checkpoint's ``config`` dict describes, old spellings included."""
        fields = {self.legacy_names.get(k, k): v for k, v in stored.items()}
        return self.config(**(self.legacy_defaults | fields))


ARCHITECTURES: dict[str, Architecture] = {
    "strcnn_dtb": Architecture("strcnn_dtb", StrcnnDtb, StrcnnConfig,
                               legacy_defaults={"activation": "relu"},
                               legacy_names={"future": "lookahead"}),
    "unet": Architecture("unet", UNet, UNetConfig, legacy_defaults={}, legacy_names={}),
}


def architecture_of(model: nn.Module) -> Architecture:
    """The registry entry for a network instance (what a checkpoint records)."""
    for arch in ARCHITECTURES.values():
        if type(model) is arch.network:
            return arch
    raise ValueError(f"{type(model).__name__} is not a registered network "
                     f"({', '.join(ARCHITECTURES)})")


def lookup(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise KeyError(f"unknown network '{name}' (this deblur_ros knows: "
                       f"{', '.join(ARCHITECTURES)})") from None
