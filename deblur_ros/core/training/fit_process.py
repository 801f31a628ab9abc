"""A scene fit in its own process, so it cannot starve a live node on the same machine.

PyTorch's CPU thread pool is per process: a fit in a thread of the node would share (and
fight over) the node's pool and its GIL. The child sets its own thread count and lowers
its own priority (``nice``), reports progress through a queue, stops on an event, and
writes the fitted model to the asked path before it says "done"; the parent only polls.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deblur_ros.core.training.scene_fitter import FitBudget, FitConfig


@dataclass
class FitJob:
    frames: list[np.ndarray]
    frame_info: list[dict[str, Any]]
    out_path: str
    budget: FitBudget
    config: FitConfig
    init: str | None = None  # checkpoint path of the initial weights; None: random
    threads: int = 1
    nice: int = 10
    extra: dict[str, Any] | None = None  # more metadata for the saved model


class BackgroundFit:
    """Runs one :class:`FitJob` in a spawned process.

    ``poll()`` drains the child's messages and is cheap enough for a node's timer;
    afterwards ``progress`` holds the latest progress (a dict of
    :class:`FitProgress` fields), and once the child ends ``result`` holds the saved
    model's path and the fit's record, or ``error`` the reason it failed.
    """

    def __init__(self, job: FitJob) -> None:
        ctx = mp.get_context("spawn")  # no fork of a process with DDS and OpenMP threads
        self.job = job
        self._queue = ctx.Queue()
        self._cancel = ctx.Event()
        self._process = ctx.Process(target=_run, args=(job, self._queue, self._cancel),
                                    name="scene-fit", daemon=True)
        self.progress: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self.error: str | None = None

    def start(self) -> BackgroundFit:
        self._process.start()
        return self

    @property
    def running(self) -> bool:
        return self.result is None and self.error is None

    def poll(self) -> None:
        while True:
            try:
                kind, payload = self._queue.get_nowait()
            except queue.Empty:
                break
            if kind == "progress":
                self.progress = payload
            elif kind == "done":
                self.result = payload
            else:
                self.error = payload
        if self.running and not self._process.is_alive():
            self._process.join(timeout=1.0)
            # A last message may have landed between the drain and the exit.
            try:
                kind, payload = self._queue.get(timeout=0.5)
                if kind == "done":
                    self.result = payload
                elif kind == "error":
                    self.error = payload
            except queue.Empty:
                pass
            if self.running:
                self.error = f"the fit process died (exit code {self._process.exitcode})"

    def cancel(self) -> None:
        self._cancel.set()

    def join(self, timeout: float | None = None) -> bool:
        """Waits for the child; True when it has ended."""
        self._process.join(timeout)
        self.poll()
        return not self._process.is_alive()

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5.0)


def _run(job: FitJob, messages: Any, cancel: Any) -> None:
    try:
        if job.nice:
            os.nice(job.nice)
        import torch

        from deblur_ros.core.training.scene_fitter import SceneFitter

        torch.set_num_threads(max(1, job.threads))
        fitter = SceneFitter(job.frames, job.config, init=job.init, frame_info=job.frame_info)
        result = fitter.fit(job.budget, progress=lambda p: messages.put(("progress", asdict(p))),
                            cancelled=cancel.is_set, threads=job.threads)
        if result.stopped == "cancelled":
            messages.put(("error", "cancelled"))
            return
        path = fitter.save(Path(job.out_path), result, job.extra)
        summary = {k: v for k, v in asdict(result).items() if k not in ("losses", "probes")}
        final_loss = result.losses[-1][2] if result.losses else float("nan")
        messages.put(("done", {"path": str(path), "loss": final_loss} | summary))
    except Exception as exc:  # noqa: BLE001 - the parent reports it in one line
        messages.put(("error", f"{type(exc).__name__}: {exc}"))
        traceback.print_exc()
