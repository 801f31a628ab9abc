"""The camera source publishes frames and a matching CameraInfo at its rate."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image

from deblur_ros.adapters.pixels import array_from_image
from deblur_ros.nodes.camera_source import CameraSourceNode

pytestmark = pytest.mark.timeout(60)


def make_folder(path, n=3):
    path.mkdir()
    frames = []
    for i in range(n):
        frame = np.full((8, 10, 3), 20 * i, np.uint8)
        frame[..., 0] = 200  # red in RGB
        cv2.imwrite(str(path / f"{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        frames.append(frame)
    return frames


def test_folder_source_publishes_each_frame_with_camera_info(ros, tmp_path):
    frames = make_folder(tmp_path / "clip")
    images, infos = [], []
    peer = ros.node("peer")
    peer.create_subscription(Image, "image", images.append, 10)
    peer.create_subscription(CameraInfo, "camera_info", infos.append, 10)
    node = ros.add(CameraSourceNode(context=ros.context, parameter_overrides=[
        Parameter("source", value=str(tmp_path / "clip")), Parameter("rate", value=20.0),
        Parameter("loop", value=False), Parameter("encoding", value="bgr8"),
        Parameter("frame_id", value="cam0")]))
    assert ros.wait_for(lambda: node.finished, 10)
    assert ros.wait_for(lambda: len(images) == 3 and len(infos) == 3, 5)
    for msg, info, frame in zip(images, infos, frames):
        assert msg.encoding == "bgr8" and msg.header.frame_id == "cam0"
        np.testing.assert_array_equal(array_from_image(msg)[..., ::-1], frame)
        assert info.header.stamp == msg.header.stamp
        assert (info.width, info.height) == (10, 8)
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in images]
    assert stamps == sorted(stamps)


def test_max_frames_and_loop(ros, tmp_path):
    make_folder(tmp_path / "clip", n=2)
    images = []
    peer = ros.node("peer")
    peer.create_subscription(Image, "image", images.append, 10)
    node = ros.add(CameraSourceNode(context=ros.context, parameter_overrides=[
        Parameter("source", value=str(tmp_path / "clip")), Parameter("rate", value=50.0),
        Parameter("loop", value=True), Parameter("max_frames", value=5)]))
    assert ros.wait_for(lambda: node.finished, 10)
    assert ros.wait_for(lambda: len(images) == 5, 5)


def test_bad_source_and_encoding_are_clear_errors(ros, tmp_path):
    from deblur_ros.adapters.frame_sources import FrameSourceError

    with pytest.raises(FrameSourceError, match="no_such_dir"):
        CameraSourceNode(context=ros.context, parameter_overrides=[
            Parameter("source", value=str(tmp_path / "no_such_dir"))])
    with pytest.raises(ValueError, match="yuv9"):
        CameraSourceNode(context=ros.context, parameter_overrides=[
            Parameter("encoding", value="yuv9")])


def test_corrupt_frame_in_a_folder_is_skipped_counted_and_logged_once(ros, tmp_path, capfd):
    """One garbage file used to kill the node; the rest of the folder must still flow."""
    frames = make_folder(tmp_path / "clip", n=3)
    (tmp_path / "clip" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    images = []
    peer = ros.node("peer")
    peer.create_subscription(Image, "image", images.append, 20)
    node = ros.add(CameraSourceNode(context=ros.context, parameter_overrides=[
        Parameter("source", value=str(tmp_path / "clip")), Parameter("rate", value=50),
        Parameter("loop", value=True), Parameter("max_frames", value=4)]))
    assert ros.wait_for(lambda: node.finished, 10)
    assert ros.wait_for(lambda: len(images) == 4, 5)
    good = [frames[0], frames[2]] * 2  # two passes over the readable frames
    for msg, frame in zip(images, good):
        np.testing.assert_array_equal(array_from_image(msg), frame)
    assert node.skipped_frames == 2  # once per pass
    err = capfd.readouterr().err
    assert err.count("skipping frame") == 1 and "1.png" in err, err


def test_numbers_accept_integers_and_bad_values_are_one_line(ros):
    """Launch types ``rate:=5`` as INTEGER; the node used to refuse it."""
    from deblur_ros.nodes.params import ParameterError

    node = ros.add(CameraSourceNode(context=ros.context, parameter_overrides=[
        Parameter("rate", value=5), Parameter("width", value=32),
        Parameter("height", value=24)]))
    assert node.timer.timer_period_ns == 200_000_000
    for name, value in [("rate", -1.0), ("source", 0), ("width", 8), ("loop", "no")]:
        with pytest.raises(ParameterError, match=f"^parameter {name}=[^\n]*$"):
            CameraSourceNode(context=ros.context,
                             parameter_overrides=[Parameter(name, value=value)])
