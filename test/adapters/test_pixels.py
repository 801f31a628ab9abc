"""Behaviour of the sensor_msgs/Image <-> numpy codec."""

from __future__ import annotations

import array

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from deblur_ros.adapters.image_msg import encode_image, image_from_array
from deblur_ros.adapters.pixels import (
    SUPPORTED_ENCODINGS,
    DecodedImage,
    MalformedImageError,
    UnsupportedEncodingError,
    array_from_image,
    decode_image,
)

H, W = 12, 16

# encoding -> (channels of the float image, has alpha, bit depth)
FLOAT_LAYOUT = {
    "rgb8": (3, False, 8),
    "bgr8": (3, False, 8),
    "8UC3": (3, False, 8),
    "mono8": (1, False, 8),
    "8UC1": (1, False, 8),
    "rgba8": (3, True, 8),
    "bgra8": (3, True, 8),
    "mono16": (1, False, 16),
    "16UC1": (1, False, 16),
    "rgb16": (3, False, 16),
    "bgr16": (3, False, 16),
    "rgba16": (3, True, 16),
    "bgra16": (3, True, 16),
}
YUV_ENCODINGS = ("yuv422", "uyvy", "yuv422_yuy2", "yuyv")


def _header() -> Header:
    header = Header(frame_id="cam_optical")
    header.stamp.sec = 12
    header.stamp.nanosec = 345
    return header


def _quantised(shape: tuple[int, ...], bits: int, seed: int = 0) -> np.ndarray:
    """Random float image already on the bit depth's grid, so round trips are exact."""
    top = (1 << bits) - 1
    levels = np.random.default_rng(seed).integers(0, top + 1, size=shape)
    return (levels / top).astype(np.float32)


def _smooth_rgb(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack(
        [
            0.5 + 0.4 * np.sin(xx / 20.0),
            0.5 + 0.4 * np.cos(yy / 15.0),
            0.2 + 0.6 * (xx + yy) / (height + width),
        ],
        axis=2,
    ).astype(np.float32)


def test_supported_encodings_cover_the_contract() -> None:
    for name in (*FLOAT_LAYOUT, "yuv422", "yuv422_yuy2", "uyvy", "yuyv"):
        assert name in SUPPORTED_ENCODINGS


@pytest.mark.parametrize("encoding", sorted(FLOAT_LAYOUT))
def test_round_trip_is_exact_on_the_quantisation_grid(encoding: str) -> None:
    channels, has_alpha, bits = FLOAT_LAYOUT[encoding]
    rgb = _quantised((H, W, channels), bits, seed=1)
    alpha = _quantised((H, W), bits, seed=2) if has_alpha else None

    msg = encode_image(rgb, alpha, encoding, _header())
    assert msg.encoding == encoding
    assert len(msg.data) == msg.height * msg.step
    assert msg.is_bigendian == 0
    assert (msg.height, msg.width) == (H, W)

    decoded = decode_image(msg)
    assert isinstance(decoded, DecodedImage)
    assert decoded.encoding == encoding
    assert decoded.rgb.dtype == np.float32
    assert decoded.rgb.shape == (H, W, channels)
    np.testing.assert_allclose(decoded.rgb, rgb, atol=1e-6)
    if has_alpha:
        assert decoded.alpha is not None and decoded.alpha.shape == (H, W)
        np.testing.assert_allclose(decoded.alpha, alpha, atol=1e-6)
    else:
        assert decoded.alpha is None


@pytest.mark.parametrize("encoding", sorted(FLOAT_LAYOUT) + list(YUV_ENCODINGS))
def test_encoded_step_is_tight(encoding: str) -> None:
    msg = encode_image(_smooth_rgb(H, W), None, encoding, None)
    raw = array_from_image(msg)
    channels = 1 if raw.ndim == 2 else raw.shape[2]
    expected_depth = 2 if encoding.endswith("16") or encoding == "16UC1" else 1
    assert raw.dtype.itemsize == expected_depth
    assert msg.step == W * channels * expected_depth
    assert len(msg.data) == H * msg.step


def test_header_is_copied_not_shared() -> None:
    header = _header()
    msg = encode_image(np.zeros((H, W, 3), np.float32), None, "rgb8", header)
    assert msg.header.frame_id == "cam_optical"
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 345)
    header.frame_id = "changed"
    assert msg.header.frame_id == "cam_optical"


def test_pure_red_is_red_in_rgb8_and_bgr8() -> None:
    rgb_msg = image_from_array(np.array([[[255, 0, 0]]], np.uint8), "rgb8")
    bgr_msg = image_from_array(np.array([[[0, 0, 255]]], np.uint8), "bgr8")
    for msg in (rgb_msg, bgr_msg):
        np.testing.assert_array_equal(decode_image(msg).rgb[0, 0], [1.0, 0.0, 0.0])


def test_bgr_output_stores_blue_first() -> None:
    red = np.zeros((2, 2, 3), np.float32)
    red[..., 0] = 1.0
    raw = array_from_image(encode_image(red, None, "bgr8", None))
    np.testing.assert_array_equal(raw[0, 0], [0, 0, 255])
    raw = array_from_image(encode_image(red, None, "bgra16", None))
    np.testing.assert_array_equal(raw[0, 0], [0, 0, 65535, 65535])  # opaque by default


def test_padded_step_ignores_garbage_in_padding() -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    step = W * 3 + 13
    padded = rng.integers(0, 256, size=(H, step), dtype=np.uint8)
    padded[:, : W * 3] = pixels.reshape(H, W * 3)

    msg = Image(height=H, width=W, encoding="rgb8", step=step, is_bigendian=0)
    msg.data = padded.tobytes()

    np.testing.assert_array_equal(array_from_image(msg), pixels)
    np.testing.assert_allclose(decode_image(msg).rgb, pixels / 255.0, atol=1e-6)


def test_padded_16_bit_rows() -> None:
    pixels = np.arange(H * W, dtype=np.uint16).reshape(H, W) * 97
    step = W * 2 + 6
    padded = np.full((H, step), 0xAB, dtype=np.uint8)
    padded[:, : W * 2] = pixels.astype("<u2").view(np.uint8).reshape(H, W * 2)
    msg = Image(height=H, width=W, encoding="mono16", step=step, is_bigendian=0)
    msg.data = padded.tobytes()
    np.testing.assert_array_equal(array_from_image(msg), pixels)


def test_big_endian_mono16() -> None:
    pixels = np.array([[1, 256, 65535], [4660, 0, 32768]], dtype=np.uint16)
    msg = Image(height=2, width=3, encoding="mono16", step=6, is_bigendian=1)
    msg.data = pixels.astype(">u2").tobytes()

    np.testing.assert_array_equal(array_from_image(msg), pixels)
    np.testing.assert_allclose(decode_image(msg).rgb[..., 0], pixels / 65535.0, atol=1e-7)

    # Re-encoding is always little-endian with the flag cleared.
    out = encode_image(decode_image(msg).rgb, None, "mono16", msg.header)
    assert out.is_bigendian == 0
    np.testing.assert_array_equal(array_from_image(out), pixels)


@pytest.mark.parametrize(
    "wrap",
    [bytes, bytearray, lambda b: array.array("B", b), list],
    ids=["bytes", "bytearray", "array", "list"],
)
def test_data_container_types(wrap) -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    msg = image_from_array(pixels, "rgb8")

    class Plain:  # a duck-typed message whose data field is not converted by rclpy
        height, width, step, encoding, is_bigendian = 2, 3, 9, "rgb8", 0
        data = wrap(bytes(msg.data))

    np.testing.assert_array_equal(array_from_image(Plain()), pixels)


@pytest.mark.parametrize("encoding", ["bayer_rggb8", "32FC1", "nv12", "RGB8"])
def test_unsupported_encoding_is_named(encoding: str) -> None:
    msg = Image(height=1, width=1, encoding=encoding, step=3)
    msg.data = bytes(4)
    with pytest.raises(UnsupportedEncodingError, match=repr(encoding)) as info:
        decode_image(msg)
    assert "rgb8" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bayer_error_suggests_debayering() -> None:
    msg = Image(height=2, width=2, encoding="bayer_rggb8", step=2)
    msg.data = bytes(4)
    with pytest.raises(UnsupportedEncodingError, match="debayer"):
        decode_image(msg)


def test_unsupported_encoding_on_encode() -> None:
    with pytest.raises(UnsupportedEncodingError, match="'bayer_bggr8'"):
        encode_image(np.zeros((2, 2, 3), np.float32), None, "bayer_bggr8", None)


def test_truncated_data_is_malformed() -> None:
    msg = Image(height=10, width=10, encoding="rgb8", step=30)
    msg.data = bytes(100)
    with pytest.raises(MalformedImageError, match="100 bytes.*height 10 x step 30 needs 300"):
        decode_image(msg)


def test_step_too_small_is_malformed() -> None:
    msg = Image(height=2, width=4, encoding="rgb16", step=20)
    msg.data = bytes(80)
    with pytest.raises(MalformedImageError, match="step 20"):
        decode_image(msg)


def test_zero_size_is_malformed() -> None:
    msg = Image(height=0, width=4, encoding="rgb8", step=12)
    with pytest.raises(MalformedImageError, match="positive"):
        decode_image(msg)


def test_odd_width_yuv_is_rejected_clearly() -> None:
    msg = Image(height=2, width=3, encoding="yuv422", step=6)
    msg.data = bytes(12)
    with pytest.raises(MalformedImageError, match="odd width 3"):
        decode_image(msg)


@pytest.mark.parametrize("encoding", YUV_ENCODINGS)
def test_yuv422_round_trip_on_smooth_image(encoding: str) -> None:
    rgb = _smooth_rgb(24, 32)
    msg = encode_image(rgb, None, encoding, _header())
    assert msg.encoding == encoding
    assert msg.step == 32 * 2
    decoded = decode_image(msg)
    assert decoded.rgb.shape == (24, 32, 3) and decoded.alpha is None
    error = np.abs(decoded.rgb - rgb)
    assert error.max() < 4 / 255
    assert error.mean() < 1.5 / 255


@pytest.mark.parametrize(
    ("encoding", "code"),
    [("yuv422", cv2.COLOR_YUV2RGB_UYVY), ("yuv422_yuy2", cv2.COLOR_YUV2RGB_YUY2)],
)
def test_yuv422_byte_order_matches_opencv(encoding: str, code: int) -> None:
    """Grey has neutral chroma (128), which pins down where Y and U/V bytes sit."""
    grey = np.full((2, 4, 3), 0.5, np.float32)
    raw = array_from_image(encode_image(grey, None, encoding, None)).reshape(-1)
    chroma_first = encoding == "yuv422"
    chroma = raw[0::2] if chroma_first else raw[1::2]
    assert np.all(np.abs(chroma.astype(int) - 128) <= 1)
    decoded = cv2.cvtColor(raw.reshape(2, 4, 2), code)
    assert np.all(np.abs(decoded.astype(int) - 128) <= 2)


@pytest.mark.skipif(
    not hasattr(cv2, "COLOR_RGB2YUV_UYVY"), reason="OpenCV too old for RGB2YUV_UYVY"
)
@pytest.mark.parametrize("encoding", ["yuv422", "yuv422_yuy2"])
def test_yuv422_encoder_agrees_with_opencv(encoding: str) -> None:
    rgb8 = np.rint(_smooth_rgb(8, 16) * 255).astype(np.uint8)
    code = cv2.COLOR_RGB2YUV_UYVY if encoding == "yuv422" else cv2.COLOR_RGB2YUV_YUY2
    ours = array_from_image(encode_image(rgb8 / np.float32(255), None, encoding, None))
    theirs = cv2.cvtColor(rgb8, code)
    assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_mono_and_colour_are_converted_when_encodings_differ() -> None:
    colour = np.zeros((2, 2, 3), np.float32)
    colour[...] = [1.0, 0.0, 0.0]
    mono = array_from_image(encode_image(colour, None, "mono8", None))
    assert mono.shape == (2, 2)
    assert mono[0, 0] == round(0.299 * 255)

    grey = np.full((2, 2), 0.5, np.float32)
    rgb = array_from_image(encode_image(grey, None, "rgb8", None))
    np.testing.assert_array_equal(rgb, np.full((2, 2, 3), 128, np.uint8))


def test_encode_clips_and_handles_nan() -> None:
    values = np.array([[[-0.5, 1.5, np.nan]]], np.float32)
    raw = array_from_image(encode_image(values, None, "rgb8", None))
    np.testing.assert_array_equal(raw[0, 0], [0, 255, 0])


def test_encode_rejects_mismatched_alpha() -> None:
    with pytest.raises(ValueError, match="alpha"):
        encode_image(np.zeros((2, 2, 3), np.float32), np.zeros((3, 3)), "rgba8", None)


def test_image_from_array_validates_dtype_and_shape() -> None:
    with pytest.raises(ValueError, match="uint16"):
        image_from_array(np.zeros((2, 2), np.uint8), "mono16")
    with pytest.raises(ValueError, match="HxWx3"):
        image_from_array(np.zeros((2, 2, 4), np.uint8), "rgb8")


def test_raw_arrays_round_trip() -> None:
    rng = np.random.default_rng(4)
    cases = {
        "rgb8": rng.integers(0, 256, (3, 5, 3), dtype=np.uint8),
        "mono8": rng.integers(0, 256, (3, 5), dtype=np.uint8),
        "bgra16": rng.integers(0, 65536, (3, 5, 4), dtype=np.uint16),
        "yuv422": rng.integers(0, 256, (3, 4, 2), dtype=np.uint8),
    }
    for encoding, arr in cases.items():
        msg = image_from_array(arr, encoding, _header())
        assert msg.header.frame_id == "cam_optical"
        np.testing.assert_array_equal(array_from_image(msg), arr)
