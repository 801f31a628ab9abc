"""What the machine is, for the figures every benchmark and checkpoint records, and
whether bf16 pays on it."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def hardware_description(device: torch.device) -> str:
    """GPU name, or the CPU model and the threads PyTorch uses."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} ({torch.get_num_threads()} threads)"


def cpu_has_bf16() -> bool:
    """Native bf16 matrix units (AVX512_BF16 or AMX): where bf16 autocast pays on a CPU."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def process_memory_mb(pid: int, field: str = "VmRSS", missing: float = 0.0) -> float:
    """A memory figure of another process from /proc/PID/status (VmRSS now, VmHWM its peak
    as the kernel counted it), in MB; ``missing`` when the process or /proc is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return missing
