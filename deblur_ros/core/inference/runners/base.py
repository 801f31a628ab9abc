"""What every runner offers the streamer, and the error a missing backend raises."""

from __future__ import annotations

from typing import Any, Protocol

import torch


class BackendUnavailableError(RuntimeError):
    """A backend that cannot run here; the message is one line naming the fix."""


class Runner(Protocol):
    """One recurrent step of the live network on some backend.

    Windows come as float32 tensors [1, T, 3, H, W] (H, W even) on ``device``; the
    state is whatever :meth:`initial_state` made, handed back unchanged in type.
    """

    name: str  # backend, e.g. "openvino"
    precision: str  # "fp32", "bf16" or "fp16"
    device: torch.device

    def initial_state(self, window: torch.Tensor) -> Any: ...

    def step(self, window: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...
