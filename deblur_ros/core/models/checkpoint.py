"""The checkpoint file format and where shipped checkpoints live.

A checkpoint is one ``torch.save`` file holding a plain dict (loaded with
``weights_only=True``, so opening a file never runs code from it):

- ``format``: ``"deblur_ros.checkpoint"``, ``format_version``: 1
- ``architecture``: a key of :data:`registry.ARCHITECTURES` (``"strcnn_dtb"`` for the live model)
- ``config``: the fields of that network's config dataclass
- ``state_dict``: the network weights
- ``metadata``: free-form: training recipe, iterations, hardware, evaluation figures
- ``train_state`` (optional): optimiser and step, only in resumable training files

Every way a file can be wrong ends in one :class:`CheckpointError` whose message
names the file and the problem, so nodes and commands can show it as one line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deblur_ros.core.models import registry

FORMAT = "deblur_ros.checkpoint"
FORMAT_VERSION = 1
LIVE_ARCHITECTURE = "strcnn_dtb"
SCENE_ARCHITECTURE = "unet"
DEFAULT_LIVE_MODEL = "auto"
LITE_MODEL = "strcnn-w16-m1"
PAPER_MODEL = "strcnn-w64-m1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is meant for the user."""


def models_dir() -> Path:
    """Where shipped checkpoints are: the ament share dir, a pip prefix, or the checkout.

    Order: ``DEBLUR_ROS_MODELS`` env var; ``share/deblur_ros/models`` of a colcon
    install (ament index); the same under ``sys.prefix`` (pip puts data_files
    there); ``models/`` beside the package in a source checkout or editable install.
    """
    env = os.environ.get("DEBLUR_ROS_MODELS")
    if env:
        return Path(env)
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("deblur_ros")) / "models")
    except Exception:  # noqa: BLE001 - no ament index with the PyPI wheels
        pass
    candidates.append(Path(sys.prefix) / "share" / "deblur_ros" / "models")
    candidates.append(Path(__file__).resolve().parents[3] / "models")
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob("*.pt")):
            return candidate
    return candidates[-1]


def auto_model_name(device: str | torch.device | None = None) -> str:
    """The shipped model ``auto`` stands for: the paper's on CUDA, the lite one on a CPU.

    Measured on a 2-core CPU (bench/RESULTS.md, bf16): the paper's width 64 runs 4.5 fps
    at VGA and the lite model 36.7 fps, with the same validation gain; the paper's model
    needs a GPU for camera rate.
    """
    if device is None or str(device) == "auto":
        cuda = torch.cuda.is_available()
    else:
        cuda = torch.device(device).type == "cuda"
    return PAPER_MODEL if cuda else LITE_MODEL


def resolve_model(spec: str | os.PathLike | None,
                  device: str | torch.device | None = None) -> Path:
    """A path as given, or a shipped model by name (``strcnn-w64-m1``); None or ``auto``:
    the best shipped model for ``device`` (see :func:`auto_model_name`)."""
    if spec is None or str(spec) in ("", "auto"):
        spec = auto_model_name(device)
    path = Path(spec).expanduser()
    if path.suffix == ".pt" or path.exists() or os.sep in str(spec):
        return path
    return models_dir() / f"{spec}.pt"


def shipped_models() -> list[str]:
    return sorted(p.stem for p in models_dir().glob("strcnn-*.pt"))


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    metadata: dict[str, Any] | None = None,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Write atomically (temp file + rename) so an interrupted save never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": registry.architecture_of(model).name,
        "config": dataclasses.asdict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        # Plain JSON types only, so that weights_only loading accepts every file we write.
        "metadata": json.loads(json.dumps(metadata or {}, default=str)),
    }
    if train_state is not None:
        payload["train_state"] = train_state
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
    except BaseException:  # a full disk or a stop mid-write: no half file left behind
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | os.PathLike,
                    architecture: str | None = LIVE_ARCHITECTURE) -> dict[str, Any]:
    """Load and validate the dict; raises CheckpointError naming the file.

    ``architecture`` is the network the caller can use (None: any registered one)."""
    path = Path(path)
    if not path.is_file():
        hint = f" (shipped models: {', '.join(shipped_models()) or 'none found'})"
        raise CheckpointError(f"model file not found: {path}{hint}")
    if not zipfile.is_zipfile(path):
        # torch.save writes a zip archive; anything else (a text file, a truncated
        # download, an ONNX graph) would only give torch's "(101)"-style codes.
        size = path.stat().st_size
        raise CheckpointError(
            f"model file {path} is not a PyTorch checkpoint ({size} bytes, not a torch.save "
            "zip archive: truncated download or another format?); use a .pt written by "
            "'deblur-ros train live' or a shipped model name"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        unpickler = [ln for ln in lines if "Unpickler error" in ln]
        reason = (unpickler or lines or [type(exc).__name__])[0]
        raise CheckpointError(
            f"model file {path} is corrupt: torch.load failed ({reason[:120]})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"model file {path} is not a deblur_ros checkpoint (no '{FORMAT}' header); "
            "train one with 'deblur-ros train live'"
        )
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"model file {path} has format version {version}; this deblur_ros reads "
            f"version {FORMAT_VERSION}"
        )
    arch = payload.get("architecture")
    if arch not in registry.ARCHITECTURES:
        raise CheckpointError(
            f"model file {path} holds a '{arch}' network, which this deblur_ros does not "
            f"know (it knows: {', '.join(registry.ARCHITECTURES)})"
        )
    if architecture is not None and arch != architecture:
        raise CheckpointError(
            f"model file {path} holds a '{arch}' network, not the '{architecture}' "
            "this needs"
        )
    return payload


def load_model(
    path: str | os.PathLike, device: str | torch.device = "cpu",
    architecture: str | None = LIVE_ARCHITECTURE,
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network from a checkpoint; returns (model in eval mode, metadata)."""
    payload = read_checkpoint(path, architecture)
    arch = registry.lookup(payload["architecture"])
    if not isinstance(payload.get("config"), dict):
        raise CheckpointError(f"model file {path} has no network config")
    try:
        config = arch.config_from(payload["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"model file {path} has a config this '{arch.name}' cannot use ({exc})"
        ) from None
    model = arch.network(config)
    _load_weights(model, payload.get("state_dict"), path)
    model.eval().to(device)
    metadata = dict(payload.get("metadata", {}))
    metadata.setdefault("name", config.name)
    return model, metadata


def _load_weights(model: nn.Module, state: Any, path: str | os.PathLike) -> None:
    """Load with a message that names the keys, since a bare RuntimeError does not help."""
    if not isinstance(state, dict):
        raise CheckpointError(f"model file {path} holds no weights (no 'state_dict')")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and hasattr(state[k], "shape") and state[k].shape != v.shape]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if keys:
            more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
            problems.append(f"{label}: {', '.join(keys[:3])}{more}")
    if problems:
        raise CheckpointError(
            f"model file {path} does not fit its declared network "
            f"{getattr(model.config, 'name', '')}: {'; '.join(problems)}"
        )
    model.load_state_dict(state)
