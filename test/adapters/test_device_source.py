"""The V4L2 camera source: which specs mean a device, frames from a capture, and the
errors a user meets without a camera."""

from __future__ import annotations

import numpy as np
import pytest

from deblur_ros.adapters.device_source import DeviceSource, is_device_spec
from deblur_ros.adapters.frame_sources import FrameSourceError, open_source


class FakeCapture:
    """Stands in for cv2.VideoCapture: BGR frames with the frame number in pixel (0, 0)."""

    def __init__(self, frames: int = 3, opened: bool = True) -> None:
        self.frames, self.opened, self.read_count = frames, opened, 0
        self.requested: dict[int, float] = {}
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.requested[prop] = value
        return True

    def get(self, prop: int) -> float:
        return 30.0

    def read(self):
        if self.read_count >= self.frames:
            return False, None
        frame = np.zeros((6, 8, 3), np.uint8)
        frame[0, 0] = (self.read_count, 0, 255)  # B, G, R
        self.read_count += 1
        return True, frame

    def release(self) -> None:
        self.released = True


def test_device_specs():
    assert is_device_spec("/dev/video0") and is_device_spec("2") and is_device_spec(" 0 ")
    assert not is_device_spec("video0.mp4") and not is_device_spec("/dev/null")


def test_frames_come_in_order_as_rgb_and_an_unplugged_camera_is_an_error():
    fake = FakeCapture(frames=3)
    source = DeviceSource("0", 320, 240, open_capture=lambda spec: fake)
    assert (source.width, source.height, source.fps) == (8, 6, 30.0)
    assert set(fake.requested.values()) == {320, 240}
    frames = []
    with pytest.raises(FrameSourceError, match="stopped delivering"):
        for frame in source:
            frames.append(frame)
    assert [int(f[0, 0, 2]) for f in frames] == [0, 1, 2]  # blue channel last in RGB
    assert all(f[0, 0, 0] == 255 for f in frames)  # red first
    assert fake.released


def test_a_missing_camera_says_what_to_check():
    with pytest.raises(FrameSourceError, match="cannot open camera '/dev/video9'.*video"):
        DeviceSource("/dev/video9", open_capture=lambda spec: FakeCapture(opened=False))


def test_open_source_routes_device_specs_to_the_camera():
    # no camera on a CI machine: the device path must reach the device error, not "unknown
    # source"
    with pytest.raises(FrameSourceError, match="cannot open camera|delivered no frame"):
        open_source("/dev/video77")
