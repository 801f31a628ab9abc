"""Backends for the live network and the one rule that picks among them.

``auto`` takes the fastest backend for the device, in the order ``deblur-ros bench``
measured (bench/RESULTS.md, 2-core AMD EPYC with AVX512_BF16, lite model at 640x480):
PyTorch bf16 36.7 fps against OpenVINO bf16 23.9 at 2 threads (19.6 against 18.9 at
1); in fp32 PyTorch 15.9, OpenVINO 14.2, ONNX Runtime 12.7 at 2 threads. So on a CPU
PyTorch first, then OpenVINO, then ONNX Runtime; on CUDA PyTorch in fp16. Reduced
precision is chosen only where the hardware has native units for it (bf16: AVX512_BF16
or AMX; fp16: CUDA). OpenVINO and ONNX Runtime stay selectable by name: on CPUs
without native bf16 or with other thread counts their order may differ, and bench
shows it for the machine at hand.
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

__all__ = ["BACKENDS", "PRECISIONS", "BackendUnavailableError", "Runner", "default_threads",
           "installed_backends", "make_runner", "resolve"]


def installed_backends(device: torch.device) -> list[str]:
    """Backends that can run on ``device`` here, fastest first (as measured)."""
    if device.type == "cuda":
        return ["cuda", "torch"]
    found = [name for name in ("openvino", "onnxruntime")
             if importlib.util.find_spec(_MODULES[name]) is not None]
    return ["torch", *found]


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
        why = f"auto: fastest measured for {device.type}"
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


def default_threads(cores: int | None = None) -> int:
    """Threads for a backend when the user gives 0: every core this process may use.

    Measured on 2 cores (bench/RESULTS.md, 2026-11-22): the lite model's node fed by a
    30 Hz VGA camera process delivered 29.9 fps with 2 threads against 20.0 with 1
    (p95 latency 100 against 165 ms), 27.5 against 18.1 fps with a scene fit running
    beside it, and the bag tool 34.8 against 21.5 frames/s. One thread fewer leaves the
    model below the camera's rate, so it drops every other frame and each output waits
    for a look-ahead frame two intervals away; the camera driver and DDS fit into the
    model's gaps. (An earlier measurement with OpenVINO at 2 threads, 17.2 fps and a
    p95 of 573 ms, did not repeat: 26.1 fps, p95 131 ms.)
    """
    import os

    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    return max(1, cores)
