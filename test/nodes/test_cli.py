"""The user commands end to end: demo through real DDS, and their error paths."""

from __future__ import annotations

import pytest

from deblur_ros.cli.main import main

pytestmark = pytest.mark.timeout(180)


def test_demo_writes_side_by_side_and_reports(identity_model, tmp_path, capsys):
    code = main(["demo", "--model", str(identity_model), "--frames", "3", "--width", "64",
                 "--height", "48", "--rate", "10", "--out", str(tmp_path), "--timeout", "60"])
    out = capsys.readouterr().out
    assert code == 0, out
    import cv2

    png = cv2.imread(str(tmp_path / "before_after.png"))
    assert png.shape == (48, 128, 3)
    assert "fps" in out and "latency" in out and "dropped" in out


def test_demo_with_missing_model_fails_with_reason(tmp_path, capsys):
    code = main(["demo", "--model", str(tmp_path / "gone.pt"), "--timeout", "20"])
    assert code == 2
    assert "gone.pt" in capsys.readouterr().err


def test_unknown_command_and_help(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_train_live_short_run_resumes_and_exports(tmp_path, capsys):
    from deblur_ros.core.checkpoint import load_model

    args = ["train", "live", "--out", str(tmp_path / "run"), "--width", "8", "--batch", "1",
            "--crop", "32", "--clip-frames", "3", "--workers", "0", "--val-every", "2",
            "--save-every", "1", "--val-photos", "1", "--val-size", "32", "--device", "cpu"]
    assert main([*args, "--iterations", "2"]) == 0
    assert main([*args, "--iterations", "3"]) == 0  # resumes from last.pt
    model, meta = load_model(tmp_path / "run" / "strcnn-w8-m1.pt")
    assert meta["iterations"] == 3 and meta["name"] == "strcnn-w8-m1"
    assert meta["validation"]["input_psnr"] > 0
    assert "recipe" in meta and "hardware" in meta
