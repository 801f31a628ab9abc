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
    was chosen on the validation drives (``bench/scene_gate_study.py``). ``deblur`` is
    causal, so the sidecar gates new frames as they come; ``push``/``flush`` also take the
    ``after`` frames that follow into the sharpest. In a drive blurred evenly
    throughout, every frame is the sharpest of its window and is left alone: the fit's
    targets are then as blurred as the rest, and it has nothing sharper to teach.
    """

    window: int = DEFAULT_WINDOW
    full_below: float = 0.3
    keep_above: float = 1.0
    floor: float = 0.0
    # Frames after this one whose sharpness the reference also takes, where the stream
    # allows waiting for them (push/flush: the evaluator, the bag tool, the sidecar's
    # republished drive). A blurred frame at the start of a blurry stretch then finds the
    # sharp frames that follow it: on the validation drives' fits +0.16 dB (29.89 -> 30.05),
    # the real X4K drives unchanged (MODELS.md, "A gate that looks ahead"). ``deblur`` stays causal.
    # None: as far ahead as ``window`` looks back.
    after: int | None = None

    def __post_init__(self) -> None:
        if self.after is None:
            object.__setattr__(self, "after", self.window)
        if self.window < 1 or self.after < 0 or \
                not 0.0 <= self.full_below < self.keep_above or not 0.0 <= self.floor <= 1.0:
            raise ValueError(f"sharpness gate needs window >= 1, after >= 0, 0 <= "
                             f"full_below < keep_above and floor in 0..1 (got {self})")

    def alpha(self, ratio: float) -> float:
        """The share of the model's output for a frame at ``ratio`` (0..1)."""
        if ratio <= self.full_below:
            return 1.0
        if ratio >= self.keep_above:
            return self.floor
        t = (ratio - self.full_below) / (self.keep_above - self.full_below)
        return 1.0 + t * (self.floor - 1.0)


def sharpness_gate(enabled: bool, window: int = DEFAULT_WINDOW,
                   after: int | None = None) -> SharpnessGate | None:
    """The shipped gate over the selection's own window, or none (the raw model); it looks
    ``after`` frames ahead where a stream can wait (default: as far as the window)."""
    return SharpnessGate(window=window, after=after) if enabled else None


class SceneDeblurrer:
    device = torch.device("cpu")

    def __init__(self, model: UNet, name: str | None = None, threads: int = 0,
                 gate: SharpnessGate | None = None) -> None:
        if threads > 0:
            torch.set_num_threads(threads)
        self.model = model.eval()
        self.name = name or model.config.name
        self.gate = gate
        self._recent: deque[float] = deque(maxlen=gate.window if gate else 1)
        # push() holds frames back until the gate has seen its ``after`` frames:
        # (frame, stamp, payload, sharpness)
        self._held: deque[tuple[np.ndarray, int, Any, float]] = deque()
        self.last_alpha = 1.0  # the share of the output the last frame got (diagnostics)

    @property
    def lookahead(self) -> int:
        """Frames push() holds back (the gate's look-ahead; 0 without a gate)."""
        return self.gate.after if self.gate is not None else 0

    @property
    def pending(self) -> int:
        return len(self._held)

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

    def deblur(self, frame: np.ndarray) -> np.ndarray:
        """One frame in its own layout and dtype (HxW or HxWx3, uint8/uint16/float) at
        once; with a gate, the next frame of a stream, compared with the ones before it
        only (causal: the sidecar's new frames cannot wait for the ones after them)."""
        if self.gate is None:
            return self._apply(frame, 1.0)
        sharpness = variance_of_laplacian(frame)
        self._recent.append(sharpness)
        return self._apply(frame, self.gate.alpha(sharpness / max(max(self._recent), 1e-9)))

    @torch.inference_mode()
    def _apply(self, frame: np.ndarray, alpha: float) -> np.ndarray:
        self.last_alpha = alpha
        if alpha == 0.0:  # passed through: no need to run the network
            return np.array(frame, copy=True)
        data, shape = to_chw(frame)
        source = torch.from_numpy(data)[None]
        out = self.model(source)
        if self.last_alpha < 1.0:
            out = source + self.last_alpha * (out - source)
        return from_chw(out[0], shape, frame.dtype)

    def push(self, frame: np.ndarray, stamp: int, payload: Any = None) -> list[StreamOutput]:
        """The next frame of a stream; returns the frames whose look-ahead is complete, in
        order (at once without a gate or with ``after`` 0)."""
        if self.lookahead == 0:
            return [StreamOutput(stamp, self.deblur(frame), payload)]
        self._held.append((frame, stamp, payload, variance_of_laplacian(frame)))
        return self._release(len(self._held) - self.lookahead)

    def flush(self) -> list[StreamOutput]:
        """The end of a stream (or a pause in it): the held frames, each with what it has
        of its look-ahead. The gate's memory of past frames stays."""
        return self._release(len(self._held))

    def _release(self, count: int) -> list[StreamOutput]:
        out = []
        for _ in range(max(0, count)):
            frame, stamp, payload, sharpness = self._held.popleft()
            self._recent.append(sharpness)
            ahead = max((h[3] for h in self._held), default=0.0)
            reference = max(max(self._recent), ahead, 1e-9)
            out.append(StreamOutput(stamp, self._apply(frame, self.gate.alpha(
                sharpness / reference)), payload))
        return out

    def reset(self) -> None:
        """A new stream: forget the gate's recent sharpness and any held frames (the
        model has no state)."""
        self._recent.clear()
        self._held.clear()

    def process(self, frames: list[np.ndarray], stamps: list[int] | None = None
                ) -> list[np.ndarray]:
        """A whole sequence, with the gate's look-ahead."""
        out = []
        for i, f in enumerate(frames):
            out += self.push(f, stamps[i] if stamps else i)
        return [o.frame for o in out + self.flush()]
