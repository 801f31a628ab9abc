"""ament_python package that also installs with pip outside a ROS install."""

from glob import glob

from setuptools import find_packages, setup

package_name = "deblur_ros"

ros_wheels = [
    "ros-rclpy[fastrtps]",
    "ros-sensor-msgs",
    "ros-std-msgs",
    "ros-std-srvs",
    "ros-lifecycle-msgs",
    "ros-diagnostic-msgs",
]

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml") + glob("config/*.xml")),
        ("share/" + package_name + "/models", glob("models/*.pt") + glob("models/*.md")),
    ],
    install_requires=[
        "numpy>=1.24",
        "opencv-python-headless>=4.8",
        "torch>=2.1",
        "rosbags>=0.11",
        "tqdm>=4.60",
        "PyYAML>=6",
        "setuptools",
    ],
    extras_require={
        "ros": ros_wheels,
        # mcap: the bag tests check outputs with the MCAP project's own reader.
        "test": ["pytest>=7", "pytest-timeout>=2", "ruff>=0.5", "mcap>=1.1"],
        # Fast CPU inference (deblur_ros.core.inference.runners); both export through ONNX.
        "openvino": ["openvino>=2024.0", "onnx>=1.15"],
        "onnx": ["onnxruntime>=1.17", "onnx>=1.15"],
        # deblur-ros fleet: bags on a local Ray instance or a cluster.
        "fleet": ["ray>=2.9"],
    },
    zip_safe=True,
    maintainer="deblur_ros developers",
    maintainer_email="deblur-ros@example.org",
    description="Online video deblurring (STRCNN+DTB) for ROS 2 camera streams.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "live_node = deblur_ros.nodes.live_node:main",
            "camera_source = deblur_ros.nodes.camera_source:main",
            "scene_node = deblur_ros.nodes.scene_node:main",
            "deblur-ros = deblur_ros.cli.main:main",
        ],
    },
)
