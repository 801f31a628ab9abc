"""Deblurring with a fitted scene model, behind the same push/flush interface as the live
network's :class:`StreamingDeblurrer`, so the node, the bag tool and the evaluator treat
both alike. The scene U-Net sees one frame at a time and has no state: every push
returns its frame at once, and a model can be swapped between frames (a newer fit).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from deblur_ros.core.inference.streaming import StreamOutput, from_chw, to_chw
from deblur_ros.core.models.checkpoint import SCENE_ARCHITECTURE, load_model
from deblur_ros.core.models.unet import UNet


class SceneDeblurrer:
    lookahead = 0
    pending = 0
    device = torch.device("cpu")

    def __init__(self, model: UNet, name: str | None = None, threads: int = 0) -> None:
        if threads > 0:
            torch.set_num_threads(threads)
        self.model = model.eval()
        self.name = name or model.config.name

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, threads: int = 0) -> SceneDeblurrer:
        model, metadata = load_model(path, "cpu", architecture=SCENE_ARCHITECTURE)
        return cls(model, name=metadata.get("name"), threads=threads)

    def swap(self, model: UNet, name: str | None = None) -> None:
        """Use a newer fit from the next frame on."""
        self.model = model.eval()
        self.name = name or model.config.name

    @torch.inference_mode()
    def deblur(self, frame: np.ndarray) -> np.ndarray:
        """One frame in its own layout and dtype (HxW or HxWx3, uint8/uint16/float)."""
        data, shape = to_chw(frame)
        out = self.model(torch.from_numpy(data)[None])[0]
        return from_chw(out, shape, frame.dtype)

    def push(self, frame: np.ndarray, stamp: int, payload: Any = None) -> list[StreamOutput]:
        return [StreamOutput(stamp, self.deblur(frame), payload)]

    def flush(self) -> list[StreamOutput]:
        return []

    def reset(self) -> None:
        """Nothing to forget: the scene model keeps no state between frames."""

    def process(self, frames: list[np.ndarray], stamps: list[int] | None = None
                ) -> list[np.ndarray]:
        return [self.deblur(f) for f in frames]
