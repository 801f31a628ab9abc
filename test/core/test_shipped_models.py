"""Every checkpoint in models/ loads, runs, and is described in the model card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.models.checkpoint import DEFAULT_LIVE_MODEL, load_model, resolve_model

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = sorted(MODELS.glob("*.pt"))


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_default_live_model_is_shipped_for_every_device(device):
    path = resolve_model(DEFAULT_LIVE_MODEL, device)
    assert path.parent == MODELS and path.is_file()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_checkpoint_is_complete_and_documented(path):
    model, meta = load_model(path)
    assert meta["name"] == path.stem == model.config.name
    assert meta["iterations"] > 0 and meta["hardware"] and meta["train_time_s"] > 0
    scores = meta["validation"]
    assert scores["output_psnr"] > 0 and scores["input_psnr"] > 0
    card = (MODELS / "MODELS.md").read_text()
    assert f"`{path.stem}`" in card, f"{path.stem} missing from models/MODELS.md"
    assert path.stat().st_size < 20 * 2**20


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_checkpoint_streams_a_clip(path):
    stream = StreamingDeblurrer.from_checkpoint(path, "cpu")
    rng = np.random.default_rng(0)
    clip = [rng.integers(0, 256, (33, 47, 3), dtype=np.uint8) for _ in range(3)]
    out = stream.process(clip)
    assert len(out) == 3 and all(o.shape == (33, 47, 3) and o.dtype == np.uint8 for o in out)
