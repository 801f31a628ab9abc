"""A live camera read through OpenCV (V4L2 on Linux): ``/dev/video0`` or an index ``0``.

For robots whose camera has no ROS driver at hand. With a driver, run the driver and
remap the live node's ``image`` topic instead; that keeps the driver's stamps and
camera_info. Frames here are stamped on arrival by the camera node.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import cv2
import numpy as np

from deblur_ros.adapters.frame_sources import FrameSourceError

_DEVICE = re.compile(r"^(/dev/video\d+|\d+)$")


def is_device_spec(spec: str) -> bool:
    """``/dev/videoN`` or a bare camera index."""
    return bool(_DEVICE.match(spec.strip()))


def _open_capture(spec: str) -> cv2.VideoCapture:
    target: int | str = int(spec) if spec.isdigit() else spec
    return cv2.VideoCapture(target, cv2.CAP_V4L2)


class DeviceSource:
    """Endless frames from a camera device, at the size the device agrees to.

    ``width``/``height`` are requested, not forced: V4L2 picks the nearest mode, and the
    source reports what it got. A camera that stops delivering ends the iteration with
    an error rather than a silent hang.
    """

    def __init__(self, spec: str, width: int = 640, height: int = 480,
                 open_capture: Callable[[str], cv2.VideoCapture] = _open_capture) -> None:
        self.spec = spec.strip()
        self._capture = open_capture(self.spec)
        if not self._capture.isOpened():
            self._capture.release()
            raise FrameSourceError(
                f"cannot open camera {self.spec!r}: no such device, in use by another "
                "program, or no permission (is the user in the 'video' group? "
                "'v4l2-ctl --list-devices' lists cameras)")
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        ok, frame = self._capture.read()
        if not ok or frame is None:
            self._capture.release()
            raise FrameSourceError(f"camera {self.spec!r} opened but delivered no frame")
        self._first: np.ndarray | None = frame
        self.height, self.width = frame.shape[:2]
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps: float | None = float(fps) if fps and np.isfinite(fps) and fps > 0 else None

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            while True:
                if self._first is not None:
                    bgr, self._first = self._first, None
                else:
                    ok, bgr = self._capture.read()
                    if not ok or bgr is None:
                        raise FrameSourceError(f"camera {self.spec!r} stopped delivering "
                                               "frames (unplugged?)")
                if bgr.ndim == 2:
                    yield cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
                else:
                    yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            self._capture.release()
