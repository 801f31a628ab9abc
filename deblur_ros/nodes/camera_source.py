"""Publishes a video file, a folder of frames, or a built-in synthetic shaky camera.

It stands in for a camera driver: ``image`` + ``camera_info`` at a set rate with
the current time as stamp, so the live node and the demo run with no hardware.
"""

from __future__ import annotations

import sys
from typing import Any

import cv2
import numpy as np
import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, Image

from deblur_ros.adapters.camera_info import default_camera_info, load_camera_info_yaml
from deblur_ros.adapters.frame_sources import FrameSourceError, open_source
from deblur_ros.adapters.image_codec import image_from_array

# Reliable: both best-effort (the live node) and reliable subscribers connect to it.
SOURCE_QOS = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=2
)
ENCODINGS = ("rgb8", "bgr8", "mono8")


def convert_rgb(frame: np.ndarray, encoding: str) -> np.ndarray:
    if encoding == "rgb8":
        return frame
    if encoding == "bgr8":
        return np.ascontiguousarray(frame[:, :, ::-1])
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


class CameraSourceNode(Node):
    def __init__(self, node_name: str = "camera_source", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        p = self.declare_parameter
        p("source", "synthetic", ParameterDescriptor(
            description="'synthetic', a video file, or a folder of images", read_only=True))
        p("rate", 0.0, ParameterDescriptor(
            description="Frames per second; 0 = the video's own rate (30 when unknown)",
            floating_point_range=[FloatingPointRange(from_value=0.0, to_value=1000.0)]))
        p("loop", True, ParameterDescriptor(description="Start again at the end", read_only=True))
        p("width", 640, ParameterDescriptor(
            description="Width of the synthetic source", read_only=True,
            integer_range=[IntegerRange(from_value=16, to_value=8192, step=1)]))
        p("height", 480, ParameterDescriptor(
            description="Height of the synthetic source", read_only=True,
            integer_range=[IntegerRange(from_value=16, to_value=8192, step=1)]))
        p("seed", 0, ParameterDescriptor(description="Seed of the synthetic source",
                                         read_only=True))
        p("encoding", "rgb8", ParameterDescriptor(
            description="Published encoding: rgb8, bgr8 or mono8", read_only=True))
        p("frame_id", "camera", ParameterDescriptor(description="header.frame_id"))
        p("camera_info_url", "", ParameterDescriptor(
            description="camera_calibration YAML file; empty = a 70 degree pinhole model",
            read_only=True))
        p("max_frames", 0, ParameterDescriptor(
            description="Stop after this many frames; 0 = no limit",
            integer_range=[IntegerRange(from_value=0, to_value=2**31 - 1, step=1)]))

        self.encoding = self.get_parameter("encoding").value
        if self.encoding not in ENCODINGS:
            raise ValueError(f"parameter encoding='{self.encoding}' is not one of {ENCODINGS}")
        spec = self.get_parameter("source").value
        self.source = open_source(
            spec, loop=self.get_parameter("loop").value,
            width=self.get_parameter("width").value, height=self.get_parameter("height").value,
            seed=self.get_parameter("seed").value,
        )
        self.frames = iter(self.source)
        url = self.get_parameter("camera_info_url").value
        self.camera_info = (load_camera_info_yaml(url) if url
                            else default_camera_info(self.source.width, self.source.height))
        rate = self.get_parameter("rate").value or self.source.fps or 30.0
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
        self.image_pub.publish(msg)
        self.info_pub.publish(info)
        self.published += 1


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    try:
        node = CameraSourceNode()
    except (FrameSourceError, ValueError) as exc:
        print(f"camera_source: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
