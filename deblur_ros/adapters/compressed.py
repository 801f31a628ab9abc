"""sensor_msgs/CompressedImage payloads <-> float RGB, without rclpy or image_transport.

A deblurred copy of a compressed stream should look to its subscribers like the stream
it replaces: the same codec, the same channels and bit depth, and about the same JPEG
quality, so a bag does not triple in size or lose detail on the way through. The codec
is read from the data's magic bytes (drivers fill ``format`` inconsistently: "jpeg",
"rgb8; jpeg compressed bgr8", ...); the JPEG quality from its quantisation table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from deblur_ros.core.imaging import from_float01, to_float01

__all__ = ["CompressedFrame", "CorruptCompressedImageError", "UnsupportedCompressionError",
           "decode_compressed", "encode_compressed", "jpeg_quality"]

_JPEG_MAGIC = b"\xff\xd8"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEFAULT_JPEG_QUALITY = 90  # when a JPEG carries no table we recognise
PNG_LEVEL = 3  # compressed_image_transport's default png_level


class UnsupportedCompressionError(ValueError):
    """A CompressedImage stream this package cannot re-encode (another codec, depth)."""


class CorruptCompressedImageError(ValueError):
    """One CompressedImage whose data does not decode (truncated, damaged)."""


@dataclass
class CompressedFrame:
    """A decoded CompressedImage: float pixels plus what re-encoding needs.

    ``rgb`` is float32 HxWx3 (RGB) or HxWx1 (mono) in [0, 1]; ``alpha`` the PNG alpha
    channel or None; ``codec`` 'jpeg' or 'png'; ``dtype`` uint8 or uint16 (16-bit PNG);
    ``quality`` the estimated JPEG quality (None for PNG).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    codec: str
    dtype: np.dtype
    quality: int | None


def _codec(format_field: str, data: bytes) -> str:
    if "compresseddepth" in format_field.lower().replace(" ", ""):
        raise UnsupportedCompressionError(
            f"CompressedImage format {format_field!r} is a depth stream "
            "(compressedDepth): deblur the colour stream instead")
    if data[:2] == _JPEG_MAGIC:
        return "jpeg"
    if data[:8] == _PNG_MAGIC:
        return "png"
    raise UnsupportedCompressionError(
        f"CompressedImage with format {format_field!r} holds neither JPEG nor PNG data "
        f"(starts {data[:4].hex()}); deblur_ros re-encodes jpeg and png only")


def decode_compressed(format_field: str, data: bytes | np.ndarray) -> CompressedFrame:
    """Decode a CompressedImage payload; one-line errors for what cannot be decoded."""
    raw = bytes(data) if not isinstance(data, bytes) else data
    codec = _codec(format_field, raw)
    image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise CorruptCompressedImageError(
            f"CompressedImage ({codec}, {len(raw)} bytes) does not decode: the data is "
            "truncated or corrupt")
    dtype = image.dtype
    if dtype not in (np.uint8, np.uint16):
        raise UnsupportedCompressionError(f"CompressedImage decodes to {dtype}, not 8/16-bit")
    if image.ndim == 2:
        image = image[:, :, None]
    alpha = None
    if image.shape[2] == 4:
        alpha = to_float01(image[:, :, 3])
        image = image[:, :, :3]
    if image.shape[2] == 3:
        image = image[:, :, ::-1]  # OpenCV decodes to BGR
    quality = jpeg_quality(raw) if codec == "jpeg" else None
    return CompressedFrame(to_float01(image), alpha, codec, np.dtype(dtype), quality)


def encode_compressed(rgb: np.ndarray, like: CompressedFrame) -> bytes:
    """``rgb`` (float, as decode gave it) encoded the way ``like`` was."""
    pixels = from_float01(np.asarray(rgb, dtype=np.float32), like.dtype)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.shape[2] == 3:
        pixels = pixels[:, :, ::-1]
    if like.alpha is not None:
        alpha = from_float01(like.alpha, like.dtype)[:, :, None]
        if pixels.shape[2] == 1:
            pixels = np.repeat(pixels, 3, axis=2)
        pixels = np.concatenate([pixels, alpha], axis=2)
    pixels = np.ascontiguousarray(pixels)
    if like.codec == "jpeg":
        ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY,
                                                like.quality or DEFAULT_JPEG_QUALITY])
    else:
        ok, buf = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL])
    if not ok:
        raise UnsupportedCompressionError(f"OpenCV could not encode a {like.codec} frame")
    return buf.tobytes()


def _luma_table(data: bytes) -> bytes | None:
    """The first quantisation table (8-bit, in file order) of a JPEG, or None."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDB:  # DQT: Pq/Tq byte, then 64 entries
            segment = data[i + 4:i + 2 + length]
            if len(segment) >= 65 and segment[0] >> 4 == 0:
                return segment[1:65]
            return None
        if marker == 0xDA:  # start of scan: no table before the image data
            return None
        i += 2 + length
    return None


@lru_cache(maxsize=1)
def _reference_tables() -> dict[int, np.ndarray]:
    """The table OpenCV's encoder writes at each quality, in the same byte order as
    :func:`_luma_table` reads, so no zig-zag bookkeeping is needed."""
    tiny = np.zeros((8, 8), np.uint8)
    tables = {}
    for quality in range(1, 101):
        _, buf = cv2.imencode(".jpg", tiny, [cv2.IMWRITE_JPEG_QUALITY, quality])
        table = _luma_table(buf.tobytes())
        if table is not None:
            tables[quality] = np.frombuffer(table, np.uint8).astype(np.int32)
    return tables


def jpeg_quality(data: bytes) -> int:
    """The IJG quality whose luminance table is nearest to this JPEG's (libjpeg-based
    encoders, OpenCV's and most camera drivers' among them, scale the same table)."""
    table = _luma_table(data)
    if table is None:
        return DEFAULT_JPEG_QUALITY
    values = np.frombuffer(table, np.uint8).astype(np.int32)
    errors = {q: int(np.abs(ref - values).sum()) for q, ref in _reference_tables().items()}
    return min(errors, key=errors.get) if errors else DEFAULT_JPEG_QUALITY
