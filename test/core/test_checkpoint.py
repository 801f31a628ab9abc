"""Checkpoint round trip and every loading error as one clear line."""

import pytest
import torch

from deblur_ros.core.models.checkpoint import (
    CheckpointError,
    load_model,
    resolve_model,
    save_checkpoint,
)
from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb


def test_round_trip_keeps_weights_config_and_metadata(tmp_path):
    torch.manual_seed(1)
    model = StrcnnDtb(StrcnnConfig(width=8, lookahead=0))
    torch.nn.init.normal_(model.to_image.weight)
    path = save_checkpoint(tmp_path / "m.pt", model, {"iterations": 12, "note": "x"})
    loaded, meta = load_model(path)
    assert loaded.config == model.config
    assert meta["iterations"] == 12 and meta["name"] == "strcnn-w8-m0"
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])
    assert not loaded.training


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found: .*nope.pt"):
        load_model(tmp_path / "nope.pt")


def test_corrupt_file(tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt") as info:
        load_model(path)
    assert "\n" not in str(info.value) and "bad.pt" in str(info.value)


def test_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "t.pt", StrcnnDtb(StrcnnConfig(width=8)))
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="t.pt"):
        load_model(path)


def test_plain_state_dict_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save(StrcnnDtb(StrcnnConfig(width=8)).state_dict(), path)
    with pytest.raises(CheckpointError, match="not a deblur_ros checkpoint"):
        load_model(path)


def test_other_architecture(tmp_path):
    path = save_checkpoint(tmp_path / "u.pt", StrcnnDtb(StrcnnConfig(width=8)))
    payload = torch.load(path, weights_only=True)
    payload["architecture"] = "unet"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="'unet' network"):
        load_model(path)


def test_weights_that_do_not_match_config(tmp_path):
    path = save_checkpoint(tmp_path / "w.pt", StrcnnDtb(StrcnnConfig(width=8)))
    payload = torch.load(path, weights_only=True)
    payload["config"]["width"] = 16
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="does not fit .* wrong shape: filter_in.weight "
                                             r"\(8, 9, 5, 5\) != \(16, 9, 5, 5\)") as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_missing_and_extra_weights_are_named(tmp_path):
    path = save_checkpoint(tmp_path / "k.pt", StrcnnDtb(StrcnnConfig(width=8)))
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["stray.weight"] = payload["state_dict"].pop("blend.beta")
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="missing: blend.beta; unexpected: stray.weight"):
        load_model(path)


def test_a_file_that_is_not_a_torch_archive_says_so(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint .*5 bytes") as info:
        load_model(path)
    assert "(101)" not in str(info.value)


def test_checkpoints_written_before_the_lookahead_rename_still_load(tmp_path):
    """Format version 1 stored the look-ahead as ``future`` and had no activation (ReLU)."""
    model = StrcnnDtb(StrcnnConfig(width=8, lookahead=0, activation="relu"))
    path = save_checkpoint(tmp_path / "old.pt", model)
    payload = torch.load(path, weights_only=True)
    config = payload["config"]
    config["future"] = config.pop("lookahead")
    del config["activation"]
    torch.save(payload, path)
    loaded, meta = load_model(path)
    assert loaded.config == model.config and meta["name"] == "strcnn-w8-m0"


def test_resolve_names_and_paths(tmp_path):
    assert resolve_model("strcnn-w16-m1").name == "strcnn-w16-m1.pt"
    assert resolve_model(None, "cpu").name == "strcnn-w16-m1.pt"
    assert resolve_model("auto", "cpu").name == "strcnn-w16-m1.pt"
    assert resolve_model("auto", "cuda").name == "strcnn-w64-m1.pt"
    assert resolve_model(str(tmp_path / "x.pt")) == tmp_path / "x.pt"
