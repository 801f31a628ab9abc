"""sensor_msgs/Image messages from packed pixels (:mod:`pixels`), for rclpy publishers."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from deblur_ros.adapters.pixels import PackedImage, encode_pixels, pack_array

__all__ = ["copy_header", "encode_image", "image_from_array", "to_message"]


def copy_header(header: Header | None) -> Header:
    """Copy stamp and frame_id so the output never aliases the input header."""
    out = Header()
    if header is not None:
        out.stamp.sec = header.stamp.sec
        out.stamp.nanosec = header.stamp.nanosec
        out.frame_id = header.frame_id
    return out


def to_message(packed: PackedImage, header: Header | None = None) -> Image:
    msg = Image()
    msg.header = copy_header(header)
    msg.height, msg.width = packed.height, packed.width
    msg.encoding, msg.is_bigendian, msg.step = packed.encoding, packed.is_bigendian, packed.step
    msg.data = packed.data
    return msg


def image_from_array(array: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """An Image holding a raw uint8/uint16 array already in ``encoding`` (see
    :func:`pixels.pack_array`)."""
    return to_message(pack_array(array, encoding), header)


def encode_image(decoded_rgb: np.ndarray, alpha: np.ndarray | None, encoding: str,
                 header: Header | None) -> Image:
    """Float RGB as an Image in ``encoding`` (see :func:`pixels.encode_pixels`)."""
    return to_message(encode_pixels(decoded_rgb, alpha, encoding), header)
