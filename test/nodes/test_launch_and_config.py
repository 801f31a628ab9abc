"""The launch file and parameter files name only things that exist.

``launch_ros`` is not installable from PyPI, so the launch file is compiled and
read here; with a ROS distro install the last test also builds its description.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from rclpy.parameter import Parameter

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "live.launch.py"


def console_scripts() -> set[str]:
    text = (ROOT / "setup.py").read_text()
    return set(re.findall(r'"([\w-]+) = deblur_ros\.', text))


def launch_calls() -> list[dict]:
    tree = ast.parse(LAUNCH.read_text())
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("Node",
                                                                          "LifecycleNode"):
            calls.append({kw.arg: kw.value for kw in node.keywords})
    return calls


def test_launch_file_compiles_and_names_real_executables():
    compile(LAUNCH.read_text(), str(LAUNCH), "exec")
    calls = launch_calls()
    assert len(calls) == 2
    for call in calls:
        assert ast.literal_eval(call["package"]) == "deblur_ros"
        assert ast.literal_eval(call["executable"]) in console_scripts()


def test_launch_file_names_existing_config_files():
    names = re.findall(r'"config", "([\w.]+)"', LAUNCH.read_text())
    assert names, "no config file referenced"
    for name in names:
        assert (ROOT / "config" / name).is_file(), name
    setup = (ROOT / "setup.py").read_text()
    assert 'glob("config/*.yaml")' in setup and 'glob("launch/*.launch.py")' in setup


def test_launch_remaps_the_node_topics():
    text = LAUNCH.read_text()
    for topic in ("image", "camera_info", "deblurred/image", "deblurred/camera_info"):
        assert f'("{topic}", ' in text


def _yaml_params(name: str) -> tuple[str, dict]:
    doc = yaml.safe_load((ROOT / "config" / name).read_text())
    ((node_name, body),) = doc.items()
    return node_name, body["ros__parameters"]


def test_live_yaml_parameters_are_declared_by_the_node(ros, identity_model):
    from deblur_ros.core.models.checkpoint import resolve_model
    from deblur_ros.nodes.live_node import LiveDeblurNode

    node_name, params = _yaml_params("live.yaml")
    node = ros.add(LiveDeblurNode(node_name, context=ros.context))
    assert set(params) <= set(node._parameters), set(params) - set(node._parameters)
    for key, value in params.items():
        assert type(node.get_parameter(key).value) is type(value), key
    # the model the config names is a shipped one
    assert resolve_model(params["model"]).is_file() or pytest.skip(
        "shipped model not built yet")


def test_camera_yaml_parameters_are_declared_by_the_node(ros):
    from deblur_ros.nodes.camera_source import CameraSourceNode

    node_name, params = _yaml_params("camera_source.yaml")
    overrides = [Parameter(k, value=v) for k, v in params.items()]
    node = ros.add(CameraSourceNode(node_name, context=ros.context,
                                    parameter_overrides=overrides))
    assert set(params) <= set(node._parameters)


def test_launch_description_builds_on_a_ros_install():
    pytest.importorskip("launch_ros", reason="launch_ros needs a ROS distro install")
    import importlib.util

    spec = importlib.util.spec_from_file_location("live_launch", LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.generate_launch_description().entities
