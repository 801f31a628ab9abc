"""The live network as an ONNX graph, for the OpenVINO and ONNX Runtime runners.

The graph is one recurrent step with everything explicit: inputs ``frames`` [1, T, 3, H, W]
and the state tensors ``feedback``, ``blended``, ``fresh``; outputs ``sharp`` and the
next state. H and W are dynamic (even sizes), so one file serves every resolution.
Exports are cached by the weights' digest: a retrained checkpoint never meets a stale
graph, and a restart does not export again.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from deblur_ros.core.models.strcnn_dtb import RecurrentState, StrcnnDtb

INPUTS = ("frames", "feedback", "blended", "fresh")
OUTPUTS = ("sharp", "next_feedback", "next_blended", "next_fresh")


def cache_dir() -> Path:
    """``$DEBLUR_ROS_CACHE``, else ``$XDG_CACHE_HOME/deblur_ros``, else ``~/.cache/deblur_ros``."""
    env = os.environ.get("DEBLUR_ROS_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "deblur_ros"


def weights_digest(model: nn.Module) -> str:
    """12 hex digits identifying the architecture config and every weight."""
    digest = hashlib.sha256(repr(model.config).encode())
    for key, value in model.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


class _Step(nn.Module):
    """One recurrent step with the state as separate tensors, as a graph needs it."""

    def __init__(self, model: StrcnnDtb) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames, feedback, blended, fresh):  # noqa: ANN001, ANN201
        sharp, state = self.model(frames, RecurrentState(feedback, blended, fresh))
        return sharp, state.feedback, state.blended, state.fresh


def export_onnx(model: StrcnnDtb, path: str | os.PathLike | None = None) -> Path:
    """Write (or reuse) the ONNX graph of ``model``; returns its path."""
    model = model.float().eval().cpu()
    if path is None:
        path = cache_dir() / "onnx" / f"{model.config.name}-{weights_digest(model)}.onnx"
    path = Path(path)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    window = torch.rand(1, model.config.n_frames, 3, 32, 48)
    state = model.initial_state(window)
    half = {2: "half_height", 3: "half_width"}
    dynamic = {"frames": {3: "height", 4: "width"}, "feedback": half, "blended": half,
               "sharp": {2: "height", 3: "width"}, "next_feedback": half, "next_blended": half}
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with warnings.catch_warnings():
        # The size checks in forward() are constants in a trace; the graph is for even
        # sizes only, which the streamer guarantees by padding.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(_Step(model), (window, state.feedback, state.blended, state.fresh),
                          str(tmp), input_names=list(INPUTS), output_names=list(OUTPUTS),
                          dynamic_axes=dynamic, opset_version=17, dynamo=False)
    os.replace(tmp, path)
    return path
