"""Deblurring with a fitted scene model, behind the same push/flush interface as the live
network's :class:`StreamingDeblurrer`, so the node, the bag tool and the evaluator treat
both alike. The scene U-Net sees one frame at a time: every push returns its frame at
once, and a model can be swapped between frames (a newer fit). The only memory between
frames is the sharpness gate's: the sharpness of the last ``window`` frames.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deblur_ros.core.inference.streaming import StreamOutput, from_chw, to_chw
from deblur_ros.core.models.checkpoint import SCENE_ARCHITECTURE, load_model
from deblur_ros.core.models.unet import UNet
from deblur_ros.core.sharpness import DEFAULT_WINDOW, variance_of_laplacian


@dataclass(frozen=True)
class SharpnessGate:
    """How much of the scene model's output a frame gets, from its sharpness beside the
    sharpest of the last ``window`` frames (variance of the Laplacian, the score and the
    window that picked the fit's frames).

    The fitted U-Net over-sharpens input that is already sharp: nearly still real drives
    lost 5-12 dB, while frames much blurrier than their neighbours gain most (MODELS.md).
    A frame at ratio ``r`` = sharpness / rolling max gets all of the output up to
    ``full_below``, falling linearly to ``floor`` at ``keep_above``. The floor is 0 by
    design: a frame as sharp as the sharpest of its window is what the fit takes for
    ground truth, so it passes unchanged (a floor of 0.3 scored 0.15 dB more on the noisy
    synthetic drives and lost 4.4 dB on a clean, still real one); ``full_below`` 0.3
    was chosen on the validation drives (``bench/scene_gate_study.py``). Causal (no
    look-ahead), so the sidecar gates new frames as they come. In a drive blurred evenly
    throughout, every frame is the sharpest of its window and is left alone: the fit's
    targets are then as blurred as the rest, and it has nothing sharper to teach.
    """

    window: int = DEFAULT_WINDOW
    full_below: float = 0.3
    keep_above: float = 1.0
    floor: float = 0.0

    def __post_init__(self) -> None:
        if self.window < 1 or not 0.0 <= self.full_below < self.keep_above or \
                not 0.0 <= self.floor <= 1.0:
            raise ValueError(f"sharpness gate needs window >= 1, 0 <= full_below < "
                             f"keep_above and floor in 0..1 (got {self})")

    def alpha(self, ratio: float) -> float:
        """The share of the model's output for a frame at ``ratio`` (0..1)."""
        if ratio <= self.full_below:
            return 1.0
        if ratio >= self.keep_above:
            return self.floor
        t = (ratio - self.full_below) / (self.keep_above - self.full_below)
        return 1.0 + t * (self.floor - 1.0)


def sharpness_gate(enabled: bool, window: int = DEFAULT_WINDOW) -> SharpnessGate | None:
    """The shipped gate over the selection's own window, or none (the raw model)."""
    return SharpnessGate(window=window) if enabled else None


class SceneDeblurrer:
    lookahead = 0
    pending = 0
    device = torch.device("cpu")

    def __init__(self, model: UNet, name: str | None = None, threads: int = 0,
                 gate: SharpnessGate | None = None) -> None:
        if threads > 0:
            torch.set_num_threads(threads)
        self.model = model.eval()
        self.name = name or model.config.name
        self.gate = gate
        self._recent: deque[float] = deque(maxlen=gate.window if gate else 1)
        self.last_alpha = 1.0  # the share of the output the last frame got (diagnostics)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, threads: int = 0,
                        gate: SharpnessGate | None = None) -> SceneDeblurrer:
        model, metadata = load_model(path, "cpu", architecture=SCENE_ARCHITECTURE)
        return cls(model, name=metadata.get("name"), threads=threads, gate=gate)

    def new_stream(self) -> SceneDeblurrer:
        """The same model and gate for another stream, with a gate memory of its own (the
        sidecar republishes the drive while new frames come in)."""
        return SceneDeblurrer(self.model, self.name, gate=self.gate)

    def swap(self, model: UNet, name: str | None = None) -> None:
        """Use a newer fit from the next frame on."""
        self.model = model.eval()
        self.name = name or model.config.name

    @torch.inference_mode()
    def deblur(self, frame: np.ndarray) -> np.ndarray:
        """One frame in its own layout and dtype (HxW or HxWx3, uint8/uint16/float); with
        a gate, the next frame of a stream (the gate remembers the last ones)."""
        if self.gate is not None:
            sharpness = variance_of_laplacian(frame)
            self._recent.append(sharpness)
            self.last_alpha = self.gate.alpha(sharpness / max(max(self._recent), 1e-9))
            if self.last_alpha == 0.0:  # passed through: no need to run the network
                return np.array(frame, copy=True)
        data, shape = to_chw(frame)
        source = torch.from_numpy(data)[None]
        out = self.model(source)
        if self.last_alpha < 1.0:
            out = source + self.last_alpha * (out - source)
        return from_chw(out[0], shape, frame.dtype)

    def push(self, frame: np.ndarray, stamp: int, payload: Any = None) -> list[StreamOutput]:
        return [StreamOutput(stamp, self.deblur(frame), payload)]

    def flush(self) -> list[StreamOutput]:
        return []

    def reset(self) -> None:
        """A new stream: forget the gate's recent sharpness (the model has no state)."""
        self._recent.clear()

    def process(self, frames: list[np.ndarray], stamps: list[int] | None = None
                ) -> list[np.ndarray]:
        return [self.deblur(f) for f in frames]
