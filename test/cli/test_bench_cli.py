"""``deblur-ros bench`` without ROS: bad arguments refused in one line, a real run's table
and JSON."""

from __future__ import annotations

import json

import pytest

from deblur_ros.cli.main import main as deblur_ros


@pytest.mark.parametrize("args, message", [
    (["--frames", "0"], "--frames: must be > 0"),
    (["--seconds", "-1"], "--seconds: must be a number > 0"),
    (["--seconds", "nan"], "--seconds: must be a number > 0"),
])
def test_bad_numbers_are_refused_before_any_work(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        deblur_ros(["bench", "--no-ros", *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_model_is_one_line(tmp_path, capsys):
    assert deblur_ros(["bench", "--no-ros", "--models", str(tmp_path / "gone.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "gone.pt" in err and len(err.splitlines()) == 1


def test_model_run_prints_a_row_per_resolution_and_writes_json(identity_model, tmp_path,
                                                               capsys):
    out = tmp_path / "b.json"
    assert deblur_ros(["bench", "--no-ros", "--device", "cpu", "--models", str(identity_model),
                       "--backends", "torch:fp32", "--frames", "2", "--seconds", "5",
                       "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("hardware: ")
    records = json.loads(out.read_text())
    sizes = [(r["width"], r["height"]) for r in records]
    assert sizes == [(320, 240), (640, 480), (1280, 720)]
    for r in records:
        assert r["fps"] > 0 and r["latency_ms_p95"] >= r["latency_ms_p50"] > 0
        assert r["hardware"] and r["model"] == "strcnn-w8-m1" and r["warmup_ms"] > 0
        assert (r["backend"], r["precision"]) == ("torch", "fp32")
        # the identity network's validation gain is exactly none
        assert r["val_gain_db"] == pytest.approx(0.0, abs=1e-3)


def test_every_installed_backend_gets_rows_and_a_bad_one_is_refused(identity_model, tmp_path,
                                                                    capsys):
    import importlib.util

    out = tmp_path / "b.json"
    assert deblur_ros(["bench", "--no-ros", "--no-quality", "--device", "cpu", "--models",
                       str(identity_model), "--sizes", "64x48", "--threads", "1", "2",
                       "--frames", "2", "--seconds", "2", "--json", str(out)]) == 0
    rows = {(r["backend"], r["precision"], r["threads"]) for r in json.loads(out.read_text())}
    for backend in ("openvino", "onnxruntime"):
        if importlib.util.find_spec(backend):
            assert {(backend, "fp32", 1), (backend, "fp32", 2)} <= rows
    assert ("torch", "fp32", 1) in rows and ("torch", "fp32", 2) in rows
    with pytest.raises(SystemExit):
        deblur_ros(["bench", "--no-ros", "--backends", "tensorrt:int4"])
    assert "give BACKEND[:PRECISION]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        deblur_ros(["bench", "--ros-backend", "tensorrt"])
    assert "give BACKEND[:PRECISION]" in capsys.readouterr().err


def test_speed_targets_take_the_best_row_of_each_model_and_size():
    from deblur_ros.cli.bench import speed_targets

    def row(model, size, fps, backend):
        return {"path": "model", "model": model, "width": size[0], "height": size[1],
                "fps": fps, "backend": backend, "precision": "fp32", "threads": 2,
                "device": "cpu"}

    lines = speed_targets([row("strcnn-w16-m1", (640, 480), 9.0, "torch"),
                           row("strcnn-w16-m1", (640, 480), 30.0, "openvino"),
                           row("strcnn-w64-m1", (640, 480), 1.0, "torch")])
    assert lines == [
        "- strcnn-w16-m1 at 640x480: best 30.0 fps (openvino fp32, 2 threads) vs target 24 fps: "
        "PASS",
        "- strcnn-w64-m1 at 640x480: best 1.0 fps (torch fp32, 2 threads) vs target 2.5 fps: "
        "FAIL"]
