"""Publishes a video file, a folder of frames, or a built-in synthetic shaky camera.

It stands in for a camera driver: ``image`` + ``camera_info`` at a set rate with
the current time as stamp, so the live node and the demo run with no hardware.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, Image

from deblur_ros.adapters.camera_info import default_camera_info, load_camera_info_yaml
from deblur_ros.adapters.frame_sources import open_source
from deblur_ros.adapters.image_msg import image_from_array
from deblur_ros.nodes.params import Param, declare, number, usage
from deblur_ros.nodes.spin import program_name, quiet_after_shutdown, run

# Reliable: both best-effort (the live node) and reliable subscribers connect to it.
SOURCE_QOS = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=2
)
ENCODINGS = ("rgb8", "bgr8", "mono8")

PARAMETERS = (
    Param("source", "synthetic",
          "'synthetic', a video file, a folder of images, or a camera (/dev/video0)"),
    Param("rate", 0.0, "Frames per second; 0 = the video's own rate (30 when unknown)",
          low=0.0, high=1000.0, read_only=False),
    Param("loop", True, "Start again at the end"),
    Param("width", 640, "Width of the synthetic source (requested from a camera)",
          low=16, high=8192),
    Param("height", 480, "Height of the synthetic source (requested from a camera)",
          low=16, high=8192),
    Param("seed", 0, "Seed of the synthetic source"),
    Param("encoding", "rgb8", "Published encoding", choices=ENCODINGS),
    Param("frame_id", "camera", "header.frame_id", read_only=False),
    Param("camera_info_url", "",
          "camera_calibration YAML file; empty = a 70 degree pinhole model"),
    Param("max_frames", 0, "Stop after this many frames; 0 = no limit",
          low=0, high=2**31 - 1, read_only=False),
)


def convert_rgb(frame: np.ndarray, encoding: str) -> np.ndarray:
    if encoding == "rgb8":
        return frame
    if encoding == "bgr8":
        return np.ascontiguousarray(frame[:, :, ::-1])
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


class CameraSourceNode(Node):
    def __init__(self, node_name: str = "camera_source", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        values = declare(self, PARAMETERS)
        self.encoding = values["encoding"]
        # Corrupt images of a folder are skipped, counted, and logged once per file.
        self.skipped_frames = 0
        self._reported: set[Path] = set()
        spec = values["source"]
        self.source = open_source(
            spec, loop=values["loop"], width=values["width"], height=values["height"],
            seed=values["seed"], on_bad_frame=self._skip_bad_frame,
        )
        self.frames = iter(self.source)
        url = values["camera_info_url"]
        self.camera_info = (load_camera_info_yaml(url) if url
                            else default_camera_info(self.source.width, self.source.height))
        rate = number(self, "rate") or self.source.fps or 30.0
        self.published = 0
        self.finished = False
        qos_override = QoSOverridingOptions.with_default_policies()
        self.image_pub = self.create_publisher(
            Image, "image", SOURCE_QOS, qos_overriding_options=qos_override)
        self.info_pub = self.create_publisher(
            CameraInfo, "camera_info", SOURCE_QOS, qos_overriding_options=qos_override)
        self.timer = self.create_timer(1.0 / rate, self._tick)
        self.get_logger().info(
            f"publishing '{spec or 'synthetic'}' ({self.source.width}x{self.source.height}) "
            f"as {self.encoding} at {rate:.1f} Hz on '{self.image_pub.topic_name}'")

    def _tick(self) -> None:
        limit = self.get_parameter("max_frames").value
        if self.finished:
            return
        frame = next(self.frames, None)
        if frame is None or (limit and self.published >= limit):
            self.finished = True
            self.timer.cancel()
            self.get_logger().info(f"end of source after {self.published} frames")
            return
        now = self.get_clock().now().to_msg()
        msg = image_from_array(convert_rgb(frame, self.encoding), self.encoding)
        msg.header.stamp = now
        msg.header.frame_id = self.get_parameter("frame_id").value
        info = self.camera_info
        info.header = msg.header
        with quiet_after_shutdown(self):  # Ctrl-C between the wait and this callback
            self.image_pub.publish(msg)
            self.info_pub.publish(info)
            self.published += 1

    def _skip_bad_frame(self, path: Path, error: Exception) -> None:
        self.skipped_frames += 1
        if path not in self._reported:
            self._reported.add(path)
            self.get_logger().warning(f"skipping frame: {error}")


def usage_text(program: str) -> str:
    return usage(program, "Publishes 'image' and 'camera_info' from a video, a folder of "
                 "images, a camera, or a synthetic shaky camera.", PARAMETERS,
                 "-p source:=clip.mp4 -p rate:=15 -p loop:=false")


def main(args: list[str] | None = None) -> int:
    """``camera_source`` / ``deblur-ros camera``: the exit code (0, or 2 for a bad
    parameter or source)."""
    argv = list(sys.argv if args is None else args)
    program = program_name(argv, "deblur_ros.nodes.camera_source")
    return run(program, CameraSourceNode, argv, usage=usage_text(program),
               executor=SingleThreadedExecutor)


if __name__ == "__main__":
    sys.exit(main())
