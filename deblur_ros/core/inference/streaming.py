"""Frame-by-frame deblurring with the recurrent state kept between calls.

This is the one streaming interface the live node, the bag tool and the evaluator
share: feed ``(frame, stamp)``, get back the frames that are ready as
``StreamOutput(stamp, frame, payload)``. A model with ``lookahead`` frames of
look-ahead returns frame n when frame n+lookahead arrives; :meth:`flush` returns the
rest at the end of a stream. Which frames form each window is
:func:`windows.window_indices`, the rule training uses too.

The state is reset (after flushing what is pending, so no frame is lost) when the
resolution changes or a stamp goes backwards, which is what a looped bag or a
restarted camera looks like, and at a scene cut (:mod:`scene_cuts`: clips concatenated
into one folder, a switched camera), where another scene's state and neighbours would
cost the next frames several dB. The first output after a reset says so
(``StreamOutput.starts_segment``), so a caller pairing consecutive frames knows where
pairs stop.

``mirror`` 2 or 4 is a self-ensemble for offline work (EDSR+'s test-time trick):
the stream is also run mirrored left-right (and up-down, and both), each mirrored
stream with its own recurrent state, and the outputs, mirrored back, are averaged.
It costs 2 or 4 steps a frame; measured gains are in ``models/TRAINING.md``.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from deblur_ros.core.imaging import from_float01, to_float01
from deblur_ros.core.inference.deadzone import check_deadzone, resolve_deadzone
from deblur_ros.core.inference.runners import make_runner
from deblur_ros.core.inference.scene_cuts import (
    DEFAULT_CUT_THRESHOLD,
    check_cut_threshold,
    distance,
    signature,
)
from deblur_ros.core.inference.windows import window_indices
from deblur_ros.core.models.checkpoint import load_model
from deblur_ros.core.models.strcnn_dtb import StrcnnDtb

# Mirrored views of a [N, T, 3, H, W] window, as the dims to flip: none, left-right,
# up-down, both.
MIRROR_VIEWS: dict[int, tuple[tuple[int, ...], ...]] = {
    1: ((),), 2: ((), (-1,)), 4: ((), (-1,), (-2,), (-2, -1))}


@dataclass
class StreamOutput:
    stamp: int
    frame: np.ndarray
    payload: Any = None
    starts_segment: bool = False  # first frame of a stream or after a reset (cut, restart)


@dataclass
class _Pending:
    stamp: int
    payload: Any
    shape: tuple[int, ...]
    dtype: np.dtype


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without one is an error, not a fallback."""
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device '{name}' requested but PyTorch sees no CUDA GPU "
                f"(torch {torch.__version__}); use device 'cpu' or 'auto'"
            )
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device '{name}': use 'auto', 'cpu' or 'cuda[:N]'")


def to_chw(frame: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """HxW, HxWx1 or HxWx3 (uint8, uint16 or float in [0,1]) -> float32 3xHxW."""
    shape = frame.shape
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.ndim != 3 or frame.shape[2] not in (1, 3):
        raise ValueError(f"expected an HxW, HxWx1 or HxWx3 frame, got shape {frame.shape}")
    data = to_float01(frame)
    if data.shape[2] == 1:
        data = np.repeat(data, 3, axis=2)
    return np.ascontiguousarray(data.transpose(2, 0, 1)), shape


def from_chw(sharp: torch.Tensor, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Inverse of :func:`to_chw`: crop done by the caller; back to the input's layout and dtype."""
    out = sharp.clamp(0.0, 1.0)
    if len(shape) == 2 or shape[2] == 1:
        out = out.mean(dim=0, keepdim=True)
    return from_float01(out.permute(1, 2, 0).float().cpu().numpy(), dtype).reshape(shape)


class StreamingDeblurrer:
    """Runs the live network over a stream, one frame in, zero or more frames out."""

    def __init__(self, model: StrcnnDtb, device: torch.device | str = "cpu",
                 name: str | None = None, backend: str = "torch", precision: str = "fp32",
                 threads: int = 0, deadzone: float = 0.0, mirror: int = 1,
                 cut_threshold: float = DEFAULT_CUT_THRESHOLD) -> None:
        """``backend``/``precision`` pick the runner (see :mod:`runners`); the default,
        PyTorch fp32, is the reference every other backend is tested against.

        ``deadzone`` (grey levels of 255) soft-thresholds the network's residual after
        every backend (:mod:`deadzone` says why). 0 here, the raw network;
        :meth:`from_checkpoint`, which every entry point uses, applies the model's own.

        ``mirror`` (1, 2 or 4): how many mirrored copies of the stream to average.

        ``cut_threshold``: the :func:`scene_cuts.distance` above which consecutive frames
        are a scene cut and the stream restarts; 0 switches detection off (inputs whose
        sequences are known)."""
        self.deadzone = check_deadzone(deadzone)
        self.cut_threshold = check_cut_threshold(cut_threshold)
        if mirror not in MIRROR_VIEWS:
            raise ValueError(f"mirror must be 1, 2 or 4 (copies of the stream averaged), "
                             f"got {mirror!r}")
        self.mirror = mirror
        self.runner = make_runner(model, backend, precision, device, threads)
        self.device = self.runner.device
        self.config = model.config
        # Frames are padded (replicated edge) to what the network's strides need.
        self._multiple = int(getattr(model, "size_multiple", 2))
        self.name = name or self.config.name
        cfg = self.config
        # The frames a window can still need: ``past`` before the oldest pending frame.
        self._frames: deque[torch.Tensor] = deque(maxlen=cfg.past + 1 + cfg.lookahead)
        self._pending: deque[_Pending] = deque()
        self._count = 0  # frames pushed since the last reset
        self._states: list[Any] = []  # one per mirrored view, the runner's own type
        self._shape: tuple[int, int] | None = None
        self._last_stamp: int | None = None
        self._signature: np.ndarray | None = None
        self.resets = 0  # restarts of the recurrent state, cuts included
        self.cuts = 0

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str = "auto",
                        backend: str = "torch", precision: str = "fp32",
                        threads: int = 0, deadzone: float | None = None,
                        mirror: int = 1, cut_threshold: float = DEFAULT_CUT_THRESHOLD,
                        ) -> StreamingDeblurrer:
        """``deadzone`` None (or negative): the checkpoint's own measured value, else
        :data:`deadzone.DEFAULT_DEADZONE`; 0: the raw network."""
        dev = select_device(device)
        model, metadata = load_model(path, dev)
        return cls(model, dev, name=metadata.get("name"), backend=backend,
                   precision=precision, threads=threads,
                   deadzone=resolve_deadzone(deadzone, metadata), mirror=mirror,
                   cut_threshold=cut_threshold)

    @property
    def lookahead(self) -> int:
        """Frames of look-ahead: how many pushes pass before a frame comes back."""
        return self.config.lookahead

    @property
    def pending(self) -> int:
        return len(self._pending)

    def reset(self) -> None:
        """Forget the recurrent state and all pending frames (they are dropped, not returned)."""
        self._frames.clear()
        self._pending.clear()
        self._count = 0
        self._states = []
        self._shape = None
        self._last_stamp = None
        self._signature = None

    def push(self, frame: np.ndarray, stamp: int, payload: Any = None) -> list[StreamOutput]:
        """Add one frame; returns the outputs that became ready (possibly none)."""
        data, shape = to_chw(frame)
        size = (data.shape[1], data.shape[2])
        out: list[StreamOutput] = []
        restart = (self._shape is not None and size != self._shape) or (
            self._last_stamp is not None and stamp < self._last_stamp
        )
        sig = signature(frame) if self.cut_threshold > 0.0 else None
        cut = (not restart and sig is not None and self._signature is not None
               and distance(self._signature, sig) > self.cut_threshold)
        if restart or cut:
            out.extend(self.flush())
            self.reset()
            self.resets += 1
            self.cuts += int(cut)
        self._shape = size
        self._last_stamp = stamp
        self._signature = sig
        self._frames.append(self._pad(torch.from_numpy(data).to(self.device)))
        self._pending.append(_Pending(stamp, payload, shape, frame.dtype))
        self._count += 1
        while len(self._pending) > self.config.lookahead:
            out.append(self._step(known=self._count))
        return out

    def flush(self) -> list[StreamOutput]:
        """Return every pending frame: the stream ends here, so the window rule stands the
        last frame in for the look-ahead that will not come."""
        out = []
        while self._pending:
            out.append(self._step(known=self._count))
        return out

    def process(
        self, frames: list[np.ndarray], stamps: list[int] | None = None
    ) -> list[np.ndarray]:
        """Deblur a whole clip in order (convenience for tests and offline use)."""
        stamps = list(range(len(frames))) if stamps is None else stamps
        results: list[StreamOutput] = []
        for frame, stamp in zip(frames, stamps):
            results.extend(self.push(frame, stamp))
        results.extend(self.flush())
        return [r.frame for r in results]

    def _pad(self, tensor: torch.Tensor) -> torch.Tensor:
        _, h, w = tensor.shape
        ph, pw = -h % self._multiple, -w % self._multiple
        if ph or pw:
            tensor = F.pad(tensor[None], (0, pw, 0, ph), mode="replicate")[0]
        return tensor

    def _step(self, known: int) -> StreamOutput:
        """Restore the oldest pending frame from the ``known`` frames of this stream.

        While more frames can come, ``known`` already covers its look-ahead; at a flush
        the window rule clamps to the last frame, exactly as it does at a clip's end in
        training."""
        cfg = self.config
        target = self._pending.popleft()
        index = known - 1 - len(self._pending)  # the target's index in the stream
        first_held = known - len(self._frames)  # stream index of self._frames[0]
        window = torch.stack([self._frames[i - first_held] for i in
                              window_indices(index, known, cfg.past, cfg.lookahead)])[None]
        views = MIRROR_VIEWS[self.mirror]
        if not self._states:
            self._states = [self.runner.initial_state(window) for _ in views]
        sharp = None
        for k, dims in enumerate(views):
            out, self._states[k] = self.runner.step(
                window.flip(dims) if dims else window, self._states[k])
            out = (out.flip(dims) if dims else out).float()
            sharp = out if sharp is None else sharp + out
        if len(views) > 1:
            sharp = sharp / len(views)
        if self.deadzone > 0.0:
            centre = window[:, cfg.past].to(sharp.device, torch.float32)
            residual = sharp.float() - centre
            shrunk = (residual.abs() - self.deadzone / 255.0).clamp_min(0.0)
            sharp = centre + residual.sign() * shrunk
        h, w = target.shape[0], target.shape[1]
        frame = from_chw(sharp[0, :, :h, :w], target.shape, target.dtype)
        return StreamOutput(target.stamp, frame, target.payload, starts_segment=index == 0)
