"""Default and YAML-loaded CameraInfo."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from std_msgs.msg import Header

from deblur_ros.adapters.camera_info import default_camera_info, load_camera_info_yaml

# The layout camera_calibration's cameracalibrator writes (ost.yaml).
CALIBRATION_YAML = """\
image_width: 1280
image_height: 720
camera_name: front_camera
camera_matrix:
  rows: 3
  cols: 3
  data: [912.5, 0, 640.2, 0, 910.1, 361.7, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [-0.31, 0.09, 0.0004, -0.0002, 0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]
projection_matrix:
  rows: 3
  cols: 4
  data: [850.0, 0, 641.0, 0, 0, 880.0, 360.0, 0, 0, 0, 1, 0]
"""


def test_default_intrinsics_match_size_and_fov() -> None:
    info = default_camera_info(640, 480, hfov_deg=90.0)
    k = np.asarray(info.k).reshape(3, 3)
    assert (info.width, info.height) == (640, 480)
    assert k[0, 0] == pytest.approx(320.0)  # tan(45 deg) = 1, so fx = width / 2
    assert k[1, 1] == pytest.approx(k[0, 0])
    assert k[0, 2] == pytest.approx(319.5)
    assert k[1, 2] == pytest.approx(239.5)
    assert k[2].tolist() == [0.0, 0.0, 1.0]
    # A 70 degree default: half the width subtends 35 degrees.
    default = default_camera_info(640, 480)
    assert 320.0 / default.k[0] == pytest.approx(math.tan(math.radians(35.0)))


def test_default_info_is_a_consistent_plumb_bob_model() -> None:
    info = default_camera_info(1280, 720)
    assert info.distortion_model == "plumb_bob"
    assert list(info.d) == [0.0] * 5
    np.testing.assert_array_equal(np.asarray(info.r).reshape(3, 3), np.eye(3))
    p = np.asarray(info.p).reshape(3, 4)
    np.testing.assert_array_equal(p[:, :3], np.asarray(info.k).reshape(3, 3))
    np.testing.assert_array_equal(p[:, 3], 0.0)
    narrow = default_camera_info(1280, 720, hfov_deg=40.0)
    assert narrow.k[0] > info.k[0]  # narrower view -> longer focal length


def test_default_info_copies_header() -> None:
    header = Header(frame_id="camera_optical")
    header.stamp.sec = 7
    info = default_camera_info(32, 24, header=header)
    assert info.header.frame_id == "camera_optical"
    assert info.header.stamp.sec == 7


@pytest.mark.parametrize(
    ("args", "match"), [((0, 10), "positive"), ((10, 10, None, 180.0), "hfov")]
)
def test_default_info_rejects_nonsense(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        default_camera_info(*args)


def test_yaml_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ost.yaml"
    path.write_text(CALIBRATION_YAML)
    info = load_camera_info_yaml(path)
    assert (info.width, info.height) == (1280, 720)
    assert info.distortion_model == "plumb_bob"
    np.testing.assert_allclose(info.k, [912.5, 0, 640.2, 0, 910.1, 361.7, 0, 0, 1])
    np.testing.assert_allclose(info.d, [-0.31, 0.09, 0.0004, -0.0002, 0])
    np.testing.assert_allclose(info.r, np.eye(3).ravel())
    np.testing.assert_allclose(info.p, [850.0, 0, 641.0, 0, 0, 880.0, 360.0, 0, 0, 0, 1, 0])


def test_yaml_written_from_default_info_loads_back(tmp_path: Path) -> None:
    """A file produced the way camera_info_manager writes one reproduces the message."""
    original = default_camera_info(800, 600, hfov_deg=60.0)

    def block(rows: int, cols: int, data) -> str:
        values = ", ".join(repr(float(v)) for v in data)
        return f"  rows: {rows}\n  cols: {cols}\n  data: [{values}]\n"

    text = (
        f"image_width: {original.width}\nimage_height: {original.height}\n"
        "camera_name: default\n"
        f"camera_matrix:\n{block(3, 3, original.k)}"
        f"distortion_model: {original.distortion_model}\n"
        f"distortion_coefficients:\n{block(1, 5, original.d)}"
        f"rectification_matrix:\n{block(3, 3, original.r)}"
        f"projection_matrix:\n{block(3, 4, original.p)}"
    )
    path = tmp_path / "default.yaml"
    path.write_text(text)
    loaded = load_camera_info_yaml(str(path))
    assert (loaded.width, loaded.height) == (original.width, original.height)
    for field in ("k", "d", "r", "p"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(original, field))


def test_optional_rectification_and_projection_are_derived(tmp_path: Path) -> None:
    text = CALIBRATION_YAML.split("rectification_matrix:")[0]
    path = tmp_path / "mono.yaml"
    path.write_text(text)
    info = load_camera_info_yaml(path)
    np.testing.assert_array_equal(info.r, np.eye(3).ravel())
    p = np.asarray(info.p).reshape(3, 4)
    np.testing.assert_array_equal(p[:, :3], np.asarray(info.k).reshape(3, 3))


@pytest.mark.parametrize("key", ["image_width", "camera_matrix", "distortion_coefficients"])
def test_missing_key_names_file_and_key(tmp_path: Path, key: str) -> None:
    lines = CALIBRATION_YAML.splitlines()
    start = lines.index(f"{key}:") if f"{key}:" in lines else None
    if start is None:  # a scalar key on a single line
        kept = [line for line in lines if not line.startswith(f"{key}:")]
    else:  # a block key followed by indented lines
        end = start + 1
        while end < len(lines) and lines[end].startswith("  "):
            end += 1
        kept = lines[:start] + lines[end:]
    path = tmp_path / "broken.yaml"
    path.write_text("\n".join(kept) + "\n")
    with pytest.raises(ValueError, match=key) as info:
        load_camera_info_yaml(path)
    assert str(path) in str(info.value)


def test_wrong_matrix_size_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CALIBRATION_YAML.replace("data: [912.5, 0, 640.2, 0,", "data: [912.5,"))
    with pytest.raises(ValueError, match="camera_matrix"):
        load_camera_info_yaml(path)


@pytest.mark.parametrize(
    ("content", "match"), [("[1, 2, 3]\n", "mapping"), ("a: [unclosed\n", "not valid YAML")]
)
def test_non_calibration_files_are_rejected(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        load_camera_info_yaml(path)


def test_missing_file_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ValueError, match="nope.yaml"):
        load_camera_info_yaml(path)
