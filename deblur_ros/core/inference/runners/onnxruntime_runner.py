"""Runs the exported graph with ONNX Runtime on the CPU (the ``[onnx]`` extra)."""

from __future__ import annotations

import numpy as np
import torch

from deblur_ros.core.inference.export import INPUTS, export_onnx
from deblur_ros.core.inference.runners.base import BackendUnavailableError
from deblur_ros.core.models.strcnn_dtb import FEEDBACK_CHANNELS, StrcnnDtb


def _zero_state(window: torch.Tensor, width: int) -> tuple[np.ndarray, ...]:
    _, _, _, height, w = window.shape
    half = (height // 2, w // 2)
    return (np.zeros((1, FEEDBACK_CHANNELS, *half), np.float32),
            np.zeros((1, width, *half), np.float32), np.ones((1, 1, 1, 1), np.float32))


class OnnxRuntimeRunner:
    name = "onnxruntime"
    precision = "fp32"
    device = torch.device("cpu")

    def __init__(self, model: StrcnnDtb, threads: int = 0) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendUnavailableError(
                "backend onnxruntime is not installed: pip install 'deblur_ros[onnx]'") from None
        self.config = model.config
        options = ort.SessionOptions()
        if threads > 0:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(export_onnx(model)), options,
                                            providers=["CPUExecutionProvider"])

    def initial_state(self, window: torch.Tensor) -> tuple[np.ndarray, ...]:
        return _zero_state(window, self.config.width)

    def step(self, window: torch.Tensor, state: tuple[np.ndarray, ...]
             ) -> tuple[torch.Tensor, tuple[np.ndarray, ...]]:
        feeds = dict(zip(INPUTS, (window.numpy(), *state)))
        sharp, *next_state = self.session.run(None, feeds)
        return torch.from_numpy(sharp), tuple(next_state)
