"""Bags written with ``rosbags`` the way a robot records them: a camera (raw and JPEG),
its camera_info, an IMU at a higher rate and a string topic, in both storages and both
metadata versions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.LATEST)
T = TS.types
CAMERA = "/camera/image_raw"
COMPRESSED = "/camera/image_raw/compressed"
INFO = "/camera/camera_info"
IMU = "/imu/data"
CHATTER = "/chatter"
BEST_EFFORT = Qos(QosHistory.KEEP_LAST, 5, QosReliability.BEST_EFFORT,
                  QosDurability.VOLATILE, QosTime(0, 0), QosTime(0, 0),
                  QosLiveliness.AUTOMATIC, QosTime(0, 0), False)


@dataclass
class BagSpec:
    frames: int = 6
    width: int = 64
    height: int = 48
    encoding: str = "rgb8"
    pad: int = 0  # extra bytes at the end of every row
    compressed: bool = False
    storage: str = "mcap"
    version: int = 9
    compression: str = ""  # "", "file" or "message" (zstd)
    cut_at: int | None = None  # from this frame on the camera shows another scene


def _header(i: int):
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](
        sec=100 + i // 10, nanosec=(i % 10) * 100_000_000), frame_id="camera_optical")


def frame_pixels(i: int, spec: BagSpec) -> np.ndarray:
    """A textured scene moving right, blurred a little, so the model has work to do."""
    rng = np.random.default_rng(8 if spec.cut_at is not None and i >= spec.cut_at else 7)
    base = cv2.resize((rng.random((12, 16, 3)) * 255).astype(np.uint8),
                      (spec.width + 32, spec.height), interpolation=cv2.INTER_NEAREST)
    shift = (2 * i) % 32
    crop = np.ascontiguousarray(base[:, shift: shift + spec.width])
    return cv2.blur(crop, (5, 1))


def raw_image(i: int, spec: BagSpec):
    rgb = frame_pixels(i, spec)
    if spec.encoding == "bgr8":
        rgb = rgb[:, :, ::-1]
    elif spec.encoding == "mono8":
        rgb = rgb.mean(axis=2).astype(np.uint8)[:, :, None]
    channels = rgb.shape[2]
    step = spec.width * channels + spec.pad
    rows = np.zeros((spec.height, step), np.uint8)
    rows[:, : spec.width * channels] = rgb.reshape(spec.height, -1)
    rows[:, spec.width * channels:] = 0xAB  # padding a reader must skip
    return T["sensor_msgs/msg/Image"](header=_header(i), height=spec.height,
                                      width=spec.width, encoding=spec.encoding,
                                      is_bigendian=0, step=step, data=rows.reshape(-1))


def jpeg_image(i: int, spec: BagSpec, quality: int = 80):
    _, buf = cv2.imencode(".jpg", frame_pixels(i, spec)[:, :, ::-1],
                          [cv2.IMWRITE_JPEG_QUALITY, quality])
    return T["sensor_msgs/msg/CompressedImage"](header=_header(i), format="jpeg",
                                                data=buf.reshape(-1))


def write_bag(path: Path, spec: BagSpec) -> Path:
    """Camera at 10 Hz, IMU at 40 Hz (interleaved between frames), info with every frame,
    a string twice; bag timestamps a little after the header stamps, as recorded."""
    plugin = StoragePlugin.MCAP if spec.storage == "mcap" else StoragePlugin.SQLITE3
    writer = Writer(path, version=spec.version, storage_plugin=plugin)
    if spec.compression:
        from rosbags.rosbag2 import CompressionFormat, CompressionMode

        writer.set_compression(CompressionMode[spec.compression.upper()],
                               CompressionFormat.ZSTD)
    writer.set_custom_data("robot", "rover-7")
    writer.open()
    cam = writer.add_connection(COMPRESSED if spec.compressed else CAMERA,
                                "sensor_msgs/msg/CompressedImage" if spec.compressed
                                else "sensor_msgs/msg/Image", typestore=TS,
                                offered_qos_profiles=[BEST_EFFORT])
    info = writer.add_connection(INFO, "sensor_msgs/msg/CameraInfo", typestore=TS)
    imu = writer.add_connection(IMU, "sensor_msgs/msg/Imu", typestore=TS)
    chat = writer.add_connection(CHATTER, "std_msgs/msg/String", typestore=TS)
    for i in range(spec.frames):
        t = (100 + i // 10) * 10**9 + (i % 10) * 100_000_000 + 3_000_000
        msg = jpeg_image(i, spec) if spec.compressed else raw_image(i, spec)
        writer.write(cam, t, TS.serialize_cdr(msg, cam.msgtype))
        cinfo = T["sensor_msgs/msg/CameraInfo"](
            header=_header(i), height=spec.height, width=spec.width,
            distortion_model="plumb_bob", d=np.zeros(5), k=np.eye(3).reshape(-1),
            r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
            roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0,
                                                      width=0, do_rectify=False))
        writer.write(info, t + 1000, TS.serialize_cdr(cinfo, info.msgtype))
        for k in range(4):
            m = T["sensor_msgs/msg/Imu"](
                header=_header(i), orientation=T["geometry_msgs/msg/Quaternion"](
                    x=0.0, y=0.0, z=float(k), w=1.0),
                orientation_covariance=np.zeros(9),
                angular_velocity=T["geometry_msgs/msg/Vector3"](x=float(i), y=0.0, z=0.0),
                angular_velocity_covariance=np.zeros(9),
                linear_acceleration=T["geometry_msgs/msg/Vector3"](x=0.0, y=9.8, z=0.0),
                linear_acceleration_covariance=np.zeros(9))
            writer.write(imu, t + 2000 + k * 25_000_000, TS.serialize_cdr(m, imu.msgtype))
        if i in (0, spec.frames - 1):
            writer.write(chat, t + 5000, TS.serialize_cdr(
                T["std_msgs/msg/String"](data=f"frame {i}"), chat.msgtype))
    writer.close()
    return path


def read_all(path: Path) -> list[tuple[str, str, int, bytes]]:
    """(topic, type, bag timestamp, bytes) in bag order."""
    with Reader(path) as reader:
        return [(c.topic, c.msgtype, t, bytes(raw)) for c, t, raw in reader.messages()]


def connections(path: Path) -> dict[str, object]:
    with Reader(path) as reader:
        return {c.topic: c for c in reader.connections}
