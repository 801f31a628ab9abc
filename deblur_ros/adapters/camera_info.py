"""CameraInfo for sources that have none, and from calibration YAML files.

Downstream consumers (rectification, rviz camera displays, image_proc) drop
or misrender images whose CameraInfo is all zeros, so a video file or a
synthetic stream still publishes a plausible pinhole model.  Real cameras
should load the YAML written by the camera_calibration package instead.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import yaml
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from deblur_ros.adapters.image_msg import copy_header

__all__ = ["default_camera_info", "load_camera_info_yaml"]

_IDENTITY_3X3 = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]


def default_camera_info(
    width: int, height: int, header: Header | None = None, hfov_deg: float = 70.0
) -> CameraInfo:
    """An undistorted pinhole model with the given horizontal field of view.

    70 degrees is typical of webcams and action cameras, the usual sources
    of uncalibrated video.  Pixels are assumed square and the principal point
    is the image centre in the convention where pixel centres sit on integer
    coordinates, i.e. ((width - 1) / 2, (height - 1) / 2).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"camera size must be positive, got {width}x{height}")
    if not 0.0 < hfov_deg < 180.0:
        raise ValueError(f"hfov_deg must be in (0, 180) degrees, got {hfov_deg}")
    fx = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    fy = fx
    cx = (width - 1) / 2.0
    cy = (height - 1) / 2.0
    info = CameraInfo()
    info.header = copy_header(header)
    info.width = int(width)
    info.height = int(height)
    info.distortion_model = "plumb_bob"
    info.d = [0.0] * 5
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.r = list(_IDENTITY_3X3)
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def _require(doc: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in doc:
        raise ValueError(
            f"camera info file {path!r} has no {key!r} key; expected the camera_calibration "
            "YAML format (image_width, image_height, camera_matrix, distortion_model, "
            "distortion_coefficients, optionally rectification_matrix and "
            "projection_matrix)"
        )
    return doc[key]


def _positive_int(doc: Mapping[str, Any], key: str, path: str) -> int:
    value = _require(doc, key, path)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"camera info file {path!r}: {key!r} must be a positive integer, got {value!r}"
        )
    return value


def _matrix(
    doc: Mapping[str, Any], key: str, path: str, shape: tuple[int, int] | None
) -> list[float]:
    """Read a {rows, cols, data} block, checking it has the size ROS expects."""
    block = _require(doc, key, path)
    if not isinstance(block, Mapping) or "data" not in block:
        raise ValueError(
            f"camera info file {path!r}: {key!r} must be a mapping with rows, cols and data"
        )
    try:
        data = [float(x) for x in block["data"]]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"camera info file {path!r}: {key!r} data is not numeric") from exc
    rows, cols = block.get("rows"), block.get("cols")
    if rows is not None and cols is not None and int(rows) * int(cols) != len(data):
        raise ValueError(
            f"camera info file {path!r}: {key!r} says {rows}x{cols} but has {len(data)} values"
        )
    if shape is not None and len(data) != shape[0] * shape[1]:
        raise ValueError(
            f"camera info file {path!r}: {key!r} must be {shape[0]}x{shape[1]}, got "
            f"{len(data)} values"
        )
    return data


def load_camera_info_yaml(path: str | os.PathLike[str]) -> CameraInfo:
    """Read the YAML written by camera_calibration / camera_info_manager.

    Every failure is a ValueError naming the file, so a launch-file typo
    surfaces as one readable line instead of a KeyError deep in a node.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
    except OSError as exc:
        raise ValueError(f"cannot read camera info file {path!r}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"camera info file {path!r} is not valid YAML: {exc}") from exc
    if not isinstance(doc, Mapping):
        # ValueError, not TypeError: callers handle every kind of bad file alike.
        raise ValueError(  # noqa: TRY004
            f"camera info file {path!r} does not contain a YAML mapping; expected the "
            "camera_calibration format"
        )
    info = CameraInfo()
    info.width = _positive_int(doc, "image_width", path)
    info.height = _positive_int(doc, "image_height", path)
    k = _matrix(doc, "camera_matrix", path, (3, 3))
    info.k = k
    info.distortion_model = str(_require(doc, "distortion_model", path))
    info.d = _matrix(doc, "distortion_coefficients", path, None)
    # A monocular calibration's R is identity and P is [K | 0]; hand-written
    # files often leave them out, so derive them rather than refuse the file.
    info.r = (
        _matrix(doc, "rectification_matrix", path, (3, 3))
        if "rectification_matrix" in doc
        else list(_IDENTITY_3X3)
    )
    info.p = (
        _matrix(doc, "projection_matrix", path, (3, 4))
        if "projection_matrix" in doc
        else k[0:3] + [0.0] + k[3:6] + [0.0] + k[6:9] + [0.0]
    )
    return info
