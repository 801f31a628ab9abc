"""Every checkpoint in models/ loads, runs, and is described in the model card."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.models.checkpoint import DEFAULT_LIVE_MODEL, load_model, resolve_model
from deblur_ros.core.models.strcnn_dtb import count_parameters, gmac_per_frame

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = sorted(MODELS.glob("strcnn-*.pt"))  # the live models
SCENE_INITS = sorted(MODELS.glob("unet-*.pt"))


def test_every_shipped_file_is_a_live_model_or_a_scene_initialisation():
    assert set(MODELS.glob("*.pt")) == set(SHIPPED) | set(SCENE_INITS)


@pytest.mark.parametrize("path", SCENE_INITS, ids=[p.stem for p in SCENE_INITS])
def test_shipped_scene_initialisation_loads_fits_and_is_documented(path):
    """The MAML initialisation is what ``scene_init: auto`` starts a fit from."""
    from deblur_ros.core.inference.scene import SceneDeblurrer
    from deblur_ros.core.models.checkpoint import SCENE_ARCHITECTURE
    from deblur_ros.core.training.scene_fitter import resolve_scene_init

    model, meta = load_model(path, architecture=SCENE_ARCHITECTURE)
    assert meta["name"] == path.stem and meta["kind"] == "scene-init"
    assert meta["iterations"] > 0 and meta["train_time_s"] > 0
    assert meta["best_step"] == meta["iterations"] or meta["best_step"] > 0
    assert resolve_scene_init("auto") == path
    card = (MODELS / "MODELS.md").read_text()
    assert f"`{path.stem}.pt`" in card and f"{meta['iterations']:,} meta-steps" in card
    out = SceneDeblurrer(model).process([np.zeros((33, 47, 3), np.uint8)])
    assert out[0].shape == (33, 47, 3) and out[0].dtype == np.uint8


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


def _card_row(table_header: str, name: str) -> list[str]:
    """Cells of ``name``'s row in the model-card table whose header starts so."""
    lines = (MODELS / "MODELS.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(table_header))
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0].startswith(f"`{name}`"):
            return cells
    raise AssertionError(f"{name} has no row in the model card table '{table_header}'")


def _number(text: str) -> float:
    return float(re.match(r"[\d,.]+", text).group().replace(",", ""))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_model_card_states_what_the_checkpoint_holds(path):
    """The card's architecture and training figures are the checkpoint's own, so a
    retrained file with a stale card fails here."""
    model, meta = load_model(path)
    cfg = model.config
    arch = _card_row("| name | width | m |", path.stem)
    assert (_number(arch[1]), _number(arch[2])) == (cfg.width, cfg.lookahead)
    assert _number(arch[3]) == cfg.n_frames
    assert _number(arch[4]) == count_parameters(model)
    assert _number(arch[5]) == pytest.approx(gmac_per_frame(cfg), abs=0.006)
    train = _card_row("| name | init | iterations", path.stem)
    iterations, exported = re.match(r"([\d,]+) \(([\d,]+)\)", train[2]).groups()
    assert _number(iterations) == meta["iterations"]
    assert _number(exported) == meta["best_step"]
    assert _number(train[5]) == pytest.approx(meta["train_time_s"] / 3600, abs=0.006)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_checkpoint_streams_a_clip(path):
    stream = StreamingDeblurrer.from_checkpoint(path, "cpu")
    rng = np.random.default_rng(0)
    clip = [rng.integers(0, 256, (33, 47, 3), dtype=np.uint8) for _ in range(3)]
    out = stream.process(clip)
    assert len(out) == 3 and all(o.shape == (33, 47, 3) and o.dtype == np.uint8 for o in out)
