"""Runs the exported graph with OpenVINO on the CPU (the ``[openvino]`` extra).

OpenVINO compiles for fixed shapes fastest, so each resolution gets its own compiled
model (kept in memory; OpenVINO's own cache under the cache folder makes a restart
quick). bf16 uses the CPU's native bf16 units where present.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from deblur_ros.core.inference.export import INPUTS, cache_dir, export_onnx
from deblur_ros.core.inference.runners.base import BackendUnavailableError
from deblur_ros.core.inference.runners.onnxruntime_runner import _zero_state
from deblur_ros.core.models.strcnn_dtb import FEEDBACK_CHANNELS, StrcnnDtb

_HINTS = {"fp32": "f32", "bf16": "bf16"}


class OpenVinoRunner:
    name = "openvino"
    device = torch.device("cpu")

    def __init__(self, model: StrcnnDtb, precision: str = "fp32", threads: int = 0) -> None:
        try:
            import openvino as ov
        except ImportError:
            raise BackendUnavailableError(
                "backend openvino is not installed: pip install 'deblur_ros[openvino]'"
            ) from None
        if precision not in _HINTS:
            raise ValueError(f"precision {precision!r} for openvino: use fp32 or bf16")
        self.precision = precision
        self.config = model.config
        self._core = ov.Core()
        self._core.set_property({"CACHE_DIR": str(cache_dir() / "openvino")})
        self._graph = self._core.read_model(str(export_onnx(model)))
        self._settings = {"INFERENCE_PRECISION_HINT": _HINTS[precision],
                          "PERFORMANCE_HINT": "LATENCY"}
        if threads > 0:
            self._settings["INFERENCE_NUM_THREADS"] = threads
        self._compiled: dict[tuple[int, int], object] = {}
        self.compile_seconds: dict[tuple[int, int], float] = {}

    def _request(self, height: int, width: int):  # noqa: ANN202 - an openvino InferRequest
        key = (height, width)
        if key not in self._compiled:
            t0 = time.perf_counter()
            graph = self._graph.clone()
            n, half = self.config.n_frames, (height // 2, width // 2)
            graph.reshape({"frames": [1, n, 3, height, width],
                           "feedback": [1, FEEDBACK_CHANNELS, *half],
                           "blended": [1, self.config.width, *half], "fresh": [1, 1, 1, 1]})
            compiled = self._core.compile_model(graph, "CPU", self._settings)
            self._compiled[key] = compiled.create_infer_request()
            self.compile_seconds[key] = time.perf_counter() - t0
        return self._compiled[key]

    def initial_state(self, window: torch.Tensor) -> tuple[np.ndarray, ...]:
        return _zero_state(window, self.config.width)

    def step(self, window: torch.Tensor, state: tuple[np.ndarray, ...]
             ) -> tuple[torch.Tensor, tuple[np.ndarray, ...]]:
        request = self._request(window.shape[3], window.shape[4])
        request.infer(dict(zip(INPUTS, (window.numpy(), *state))))
        # Copies: the request reuses its output buffers on the next call.
        outputs = [np.array(request.get_output_tensor(i).data) for i in range(4)]
        return torch.from_numpy(outputs[0]), tuple(outputs[1:])
