"""Rates and latency for ``/diagnostics``, kept without ROS so the arithmetic is testable.

``diagnostic_updater`` is not on PyPI, so the node fills DiagnosticArray itself.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np


class StreamStats:
    """Thread-safe counters over a sliding window (the callback and the worker both write)."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._inputs: deque[float] = deque()
        self._outputs: deque[tuple[float, float]] = deque()  # (time, latency_s)
        self.received = 0
        self.published = 0
        self.dropped = 0
        self.rejected = 0

    def on_input(self, now: float | None = None) -> None:
        with self._lock:
            self.received += 1
            self._inputs.append(time.monotonic() if now is None else now)

    def on_drop(self) -> None:
        with self._lock:
            self.dropped += 1

    def on_reject(self) -> None:
        with self._lock:
            self.rejected += 1

    def on_output(self, latency_s: float, now: float | None = None) -> None:
        with self._lock:
            self.published += 1
            self._outputs.append((time.monotonic() if now is None else now, latency_s))

    def snapshot(self, now: float | None = None) -> dict[str, float]:
        now = time.monotonic() if now is None else now
        with self._lock:
            cutoff = now - self.window_s
            while self._inputs and self._inputs[0] < cutoff:
                self._inputs.popleft()
            while self._outputs and self._outputs[0][0] < cutoff:
                self._outputs.popleft()
            latencies = np.array([lat for _, lat in self._outputs]) * 1000.0
            return {
                "input_rate_hz": _rate(list(self._inputs)),
                "output_rate_hz": _rate([t for t, _ in self._outputs]),
                "latency_ms_p50": float(np.percentile(latencies, 50)) if latencies.size else 0.0,
                "latency_ms_max": float(latencies.max()) if latencies.size else 0.0,
                "received": self.received,
                "published": self.published,
                "dropped": self.dropped,
                "rejected": self.rejected,
            }


def _rate(times: list[float]) -> float:
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


class KeyedThrottle:
    """At most one message per key per period.

    rclpy's ``throttle_duration_sec`` throttles per call site: one site logging every
    kind of rejected frame let an unsupported-encoding message hide a malformed-image
    one for 5 s. Keys (the kind of problem) keep each kind visible.
    """

    def __init__(self, period_s: float = 5.0) -> None:
        self.period_s = period_s
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def ready(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.period_s:
                return False
            self._last[key] = now
            return True
