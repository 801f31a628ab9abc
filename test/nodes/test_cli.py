"""The user commands end to end: demo through real DDS, and their error paths."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from deblur_ros.cli.main import main

pytestmark = pytest.mark.timeout(180)


def test_demo_writes_side_by_side_and_reports(identity_model, tmp_path, capsys):
    code = main(["demo", "--model", str(identity_model), "--frames", "3", "--width", "64",
                 "--height", "48", "--rate", "10", "--out", str(tmp_path), "--timeout", "60"])
    out = capsys.readouterr().out
    assert code == 0, out
    png = cv2.imread(str(tmp_path / "before_after.png"))
    # input | 4 px gap | output, above the same two enlarged where the output changed most
    assert png.shape == (48 + 4 + 48, 64 + 4 + 64, 3)
    # the identity model returns its input: below the labels the panels are equal, and
    # the input is the camera's picture, not a blank
    for top in (24, 52 + 24):
        before, after = png[top:top + 24, :64].astype(int), png[top:top + 24, 68:].astype(int)
        assert np.abs(before - after).max() <= 1 and before.std() > 5
    frames, fps, dropped, received = re.search(
        r"deblurred (\d+) frames: ([\d.]+) fps \(camera 10 Hz, dropped (\d+) of (\d+)\)",
        out).groups()
    assert int(frames) >= 3 and 0 < float(fps) < 30 and int(dropped) < int(received)
    p50, p95 = map(int, re.search(r"p50 (\d+) ms, p95 (\d+) ms", out).groups())
    assert 0 < p50 <= p95
    inp, outp = map(float, re.search(r"input ([\d.]+) -> output ([\d.]+)", out).groups())
    assert inp > 0 and abs(inp - outp) < 0.05 * inp  # identity: as sharp as its input


def test_demo_runs_in_a_private_domain(ros, identity_model, tmp_path, capsys):
    """A robot's camera on the caller's domain must not reach the demo, nor the demo's
    camera the robot: while a 'robot' publishes 16x16 frames on /image here, the demo
    still deblurs only its own 64x48 frames, and no demo node shows up in this domain."""
    import threading

    from sensor_msgs.msg import Image

    from deblur_ros.adapters.image_msg import image_from_array

    robot = ros.node("robot_camera")
    pub = robot.create_publisher(Image, "image", 10)
    seen = []
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            pub.publish(image_from_array(np.zeros((16, 16, 3), np.uint8), "rgb8"))
            seen.append(robot.count_publishers("deblurred/image")
                        + robot.count_subscribers("image"))
            stop.wait(0.02)

    thread = threading.Thread(target=publish)
    thread.start()
    try:
        code = main(["demo", "--model", str(identity_model), "--frames", "3", "--width", "64",
                     "--height", "48", "--rate", "10", "--out", str(tmp_path), "--timeout", "60"])
    finally:
        stop.set()
        thread.join()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "private ROS domain" in out
    assert cv2.imread(str(tmp_path / "before_after.png")).shape == (100, 132, 3)
    assert seen and max(seen) == 0  # no demo node ever appeared in this domain


def test_demo_with_missing_model_fails_with_reason(tmp_path, capsys):
    code = main(["demo", "--model", str(tmp_path / "gone.pt"), "--timeout", "20"])
    assert code == 2
    assert "gone.pt" in capsys.readouterr().err


def test_unknown_command_and_help(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_train_live_short_run_resumes_and_exports(tmp_path, capsys):
    from deblur_ros.core.models.checkpoint import load_model

    args = ["train", "live", "--out", str(tmp_path / "run"), "--width", "8", "--batch", "1",
            "--crop", "32", "--clip-frames", "3", "--workers", "0", "--val-every", "2",
            "--save-every", "1", "--val-photos", "1", "--val-size", "32", "--device", "cpu"]
    assert main([*args, "--iterations", "2"]) == 0
    assert main([*args, "--iterations", "3"]) == 0  # resumes from last.pt
    model, meta = load_model(tmp_path / "run" / "strcnn-w8-m1.pt")
    assert meta["iterations"] == 3 and meta["name"] == "strcnn-w8-m1"
    assert meta["validation"]["input_psnr"] > 0
    assert "recipe" in meta and "hardware" in meta


def test_train_live_that_diverges_says_so_in_one_line(tmp_path, capsys):
    (tmp_path / "photos").mkdir()  # procedural images
    args = ["train", "live", "--out", str(tmp_path / "run"), "--width", "4", "--batch", "1",
            "--crop", "32", "--clip-frames", "3", "--workers", "0", "--val-every", "1000",
            "--val-photos", "1", "--val-size", "32", "--device", "cpu", "--no-amp",
            "--lr", "1e4", "--warmup", "0", "--iterations", "200",
            "--photos", str(tmp_path / "photos")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if "deblur-ros train:" in line]
    assert len(said) == 1 and "training diverged" in said[0], err


def test_train_live_with_ema_resumes_the_average_and_exports_it(tmp_path, capsys):
    """The average must continue across a stop (not restart from the weights), and what
    is kept as best and exported is the average, not the raw weights."""
    import torch

    from deblur_ros.core.models.checkpoint import read_checkpoint
    from deblur_ros.core.training.live_trainer import LiveTrainConfig, ema_decay

    run = tmp_path / "run"
    args = ["train", "live", "--out", str(run), "--width", "8", "--batch", "1", "--crop", "32",
            "--clip-frames", "3", "--workers", "0", "--val-every", "1", "--save-every", "1",
            "--val-photos", "1", "--val-size", "32", "--device", "cpu", "--lr", "1e-2",
            "--warmup", "0", "--ema", "0.9"]
    assert main([*args, "--iterations", "2"]) == 0
    first = read_checkpoint(run / "last.pt")
    assert main([*args, "--iterations", "3"]) == 0
    second = read_checkpoint(run / "last.pt")
    assert second["metadata"]["recipe"]["ema"] == 0.9
    decay = ema_decay(LiveTrainConfig(ema=0.9), 2)
    for key, weights in second["state_dict"].items():
        expected = decay * first["train_state"]["ema"][key] + (1 - decay) * weights
        assert torch.allclose(second["train_state"]["ema"][key], expected, atol=1e-6), key
    raw, kept = second["state_dict"], second["train_state"]["ema"]
    assert any(not torch.equal(raw[k], kept[k]) for k in raw)  # it is not the weights
    best = read_checkpoint(run / "best.pt")
    step = best["metadata"]["best_step"]
    assert step in (2, 3), step  # the steps whose average last.pt holds
    average = first["train_state"]["ema"] if step == 2 else kept
    assert all(torch.equal(best["state_dict"][k], average[k]) for k in raw)
    exported = read_checkpoint(run / "strcnn-w8-m1.pt")
    assert all(torch.equal(exported["state_dict"][k], best["state_dict"][k]) for k in raw)
    # Resumed without --ema, the average is dropped, and the user is told how to keep it.
    capsys.readouterr()
    assert main([*args[:-2], "--iterations", "4"]) == 0
    err = capsys.readouterr().err
    assert "keeps a moving average" in err and "--ema 0.9" in err
    assert "ema" not in read_checkpoint(run / "last.pt")["train_state"]


def test_train_live_mixes_real_footage_and_records_what_was_held_out(tmp_path):
    import cv2
    import numpy as np

    from deblur_ros.core.models.checkpoint import load_model

    footage = tmp_path / "highfps"
    for name in ("CLIP01", "CLIP02"):
        (footage / name).mkdir(parents=True)
        for i in range(12):
            img = np.full((48, 80, 3), 30, np.uint8)
            img[:, 3 * i:3 * i + 6] = 220
            cv2.imwrite(str(footage / name / f"{i:06d}.png"), img)
    args = ["train", "live", "--out", str(tmp_path / "run"), "--width", "8", "--batch", "2",
            "--crop", "32", "--clip-frames", "3", "--workers", "0", "--val-every", "2",
            "--val-photos", "1", "--val-size", "32", "--device", "cpu", "--iterations", "2",
            "--real-shuffle", "0.5", "--real-width", "64",
            "--real", str(footage), "--real-share", "1", "--real-hold-out", "CLIP02"]
    assert main(args) == 0
    _, meta = load_model(tmp_path / "run" / "strcnn-w8-m1.pt")
    real = meta["data"]["real"]
    assert real["clips"] == ["CLIP01"] and real["held_out"] == ["CLIP02"]
    assert real["share"] == 1.0 and real["clip"]["channel_shuffle"] == 0.5
    assert real["width"] == 64
    assert main([*args[:-1], "CLIP"]) == 2  # nothing left to train on: refused, no traceback


def test_train_live_scores_real_pairs_on_its_curve_as_eval_does(tmp_path, capsys):
    import json

    import cv2
    import numpy as np

    from deblur_ros.adapters.frame_sources import write_frames_folder
    from deblur_ros.core.models.checkpoint import load_model

    rng = np.random.default_rng(3)
    pairs = tmp_path / "pairs"
    for name in ("CLIPA_1", "CLIPB_1"):
        sharp = [rng.integers(0, 256, (40, 56, 3), dtype=np.uint8) for _ in range(3)]
        write_frames_folder(sharp, pairs / name / "sharp")
        write_frames_folder([cv2.blur(f, (7, 1)) for f in sharp], pairs / name / "blur")
    args = ["train", "live", "--out", str(tmp_path / "run"), "--width", "8", "--batch", "1",
            "--crop", "32", "--clip-frames", "3", "--workers", "0", "--val-every", "2",
            "--val-photos", "1", "--val-size", "32", "--device", "cpu", "--iterations", "2",
            "--real-val", str(pairs)]
    assert main(args) == 0
    run = tmp_path / "run"
    _, meta = load_model(run / "strcnn-w8-m1.pt")
    assert meta["real_validation"] == {"source": str(pairs), "sequences": ["CLIPA_1", "CLIPB_1"]}
    assert [h["step"] for h in meta["history"] if "real" in h] == [0, 2]
    real = meta["history"][-1]["real"]
    assert set(real["by_sequence"]) == {"CLIPA_1", "CLIPB_1"}
    assert real["frames"] == 6
    # The curve's figure is the one eval prints for the same weights and folder.
    assert main(["eval", "--model", str(run / "strcnn-w8-m1.pt"), "--dataset", str(pairs),
                 "--deadzone", "0", "--device", "cpu", "--strips", "0",
                 "--json", str(tmp_path / "eval.json")]) == 0
    figures = json.loads((tmp_path / "eval.json").read_text())
    assert abs(figures["input"]["psnr"] - real["input_psnr"]) < 1e-6
    assert abs(figures["output"]["psnr"] - real["output_psnr"]) < 1e-3
    assert (run / "curve.png").stat().st_size > 0
    # Pairs without ground truth are refused before training starts, in one line.
    (pairs / "CLIPB_1" / "sharp").rename(pairs / "CLIPB_1" / "gt")
    capsys.readouterr()
    assert main([*args[:3], str(tmp_path / "run2"), *args[4:]]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deblur-ros train: --real-val") and "CLIPB_1 has no sharp/" in err
    assert "\n" not in err and not (tmp_path / "run2" / "last.pt").exists()


def test_train_live_distils_from_a_teacher_and_records_it(tmp_path, capsys):
    from deblur_ros.core.models.checkpoint import load_model, save_checkpoint
    from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb

    teacher = save_checkpoint(tmp_path / "wide.pt", StrcnnDtb(StrcnnConfig(width=12)))
    args = ["train", "live", "--out", str(tmp_path / "run"), "--width", "8", "--batch", "1",
            "--crop", "32", "--clip-frames", "3", "--workers", "0", "--val-every", "2",
            "--val-photos", "1", "--val-size", "32", "--device", "cpu", "--iterations", "2"]
    assert main([*args, "--teacher", str(teacher), "--distill", "0.3"]) == 0
    _, meta = load_model(tmp_path / "run" / "strcnn-w8-m1.pt")
    assert meta["teacher"] == "distilled from wide.pt (strcnn-w12-m1), weight 0.3"
    assert meta["recipe"]["distill"] == 0.3
    capsys.readouterr()
    assert main([*args, "--fresh", "--distill", "0.3"]) == 2
    assert capsys.readouterr().err.strip() == "deblur-ros train: --distill needs --teacher CKPT"
    assert main([*args, "--fresh", "--teacher", str(tmp_path / "none.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.pt" in err[0], err


def test_bench_ros_path_measures_the_node_in_its_own_process(identity_model, tmp_path, capsys):
    """The ROS rows: a 30 Hz camera into the live node (its own process, its backend and
    thread count as asked), figures read back from the node's /diagnostics."""
    out = tmp_path / "bench.json"
    assert main(["bench", "--models", str(identity_model), "--backends", "torch:fp32",
                 "--sizes", "64x48", "--seconds", "2", "--frames", "5", "--threads", "1",
                 "--no-quality", "--scene-fit", "--ros-backend", "torch:fp32",
                 "--json", str(out)]) == 0
    records = json.loads(out.read_text())
    (ros_row,) = [r for r in records if r["path"] == "ros"]
    (fit_row,) = [r for r in records if r["path"] == "ros+fit"]  # a scene fit beside it
    assert fit_row["fit_steps"] > 0 and fit_row["fps"] > 0
    assert (ros_row["width"], ros_row["height"], ros_row["threads"]) == (640, 480, 1)
    # the node ran the backend asked for, not its own auto choice
    assert ros_row["model"] == "strcnn-w8-m1"
    assert (ros_row["backend"], ros_row["precision"]) == ("torch", "fp32")
    assert (fit_row["backend"], fit_row["precision"]) == ("torch", "fp32")
    assert 0 < ros_row["fps"] <= 31 and ros_row["camera_hz"] == 30
    assert 0 < ros_row["latency_ms_p50"] <= ros_row["latency_ms_p95"]
    assert ros_row["peak_rss_mb"] > 50  # the node process's own, read from /proc
    printed = capsys.readouterr().out
    assert "ROS throughput" in printed and "end to end" not in printed  # not the lite model
