"""Backends for the live network and the one rule that picks among them.

``auto`` takes the fastest backend installed for the device, in the order measured by
``deblur-ros bench`` (bench/RESULTS.md): on a CPU OpenVINO, then ONNX Runtime, then
PyTorch; on CUDA PyTorch in fp16. Reduced precision is chosen only where the hardware
has native units for it (bf16: AVX512_BF16 or AMX; fp16: CUDA).
"""

from __future__ import annotations

import importlib.util

import torch

from deblur_ros.core.hardware import cpu_has_bf16
from deblur_ros.core.inference.runners.base import BackendUnavailableError, Runner
from deblur_ros.core.models.strcnn_dtb import StrcnnDtb

BACKENDS = ("auto", "torch", "openvino", "onnxruntime", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_MODULES = {"openvino": "openvino", "onnxruntime": "onnxruntime"}

__all__ = ["BACKENDS", "PRECISIONS", "BackendUnavailableError", "Runner", "installed_backends",
           "make_runner", "resolve"]


def installed_backends(device: torch.device) -> list[str]:
    """Backends that can run on ``device`` here, fastest first."""
    if device.type == "cuda":
        return ["cuda", "torch"]
    found = [name for name in ("openvino", "onnxruntime")
             if importlib.util.find_spec(_MODULES[name]) is not None]
    return [*found, "torch"]


def _default_precision(backend: str, device: torch.device) -> str:
    if backend == "cuda":
        return "fp16"
    if backend in ("torch", "openvino") and device.type == "cpu" and cpu_has_bf16():
        return "bf16"
    return "fp32"


def resolve(backend: str, precision: str, device: torch.device) -> tuple[str, str, str]:
    """(backend, precision, why) for a request that may say ``auto``; one-line errors."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: use {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    why = "asked for"
    if backend == "auto":
        backend = installed_backends(device)[0]
        why = f"auto: fastest installed for {device.type}"
    elif backend == "cuda" and device.type != "cuda":
        raise ValueError("backend cuda needs a CUDA device (device: cuda or auto with a GPU)")
    elif backend in _MODULES and device.type != "cpu":
        raise ValueError(f"backend {backend} runs on the CPU; use device cpu, or backend "
                         "cuda/torch on a GPU")
    if precision == "auto":
        precision = _default_precision(backend, device)
        why += f"; {precision}" + (" (the CPU has native bf16)" if precision == "bf16" else "")
    return backend, precision, why


def make_runner(model: StrcnnDtb, backend: str = "torch", precision: str = "fp32",
                device: torch.device | str = "cpu", threads: int = 0) -> Runner:
    """A runner for ``model``; ``backend``/``precision`` may be ``auto``."""
    device = torch.device(device)
    backend, precision, _ = resolve(backend, precision, device)
    if backend in ("torch", "cuda"):
        from deblur_ros.core.inference.runners.torch_runner import TorchRunner

        return TorchRunner(model, device, precision, threads)
    if precision not in ("fp32", "bf16") or (backend == "onnxruntime" and precision != "fp32"):
        raise ValueError(f"backend {backend} does not run {precision}; "
                         f"use {'fp32' if backend == 'onnxruntime' else 'fp32 or bf16'}")
    if backend == "openvino":
        from deblur_ros.core.inference.runners.openvino_runner import OpenVinoRunner

        return OpenVinoRunner(model, precision, threads)
    from deblur_ros.core.inference.runners.onnxruntime_runner import OnnxRuntimeRunner

    return OnnxRuntimeRunner(model, threads)
