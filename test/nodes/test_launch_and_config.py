"""The launch file and parameter files name only things that exist, and the launch file runs.

The first tests read the launch file and the parameter files. The launch tests below
``colcon build`` the package into a temporary folder and run ``live.launch.py`` as
``ros2 launch deblur_ros live.launch.py ...`` would, in a subprocess, through
``ros2launch.api.launch_a_launch_file`` (see ``test/launch_support/run_launch.py``).

``launch``, ``launch_ros`` and ``ros2launch`` are not on PyPI: ``make test`` installs
them into ``.venv`` from ``../shared/vendor/ros2_launch`` (with ``colcon`` from the
package index). Where ``../shared`` is absent the launch tests skip, unless a ROS distro
provides ``launch_ros`` and ``colcon`` already.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "live.launch.py"
SCENE_LAUNCH = ROOT / "launch" / "scene.launch.py"
VENDOR = ROOT.parent / "shared" / "vendor" / "ros2_launch"
SUPPORT = ROOT / "test" / "launch_support"

pytestmark = pytest.mark.timeout(60)  # the launch tests below allow 90 s (colcon build)

def console_scripts() -> set[str]:
    text = (ROOT / "setup.py").read_text()
    return set(re.findall(r'"([\w-]+) = deblur_ros\.', text))


def launch_calls(path: Path = LAUNCH) -> list[dict]:
    tree = ast.parse(path.read_text())
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("Node",
                                                                          "LifecycleNode"):
            calls.append({kw.arg: kw.value for kw in node.keywords})
    return calls


@pytest.mark.parametrize("path,count", [(LAUNCH, 3), (SCENE_LAUNCH, 1)])
def test_launch_file_compiles_and_names_real_executables(path, count):
    compile(path.read_text(), str(path), "exec")
    calls = launch_calls(path)
    assert len(calls) == count
    for call in calls:
        assert ast.literal_eval(call["package"]) == "deblur_ros"
        assert ast.literal_eval(call["executable"]) in console_scripts()


@pytest.mark.parametrize("path", [LAUNCH, SCENE_LAUNCH])
def test_launch_file_names_existing_config_files(path):
    names = re.findall(r'"config", "([\w.]+)"', path.read_text())
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
    # the model the config names is a shipped one (models/ ships in the repository)
    model = resolve_model(params["model"], "cpu")
    assert model.is_file(), f"config/live.yaml model {params['model']!r} -> missing {model}"
    assert (ROOT / "models" / "strcnn-w16-m1.pt").is_file()


def test_scene_yaml_parameters_are_declared_by_the_node(ros):
    from deblur_ros.nodes.scene_node import SceneNode

    node_name, params = _yaml_params("scene.yaml")
    node = ros.add(SceneNode(node_name, context=ros.context))
    assert set(params) <= set(node._parameters), set(params) - set(node._parameters)
    for key, value in params.items():
        assert type(node.get_parameter(key).value) is type(value), key


def test_camera_yaml_parameters_are_declared_by_the_node(ros):
    from deblur_ros.nodes.camera_source import CameraSourceNode

    node_name, params = _yaml_params("camera_source.yaml")
    overrides = [Parameter(k, value=v) for k, v in params.items()]
    node = ros.add(CameraSourceNode(node_name, context=ros.context,
                                    parameter_overrides=overrides))
    assert set(params) <= set(node._parameters)


# --- running the launch file -------------------------------------------------------------

RELIABLE = QoSProfile(reliability=ReliabilityPolicy.RELIABLE,
                      history=HistoryPolicy.KEEP_LAST, depth=50)
BAD_OUTPUT = ("Traceback", "InvalidHandle", "RCLError")


def _launch_tools_missing() -> str | None:
    """Why the launch file cannot be run here, or None."""
    missing = [name for name in ("launch", "launch_ros", "ros2launch")
               if importlib.util.find_spec(name) is None]
    colcon = shutil.which("colcon", path=f"{Path(sys.executable).parent}{os.pathsep}"
                                        f"{os.environ.get('PATH', '')}")
    if colcon is None:
        missing.append("colcon")
    return f"not installed: {', '.join(missing)}" if missing else None


@pytest.fixture(scope="module")
def launch_env(tmp_path_factory):
    """``colcon build`` of the package into a temp folder; the environment of a shell
    that sourced its ``install/setup.bash`` (plus the venv prefix and the shim)."""
    why = _launch_tools_missing()
    if why and not VENDOR.is_dir():
        pytest.skip(f"{VENDOR} is absent and no ROS distro provides the launch tools ({why})")
    assert why is None, f"{why}: `make test` installs them from {VENDOR} (Makefile: test-deps)"
    work = tmp_path_factory.mktemp("colcon")
    colcon = shutil.which("colcon", path=f"{Path(sys.executable).parent}{os.pathsep}"
                                         f"{os.environ.get('PATH', '')}")
    build = subprocess.run(
        [colcon, "--log-base", str(work / "log"), "build", "--base-paths", str(ROOT),
         "--build-base", str(work / "build"), "--install-base", str(work / "install"),
         "--merge-install", "--packages-select", "deblur_ros"],
        cwd=work, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "Unknown distribution option" not in build.stdout + build.stderr
    install = work / "install"
    assert (install / "share" / "deblur_ros" / "launch" / "live.launch.py").is_file()
    assert (install / "share" / "deblur_ros" / "models" / "strcnn-w16-m1.pt").is_file()
    sourced = subprocess.run(
        ["bash", "-c", f'source "{install}/setup.bash" && env -0'],
        capture_output=True, timeout=30, check=True).stdout.decode()
    env = dict(line.split("=", 1) for line in sourced.split("\0") if "=" in line)
    # The venv prefix plays /opt/ros/<distro>: the ROS wheels' ament index lives there.
    env["AMENT_PREFIX_PATH"] = os.pathsep.join([env["AMENT_PREFIX_PATH"], sys.prefix])
    if importlib.util.find_spec("composition_interfaces") is None:
        env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT), env.get("PYTHONPATH", "")])
    env["ROS_LOG_DIR"] = str(work / "ros_log")
    # launch_ros writes each node's parameters to a temp file it never deletes: keep them
    # in the test's folder, not the machine's /tmp.
    (work / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(work / "tmp")
    env["PYTHONUNBUFFERED"] = "1"
    # conftest.py has put this run's private domain in os.environ; make sure it carries.
    for key in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE"):
        assert env.get(key) == os.environ[key], key
    return env


class Launch:
    """``ros2 launch deblur_ros live.launch.py ARGS`` in its own process group."""

    def __init__(self, env: dict, *arguments: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(SUPPORT / "run_launch.py"), "deblur_ros", "live.launch.py",
             *arguments],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def pids(self) -> dict[str, int]:
        """Launched processes by launch's name for them (live_node-1, camera_source-2)."""
        started = (re.search(r"\[INFO\] \[([\w-]+)\]: process started with pid \[(\d+)\]",
                             line) for line in list(self.lines))
        return {m[1]: int(m[2]) for m in started if m}

    def ctrl_c(self, timeout: float, group: bool = True) -> float:
        """SIGINT to the whole process group, as Ctrl-C in a terminal sends it (or to the
        launch process alone); seconds until the launch process exited (raises
        TimeoutExpired)."""
        start = time.monotonic()
        if group:
            os.killpg(self.proc.pid, signal.SIGINT)
        else:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return time.monotonic() - start

    def group_left(self) -> list[str]:
        """Processes still running in the launch's process group (zombies not counted)."""
        left = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            state, _ppid, pgid = text[text.rindex(")") + 2:].split()[:3]
            if int(pgid) == self.proc.pid and state != "Z":
                left.append(text[:text.rindex(")") + 1])
        return left

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ctrl_c(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.group_left():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


@pytest.fixture
def launch(launch_env):
    started: list[Launch] = []

    def start(*arguments: str) -> Launch:
        started.append(Launch(launch_env, *arguments))
        return started[-1]

    yield start
    for launched in started:
        launched.close()


def _stamp(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def _wait(ros, launched: Launch, predicate, timeout: float,
          what: str | Callable[[], str]) -> None:
    def ready():  # stop waiting as soon as the launch or one of its processes died
        return (launched.proc.poll() is not None or "process has died" in launched.output
                or predicate())
    ros.wait_for(ready, timeout)
    if not predicate():
        what = what() if callable(what) else what
        pytest.fail(f"{what} (launch exit code {launched.proc.poll()}):\n{launched.output}")


@pytest.mark.timeout(90)
def test_launch_with_synthetic_source_deblurs_with_the_input_stamps(ros, launch):
    inputs, outputs, infos = [], [], []
    peer = ros.node("launch_peer")
    peer.create_subscription(Image, "/camera/image_raw", inputs.append, RELIABLE)
    peer.create_subscription(Image, "/deblurred/image", outputs.append, RELIABLE)
    peer.create_subscription(CameraInfo, "/deblurred/camera_info", infos.append, RELIABLE)
    launched = launch("source:=synthetic")

    def compared() -> list[int]:
        """Output stamps since this subscriber's first input (the live node may have
        matched the camera a few frames before this process did)."""
        return [_stamp(m) for m in list(outputs) if inputs and _stamp(m) >= _stamp(inputs[0])]

    _wait(ros, launched, lambda: len(compared()) >= 4, 45,
          lambda: f"too few deblurred images: {len(inputs)} inputs and {len(outputs)} outputs "
                  f"seen, {len(compared())} outputs since the first input")
    out = compared()
    assert ros.wait_for(lambda: out[-1] in {_stamp(m) for m in list(inputs)}, 5)
    seen = {_stamp(m) for m in list(inputs)}
    assert set(out) <= seen, f"output stamps {out} not among the inputs' {sorted(seen)}"
    every = [_stamp(m) for m in list(outputs)]
    assert every == sorted(set(every)), "output stamps out of order or repeated"
    first = outputs[0]
    assert (first.width, first.height, first.header.frame_id) == (640, 480, "camera")
    assert ros.wait_for(lambda: any(_stamp(i) == _stamp(first) for i in infos) or
                        len(infos) >= 5, 10)
    assert {_stamp(i) for i in infos} & {_stamp(m) for m in outputs}
    assert set(launched.pids()) == {"live_node-1", "camera_source-2"}, launched.output


@pytest.mark.timeout(90)
def test_launch_with_remapped_camera_topic(ros, launch):
    import numpy as np

    from deblur_ros.adapters.image_msg import image_from_array

    outputs = []
    peer = ros.node("launch_camera")
    camera = peer.create_publisher(Image, "/my_cam/image_raw", RELIABLE)
    default = peer.create_publisher(Image, "/camera/image_raw", RELIABLE)
    peer.create_subscription(Image, "/my_cam/deblurred", outputs.append, RELIABLE)
    launched = launch("image:=/my_cam/image_raw", "camera_info:=/my_cam/camera_info",
                      "output_image:=/my_cam/deblurred",
                      "output_camera_info:=/my_cam/deblurred_info")
    _wait(ros, launched, lambda: camera.get_subscription_count() >= 1, 45,
          "the live node never subscribed to the remapped topic /my_cam/image_raw")
    assert default.get_subscription_count() == 0, "still subscribed to /camera/image_raw"
    rng = np.random.default_rng(0)
    sent = []
    for i in range(40):
        msg = image_from_array(rng.integers(0, 255, (96, 128, 3), np.uint8), "rgb8")
        msg.header.stamp.sec, msg.header.stamp.nanosec = 1000 + i, 7
        msg.header.frame_id = "my_cam"
        camera.publish(msg)
        sent.append(_stamp(msg))
        if len(outputs) >= 5:
            break
        time.sleep(0.25)
    _wait(ros, launched, lambda: len(outputs) >= 5, 20,
          "no deblurred images from the remapped camera topic")
    assert all(_stamp(m) in sent for m in outputs)
    assert [_stamp(m) for m in outputs] == sorted(_stamp(m) for m in outputs)
    assert all(m.header.frame_id == "my_cam" and (m.width, m.height) == (128, 96)
               for m in outputs)
    assert set(launched.pids()) == {"live_node-1"}, "source:= empty must start no camera"


@pytest.mark.timeout(90)
def test_launch_takes_an_integer_rate(ros, launch):
    """``rate:=5`` arrives as an INTEGER launch argument; camera_source declares a double."""
    inputs = []
    peer = ros.node("launch_rate")
    peer.create_subscription(Image, "/camera/image_raw", inputs.append, RELIABLE)
    launched = launch("source:=synthetic", "rate:=5")
    _wait(ros, launched, lambda: len(inputs) >= 10, 45,
          "camera_source published nothing with rate:=5")
    assert "InvalidParameterTypeException" not in launched.output, launched.output
    assert len(inputs) >= 10, launched.output
    stamps = [_stamp(m) for m in inputs]
    rate = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e9)
    assert 3 < rate < 7.5, f"{rate:.1f} Hz with rate:=5 (the default is 10)"


@pytest.mark.timeout(90)
def test_launch_takes_a_camera_index_source(ros, launch):
    """``source:=0`` (a V4L2 camera index) arrives as an INTEGER; the node wants a string.
    Without a camera camera_source stops with its own one-line error, not a type error."""
    launched = launch("source:=0")
    pattern = r"\[camera_source-2\]: process has|\[camera_source\]: publishing"
    _wait(ros, launched, lambda: re.search(pattern, launched.output), 45,
          "camera_source neither opened camera 0 nor gave up on it")
    for bad in ("InvalidParameterTypeException", "Traceback"):
        assert bad not in launched.output, launched.output
    assert ("camera '0'" in launched.output
            or "[camera_source]: publishing" in launched.output), launched.output


@pytest.mark.timeout(90)
@pytest.mark.parametrize("to", ["group", "launch"])
def test_launch_stops_cleanly_on_ctrl_c(ros, launch, to):
    """Ctrl-C in a terminal signals the whole group (each node gets the terminal's SIGINT
    and then launch's); ``kill -INT`` of the launch process leaves the forwarding to it."""
    outputs = []
    peer = ros.node("launch_ctrl_c")
    peer.create_subscription(Image, "/deblurred/image", outputs.append, RELIABLE)
    launched = launch("source:=synthetic")
    _wait(ros, launched, lambda: len(outputs) >= 2, 45, "no deblurred images before Ctrl-C")
    pids = launched.pids()
    assert set(pids) == {"live_node-1", "camera_source-2"}, launched.output
    seconds = launched.ctrl_c(timeout=15, group=to == "group")
    output = launched.output
    assert seconds < 5, f"launch took {seconds:.1f} s to exit after SIGINT:\n{output}"
    left = launched.group_left()
    assert not left, f"processes left after launch exited: {left}\n{output}"
    for bad in BAD_OUTPUT:
        assert bad not in output, f"{bad!r} in the output after Ctrl-C:\n{output}"
    for name, pid in pids.items():
        assert f"[{name}]: process has finished cleanly [pid {pid}]" in output, (
            f"{name} did not exit cleanly on SIGINT:\n{output}")
    assert "SIGTERM" not in output and "SIGKILL" not in output, output


@pytest.mark.timeout(90)
def test_launch_description_builds(launch_env, monkeypatch):
    """The description builds in-process too (what ``ros2 launch --show-args`` reads)."""
    if importlib.util.find_spec("composition_interfaces") is None:
        monkeypatch.syspath_prepend(str(SUPPORT))
    from launch import LaunchDescription

    spec = importlib.util.spec_from_file_location("live_launch", LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    names = {arg.name for arg in description.get_launch_arguments()}
    assert {"image", "camera_info", "output_image", "output_camera_info", "params_file",
            "autostart", "source", "rate"} <= names


@pytest.mark.timeout(120)
def test_launch_with_the_scene_sidecar_selects_frames_and_stops_cleanly(ros, launch, tmp_path):
    """``scene:=true`` starts the sidecar beside the live node on the camera topic; it
    reports frames on /scene/status and all three processes exit cleanly on Ctrl-C."""
    import json

    from std_msgs.msg import String

    status = []
    peer = ros.node("launch_scene")
    peer.create_subscription(String, "/scene/status",
                             lambda m: status.append(json.loads(m.data)), 10)
    params = tmp_path / "scene.yaml"
    _, body = _yaml_params("scene.yaml")
    body |= {"model_dir": str(tmp_path / "models"), "spool_dir": str(tmp_path / "spool"),
             "fit_after": 0}
    params.write_text(yaml.safe_dump({"deblur_scene": {"ros__parameters": body}}))
    launched = launch("source:=synthetic", "scene:=true")
    _wait(ros, launched, lambda: status and status[-1]["frames_received"] >= 5, 60,
          "no frames counted on /scene/status")
    assert status[-1]["state"] == "active" and status[-1]["frames_spooled"] >= 5
    pids = launched.pids()
    assert set(pids) == {"live_node-1", "camera_source-2", "scene_node-3"}, launched.output
    seconds = launched.ctrl_c(timeout=15)
    output = launched.output
    assert seconds < 10, output
    assert not launched.group_left(), output
    for name, pid in pids.items():
        assert f"[{name}]: process has finished cleanly [pid {pid}]" in output, output
