"""``deblur-ros record``: a topic to PNGs (exact pixels, stamps) or a video, stopped by a
frame count or by Ctrl-C with the file closed properly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from deblur_ros.cli.main import main

pytestmark = pytest.mark.timeout(120)


def _frame(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    return rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)


def _publish_until(ros, stop: threading.Event, topic: str = "deblurred/image") -> None:
    from sensor_msgs.msg import Image

    from deblur_ros.adapters.image_msg import image_from_array

    node = ros.node("fake_live_node")
    pub = node.create_publisher(Image, topic, 10)

    def run() -> None:
        i = 0
        while not stop.is_set():
            msg = image_from_array(_frame(i % 7), "rgb8")
            msg.header.stamp.sec, msg.header.stamp.nanosec = 100 + i, 7
            pub.publish(msg)
            i += 1
            stop.wait(0.05)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_record_to_a_folder_keeps_pixels_and_stamps(ros, tmp_path, capsys):
    stop = threading.Event()
    thread = _publish_until(ros, stop)
    try:
        out = tmp_path / "frames"
        assert main(["record", "--topic", "deblurred/image", str(out), "--frames", "5",
                     "--seconds", "60"]) == 0
    finally:
        stop.set()
        thread.join()
    assert "wrote 5 frames" in capsys.readouterr().out
    rows = (out / "stamps.csv").read_text().splitlines()
    assert rows[0] == "file,stamp_ns" and len(rows) == 6
    for row in rows[1:]:
        name, stamp = row.split(",")
        i = int(stamp) // 1_000_000_000 - 100
        assert int(stamp) % 1_000_000_000 == 7
        saved = cv2.cvtColor(cv2.imread(str(out / name)), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(saved, _frame(i % 7))


def test_record_to_a_video(ros, tmp_path):
    stop = threading.Event()
    thread = _publish_until(ros, stop)
    try:
        out = tmp_path / "clip.mp4"
        assert main(["record", str(out), "--frames", "6", "--seconds", "60"]) == 0
    finally:
        stop.set()
        thread.join()
    video = cv2.VideoCapture(str(out))
    frames = 0
    while True:
        ok, img = video.read()
        if not ok:
            break
        assert img.shape == (24, 32, 3)
        frames += 1
    assert frames == 6


def test_record_stops_on_ctrl_c_and_closes_the_folder(ros, tmp_path):
    stop = threading.Event()
    thread = _publish_until(ros, stop)
    out = tmp_path / "sig"
    try:
        proc = subprocess.Popen([sys.executable, "-m", "deblur_ros.cli.main", "record", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ))
        assert ros.wait_for(lambda: len(list(out.glob("*.png"))) >= 3, 60)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        stop.set()
        thread.join()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    written = len(list(out.glob("*.png")))
    assert f"wrote {written} frames" in stdout
    assert len((out / "stamps.csv").read_text().splitlines()) == written + 1


def test_record_refuses_a_file_as_folder_and_says_when_nothing_came(tmp_path, capsys):
    taken = tmp_path / "x.txt"
    taken.write_text("x")
    with pytest.raises(SystemExit):
        main(["record", str(taken)])
    assert "existing file" in capsys.readouterr().err
    assert main(["record", "--topic", "nobody/here", str(tmp_path / "empty"),
                 "--seconds", "1"]) == 1
    assert "no frames arrived on 'nobody/here'" in capsys.readouterr().err
