"""The layering the package promises: the core and the pixel code never load ROS, so a
bag job or a training run works where rclpy is absent."""

from __future__ import annotations

import subprocess
import sys

import pytest

ROS_MODULES = ("rclpy", "sensor_msgs", "std_msgs", "rosidl_runtime_py")


@pytest.mark.parametrize("module", [
    "deblur_ros.adapters.pixels",
    "deblur_ros.adapters.frame_sources",
    "deblur_ros.core.inference.streaming",
    "deblur_ros.core.training.live_trainer",
    "deblur_ros.core.scoring.validation",
    "deblur_ros.cli.eval",
    "deblur_ros.adapters.bags",
    "deblur_ros.jobs.bag_deblur",
    "deblur_ros.cli.bag",
])
def test_module_loads_no_ros(module):
    code = (f"import sys, {module}\n"
            f"loaded = [m for m in {ROS_MODULES!r} if m in sys.modules]\n"
            "print(loaded)\nsys.exit(1 if loaded else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{module} loaded {done.stdout.strip()} {done.stderr[-300:]}"


def test_pixels_decode_any_object_with_the_image_fields():
    """rosbags messages are not rclpy ones: decoding goes by field names alone."""
    from types import SimpleNamespace

    import numpy as np

    from deblur_ros.adapters.pixels import decode_image, encode_pixels

    rgb = np.random.default_rng(0).random((4, 6, 3), dtype=np.float32)
    packed = encode_pixels(rgb, None, "bgr8")
    plain = SimpleNamespace(**vars(packed))
    back = decode_image(plain)
    assert back.encoding == "bgr8"
    np.testing.assert_allclose(back.rgb, rgb, atol=0.5 / 255 + 1e-6)
