"""Frame-by-frame deblurring with the recurrent state kept between calls.

This is the one streaming interface the live node, the bag tool and the evaluator
share: feed ``(frame, stamp)``, get back the frames that are ready as
``StreamOutput(stamp, frame, payload)``. A model that looks ``future`` frames ahead
returns frame n when frame n+future arrives; :meth:`flush` returns the rest at the
end of a stream, replicating the last frame for the look-ahead it lacks.

The state is reset (after flushing what is pending, so no frame is lost) when the
resolution changes or a stamp goes backwards, which is what a looped bag or a
restarted camera looks like.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from deblur_ros.core.checkpoint import load_model
from deblur_ros.core.strcnn_dtb import RecurrentState, StrcnnDtb


@dataclass
class StreamOutput:
    stamp: int
    frame: np.ndarray
    payload: Any = None


@dataclass
class _Pending:
    tensor: torch.Tensor  # [3, Hp, Wp] padded, float in [0, 1], on the model's device
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
    if frame.dtype == np.uint8:
        data = frame.astype(np.float32) / 255.0
    elif frame.dtype == np.uint16:
        data = frame.astype(np.float32) / 65535.0
    else:
        data = frame.astype(np.float32, copy=False)
    if data.shape[2] == 1:
        data = np.repeat(data, 3, axis=2)
    return np.ascontiguousarray(data.transpose(2, 0, 1)), shape


def from_chw(sharp: torch.Tensor, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Inverse of :func:`to_chw`: crop done by the caller; back to the input's layout and dtype."""
    out = sharp.clamp(0.0, 1.0)
    if len(shape) == 2 or shape[2] == 1:
        out = out.mean(dim=0, keepdim=True)
    array = out.permute(1, 2, 0).float().cpu().numpy()
    if dtype == np.uint8:
        array = np.rint(array * 255.0).astype(np.uint8)
    elif dtype == np.uint16:
        array = np.rint(array * 65535.0).astype(np.uint16)
    else:
        array = array.astype(dtype, copy=False)
    return array.reshape(shape)


class StreamingDeblurrer:
    """Runs a :class:`StrcnnDtb` over a stream, one frame in, zero or more frames out."""

    def __init__(self, model: StrcnnDtb, device: torch.device | str = "cpu",
                 name: str | None = None) -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.config = model.config
        self.name = name or self.config.name
        self._history: deque[torch.Tensor] = deque(maxlen=max(self.config.past, 1))
        self._pending: deque[_Pending] = deque()
        self._state: RecurrentState | None = None
        self._shape: tuple[int, int] | None = None
        self._last_stamp: int | None = None
        self.resets = 0

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str = "auto") -> StreamingDeblurrer:
        dev = select_device(device)
        model, metadata = load_model(path, dev)
        return cls(model, dev, name=metadata.get("name"))

    @property
    def delay_frames(self) -> int:
        """Frames of look-ahead: how many pushes pass before a frame comes back."""
        return self.config.future

    @property
    def pending(self) -> int:
        return len(self._pending)

    def reset(self) -> None:
        """Forget the recurrent state and all pending frames (they are dropped, not returned)."""
        self._history.clear()
        self._pending.clear()
        self._state = None
        self._shape = None
        self._last_stamp = None

    def push(self, frame: np.ndarray, stamp: int, payload: Any = None) -> list[StreamOutput]:
        """Add one frame; returns the outputs that became ready (possibly none)."""
        data, shape = to_chw(frame)
        size = (data.shape[1], data.shape[2])
        out: list[StreamOutput] = []
        restart = (self._shape is not None and size != self._shape) or (
            self._last_stamp is not None and stamp < self._last_stamp
        )
        if restart:
            out.extend(self.flush())
            self.reset()
            self.resets += 1
        self._shape = size
        self._last_stamp = stamp
        tensor = self._pad(torch.from_numpy(data).to(self.device))
        self._pending.append(_Pending(tensor, stamp, payload, shape, frame.dtype))
        while len(self._pending) > self.config.future:
            out.append(self._step())
        return out

    def flush(self) -> list[StreamOutput]:
        """Return every pending frame, using the last frame in place of missing look-ahead."""
        out = []
        while self._pending:
            out.append(self._step())
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
        ph, pw = h % 2, w % 2
        if ph or pw:
            tensor = F.pad(tensor[None], (0, pw, 0, ph), mode="replicate")[0]
        return tensor

    @torch.inference_mode()
    def _step(self) -> StreamOutput:
        target = self._pending[0]
        past = list(self._history)[-self.config.past:] if self.config.past else []
        while len(past) < self.config.past:
            past.insert(0, past[0] if past else target.tensor)
        future = [p.tensor for p in list(self._pending)[1:1 + self.config.future]]
        while len(future) < self.config.future:
            future.append(future[-1] if future else target.tensor)
        window = torch.stack(past + [target.tensor] + future)[None]
        sharp, self._state = self.model(window, self._state)
        self._history.append(target.tensor)
        self._pending.popleft()
        h, w = target.shape[0], target.shape[1]
        frame = from_chw(sharp[0, :, :h, :w], target.shape, target.dtype)
        return StreamOutput(target.stamp, frame, target.payload)
