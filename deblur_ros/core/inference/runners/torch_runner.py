"""Runs the live network with PyTorch eager: fp32, bf16 autocast on CPUs with native
bf16 (AVX512_BF16 / AMX), fp16 autocast on CUDA; channels-last with reduced precision,
where it measured faster."""

from __future__ import annotations

import contextlib

import torch

from deblur_ros.core.models.strcnn_dtb import RecurrentState, StrcnnDtb


class TorchRunner:
    name = "torch"

    def __init__(self, model: StrcnnDtb, device: torch.device | str = "cpu",
                 precision: str = "fp32", threads: int = 0) -> None:
        """``threads`` > 0 sets PyTorch's CPU thread pool, which is per process."""
        self.device = torch.device(device)
        if threads > 0 and self.device.type == "cpu":
            torch.set_num_threads(threads)
        if precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"precision {precision!r}: use fp32, bf16 or fp16")
        if precision == "fp16" and self.device.type != "cuda":
            raise ValueError("fp16 needs a CUDA device; use fp32 or bf16 on a CPU")
        self.precision = precision
        self.model = model.eval().to(self.device)
        if precision != "fp32":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.config = model.config

    def initial_state(self, window: torch.Tensor) -> RecurrentState:
        return self.model.initial_state(window)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.inference_mode()
    def step(self, window: torch.Tensor, state: RecurrentState
             ) -> tuple[torch.Tensor, RecurrentState]:
        """window [1, T, 3, H, W] in [0, 1] on the runner's device -> ([1, 3, H, W], state)."""
        with self._autocast():
            sharp, state = self.model(window, state)
        return sharp.float(), state
