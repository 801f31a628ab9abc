"""Runs the live network with PyTorch: one window and one state in, one frame and a state out.

A runner is the part a faster backend replaces (ONNX Runtime, OpenVINO): the streamer
hands it padded windows [1, T, 3, H, W] and the explicit state tensors and never touches
the network itself.
"""

from __future__ import annotations

import torch

from deblur_ros.core.models.strcnn_dtb import RecurrentState, StrcnnDtb


class TorchRunner:
    name = "torch"

    def __init__(self, model: StrcnnDtb, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.config = model.config

    def initial_state(self, window: torch.Tensor) -> RecurrentState:
        return self.model.initial_state(window)

    @torch.inference_mode()
    def step(self, window: torch.Tensor, state: RecurrentState
             ) -> tuple[torch.Tensor, RecurrentState]:
        """window [1, T, 3, H, W] in [0, 1] on the runner's device -> ([1, 3, H, W], state)."""
        return self.model(window, state)
