"""ROS image pixel layouts <-> numpy, without rclpy or cv_bridge.

cv_bridge is not pip-installable next to the PyPI ROS wheels, so this module parses
the wire format itself. It reads any object with the fields of sensor_msgs/Image
(``encoding``, ``height``, ``width``, ``step``, ``is_bigendian``, ``data``): an rclpy
message, or a rosbags one read from a bag with no ROS installed. Building rclpy
messages is :mod:`image_msg`'s job. The network works on float RGB in [0, 1];
everything else (byte order, channel order, row padding, YUV packing) is undone here
on the way in and redone on the way out, so output keeps exactly the input's encoding.
"""

from __future__ import annotations

import array as _array
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

__all__ = [
    "SUPPORTED_ENCODINGS",
    "DecodedImage",
    "ImageLike",
    "MalformedImageError",
    "PackedImage",
    "UnsupportedEncodingError",
    "array_from_image",
    "decode_image",
    "encode_pixels",
    "pack_array",
]


class ImageLike(Protocol):
    """The fields of sensor_msgs/Image this module reads."""

    encoding: str
    height: int
    width: int
    step: int
    is_bigendian: int
    data: Any


@dataclass
class PackedImage:
    """Pixels in a ROS encoding, ready to become a message of any ROS binding."""

    encoding: str
    height: int
    width: int
    step: int
    data: bytes
    is_bigendian: int = 0


class UnsupportedEncodingError(ValueError):
    """The Image encoding is one deblur_ros cannot turn into RGB."""


class MalformedImageError(ValueError):
    """The Image fields contradict each other (sizes, step, data length)."""


@dataclass(frozen=True)
class _Layout:
    """How one encoding lays out a pixel in memory.

    ``order`` is the channel order of the stored data ('rgb', 'bgr', 'rgba',
    'bgra', 'mono') or the packing of a YUV 4:2:2 pair ('uyvy', 'yuyv').
    """

    channels: int
    dtype: np.dtype
    order: str

    @property
    def bytes_per_pixel(self) -> int:
        return self.channels * self.dtype.itemsize

    @property
    def max_value(self) -> float:
        return float(np.iinfo(self.dtype).max)


_U8 = np.dtype(np.uint8)
_U16 = np.dtype(np.uint16)

_LAYOUTS: dict[str, _Layout] = {
    "rgb8": _Layout(3, _U8, "rgb"),
    "bgr8": _Layout(3, _U8, "bgr"),
    "mono8": _Layout(1, _U8, "mono"),
    "rgba8": _Layout(4, _U8, "rgba"),
    "bgra8": _Layout(4, _U8, "bgra"),
    "mono16": _Layout(1, _U16, "mono"),
    "rgb16": _Layout(3, _U16, "rgb"),
    "bgr16": _Layout(3, _U16, "bgr"),
    "rgba16": _Layout(4, _U16, "rgba"),
    "bgra16": _Layout(4, _U16, "bgra"),
    # ROS's "yuv422" is UYVY byte order; "yuv422_yuy2" is YUYV.
    "yuv422": _Layout(2, _U8, "uyvy"),
    "uyvy": _Layout(2, _U8, "uyvy"),
    "yuv422_yuy2": _Layout(2, _U8, "yuyv"),
    "yuyv": _Layout(2, _U8, "yuyv"),
    # OpenCV type names that some drivers put in the encoding field.
    "8UC1": _Layout(1, _U8, "mono"),
    "8UC3": _Layout(3, _U8, "bgr"),
    "16UC1": _Layout(1, _U16, "mono"),
}

SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_LAYOUTS)

_HINTS = {
    "bayer": "convert with image_proc debayer first",
    "32FC": "depth/float images are not camera video; deblur the colour stream instead",
    "64FC": "depth/float images are not camera video; deblur the colour stream instead",
    "yuv420": "ask the camera driver for rgb8, bgr8 or yuv422 instead",
    "nv": "ask the camera driver for rgb8, bgr8 or yuv422 instead",
}


def _layout(encoding: str) -> _Layout:
    """Look up an encoding, failing with a message that says what to do."""
    try:
        return _LAYOUTS[encoding]
    except KeyError:
        pass
    hint = next(
        (text for key, text in _HINTS.items() if key.lower() in encoding.lower()),
        "convert to rgb8 or bgr8 upstream",
    )
    raise UnsupportedEncodingError(
        f"unsupported image encoding {encoding!r}: deblur_ros accepts "
        f"{', '.join(SUPPORTED_ENCODINGS)}; {hint}"
    )


@dataclass
class DecodedImage:
    """An Image reduced to what the network needs, plus what encoding needs back.

    ``rgb`` is float32 HxWxC in [0, 1] with C=3 (RGB order) or C=1 (mono);
    ``alpha`` is float32 HxW in [0, 1] for rgba/bgra inputs, else None, so it
    can be re-attached untouched; ``encoding`` is the original string.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    encoding: str


# ---------------------------------------------------------------------------
# raw arrays


def _data_as_uint8(data: object) -> np.ndarray:
    """View msg.data as flat uint8 without copying whenever the type allows."""
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        return data.reshape(-1)
    if isinstance(data, (bytes, bytearray, memoryview, _array.array)):
        return np.frombuffer(data, dtype=np.uint8)
    # A list (or an int array holding byte values) can only be copied.
    return np.asarray(data, dtype=np.uint8).reshape(-1)


def array_from_image(msg: ImageLike) -> np.ndarray:
    """Return the raw pixels of ``msg`` as uint8/uint16, padding stripped.

    Shape is HxW for single-channel encodings and HxWxC otherwise (C=2 raw
    bytes for the yuv422 variants), matching cv_bridge's ``imgmsg_to_cv2``.
    16-bit data comes back in native byte order whatever ``is_bigendian``
    said.  The result may share memory with ``msg.data``; copy before writing.
    """
    layout = _layout(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise MalformedImageError(
            f"Image is {width}x{height} (width x height); both must be positive, "
            "check the publisher fills width and height"
        )
    row_bytes = width * layout.bytes_per_pixel
    if step < row_bytes:
        raise MalformedImageError(
            f"Image step {step} is smaller than width {width} x {layout.bytes_per_pixel} "
            f"bytes per pixel ({msg.encoding}) = {row_bytes}; set step to at least "
            f"{row_bytes}"
        )
    if layout.order in ("uyvy", "yuyv") and width % 2:
        raise MalformedImageError(
            f"{msg.encoding} image has odd width {width}: 4:2:2 chroma is shared by pixel "
            "pairs, so the width must be even; crop one column or publish rgb8"
        )
    flat = _data_as_uint8(msg.data)
    needed = height * step
    if flat.size < needed:
        raise MalformedImageError(
            f"Image data is {flat.size} bytes but height {height} x step {step} needs "
            f"{needed}; the message is truncated or step/height are wrong"
        )
    rows = flat[:needed].reshape(height, step)[:, :row_bytes]
    if layout.dtype.itemsize == 2:
        wire = np.dtype(">u2" if msg.is_bigendian else "<u2")
        # view() needs the last axis contiguous, which slicing off padding keeps.
        pixels = rows.view(wire)
        if wire != layout.dtype:
            pixels = pixels.astype(layout.dtype)
    else:
        pixels = rows
    if layout.channels == 1:
        return pixels.reshape(height, width)
    return pixels.reshape(height, width, layout.channels)


def pack_array(array: np.ndarray, encoding: str) -> PackedImage:
    """Pack a raw uint8/uint16 array in ``encoding`` with a tight step.

    The array must already be in ``encoding``'s channel order and dtype (HxW
    or HxWx1 for mono, HxWxC otherwise, HxWx2 bytes for yuv422); nothing is
    converted so that a mistake shows up as an error, not as swapped colours.
    """
    layout = _layout(encoding)
    arr = np.asarray(array)
    if arr.dtype != layout.dtype:
        raise ValueError(
            f"{encoding} needs a {layout.dtype.name} array, got {arr.dtype.name}; "
            f"convert with array.astype(np.{layout.dtype.name}) after scaling"
        )
    if arr.ndim == 2 and layout.channels == 1:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] != layout.channels:
        raise ValueError(f"{encoding} needs an HxWx{layout.channels} array, got shape {arr.shape}")
    height, width = arr.shape[:2]
    if layout.order in ("uyvy", "yuyv") and width % 2:
        raise ValueError(f"{encoding} needs an even width, got {width}")
    if layout.dtype.itemsize == 2:
        arr = arr.astype("<u2", copy=False)
    return PackedImage(encoding, int(height), int(width), int(width * layout.bytes_per_pixel),
                       np.ascontiguousarray(arr).tobytes())


# ---------------------------------------------------------------------------
# YUV 4:2:2
#
# Decoding uses OpenCV (BT.601, limited range).  Encoding is done here with
# the exact inverse of OpenCV's decode matrix, because cv2's RGB2YUV_UYVY
# only exists in recent OpenCV releases and must agree with the decoder for
# round trips to be clean.

_YUV2RGB = np.array(
    [[1.164, 0.0, 1.596], [1.164, -0.391, -0.813], [1.164, 2.018, 0.0]], dtype=np.float64
)


def _pair_matrix(order: str) -> tuple[np.ndarray, np.ndarray]:
    """Matrix and offset mapping a pixel pair (R0 G0 B0 R1 G1 B1) to 4 packed bytes.

    Chroma uses the mean of the two pixels, which is exact because the colour
    transform is affine; folding that into one 6x4 matmul keeps 720p encodes
    at a few ms.
    """
    rgb2yuv = np.linalg.inv(_YUV2RGB)
    y, u, v = rgb2yuv
    zero = np.zeros(3)
    columns = {
        "y0": np.concatenate([y, zero]),
        "y1": np.concatenate([zero, y]),
        "u": np.concatenate([u, u]) / 2.0,
        "v": np.concatenate([v, v]) / 2.0,
    }
    offsets = {"y0": 16.0, "y1": 16.0, "u": 128.0, "v": 128.0}
    names = ("u", "y0", "v", "y1") if order == "uyvy" else ("y0", "u", "y1", "v")
    matrix = np.stack([columns[n] for n in names], axis=1).astype(np.float32)
    offset = np.array([offsets[n] for n in names], dtype=np.float32) / np.float32(255.0)
    return matrix, offset


_PAIR_MATRICES = {order: _pair_matrix(order) for order in ("uyvy", "yuyv")}


def _yuv422_to_rgb(packed: np.ndarray, order: str) -> np.ndarray:
    code = cv2.COLOR_YUV2RGB_UYVY if order == "uyvy" else cv2.COLOR_YUV2RGB_YUY2
    return cv2.cvtColor(np.ascontiguousarray(packed), code)


def _rgb_to_yuv422(rgb: np.ndarray, order: str) -> np.ndarray:
    """Pack float RGB in [0, 1] as HxWx2 uint8 bytes in UYVY or YUYV order."""
    height, width = rgb.shape[:2]
    if width % 2:
        raise ValueError(f"yuv422 output needs an even width, got {width}")
    matrix, offset = _PAIR_MATRICES[order]
    pairs = np.ascontiguousarray(rgb, dtype=np.float32).reshape(-1, 6)
    packed = pairs @ matrix
    packed += offset
    return _quantise(packed, 255.0, np.uint8).reshape(height, width, 2)


# ---------------------------------------------------------------------------
# float <-> wire


def _quantise(values: np.ndarray, scale: float, dtype: type) -> np.ndarray:
    """Scale, round and clip; NaN becomes 0 so a bad frame cannot wrap around."""
    out = np.multiply(values, scale, dtype=np.float32)
    np.fmax(out, 0.0, out=out)  # fmax, unlike maximum, maps NaN to the bound
    np.minimum(out, scale, out=out)
    np.rint(out, out=out)
    return out.astype(dtype)


def decode_image(msg: ImageLike) -> DecodedImage:
    """Turn any supported Image into float RGB (or mono) in [0, 1].

    Mono stays one channel rather than being replicated, so the caller can
    decide whether to run a colour model on it and encode_image can give the
    publisher mono back.
    """
    layout = _layout(msg.encoding)
    raw = array_from_image(msg)
    alpha = None
    if layout.order in ("uyvy", "yuyv"):
        raw = _yuv422_to_rgb(raw, layout.order)
        scale = np.float32(1.0 / 255.0)
    else:
        scale = np.float32(1.0 / layout.max_value)
    if raw.ndim == 2:
        raw = raw[:, :, None]
    if layout.order in ("rgba", "bgra"):
        alpha = raw[:, :, 3].astype(np.float32) * scale
        raw = raw[:, :, :3]
    if layout.order.startswith("bgr"):
        raw = raw[:, :, ::-1]
    rgb = raw.astype(np.float32) * scale
    return DecodedImage(rgb=rgb, alpha=alpha, encoding=msg.encoding)


def _as_hwc(decoded_rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(decoded_rgb, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3):
        raise ValueError(f"expected an HxWx3, HxWx1 or HxW image, got shape {arr.shape}")
    return arr


# ITU-R BT.601 luma weights, the same ones cv2's RGB2GRAY uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def encode_pixels(decoded_rgb: np.ndarray, alpha: np.ndarray | None, encoding: str
                  ) -> PackedImage:
    """Inverse of decode_image: float RGB packed in the subscriber's encoding.

    Colour input for a mono encoding is reduced to luma and mono input for a
    colour encoding is replicated, so a model's channel count never dictates
    the wire format.  A missing alpha for rgba/bgra is written as opaque.
    """
    layout = _layout(encoding)
    rgb = _as_hwc(decoded_rgb)
    height, width = rgb.shape[:2]
    if layout.order == "mono":
        if rgb.shape[2] == 3:
            rgb = (rgb @ _LUMA)[:, :, None]
        return pack_array(_quantise(rgb, layout.max_value, layout.dtype), encoding)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    if layout.order in ("uyvy", "yuyv"):
        packed = _rgb_to_yuv422(np.clip(rgb, 0.0, 1.0), layout.order)
        return pack_array(packed, encoding)
    if layout.order.startswith("bgr"):
        rgb = rgb[:, :, ::-1]
    if layout.channels == 4:
        if alpha is None:
            a = np.ones((height, width, 1), dtype=np.float32)
        else:
            a = np.asarray(alpha, dtype=np.float32)
            if a.shape not in ((height, width), (height, width, 1)):
                raise ValueError(
                    f"alpha has shape {a.shape} but the image is {height}x{width}; "
                    "pass the alpha returned by decode_image for this frame"
                )
            a = a.reshape(height, width, 1)
        rgb = np.concatenate([rgb, a], axis=2)
    return pack_array(_quantise(rgb, layout.max_value, layout.dtype), encoding)
