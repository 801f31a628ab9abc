"""The scene sidecar over real DDS, in-process: selection, caps, fit triggers, republishing
with the original headers, saved models loaded back, bad models refused."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from deblur_ros.adapters.image_msg import image_from_array
from deblur_ros.core.models.checkpoint import SCENE_ARCHITECTURE, load_model
from deblur_ros.core.sharpness import variance_of_laplacian
from deblur_ros.nodes.scene_node import SceneNode

pytestmark = pytest.mark.timeout(180)
RELIABLE = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)


def make_scene(ros, tmp_path, name="deblur_scene", **params):
    defaults = {"model_dir": str(tmp_path / "models"), "load_model": "none", "window": 5,
                "fit_after": 0, "fit_iterations": 4, "fit_seconds": 120.0,
                "scene_init": "random", "spool_dir": str(tmp_path / "spool"),
                "diagnostics_period": 0.2}
    overrides = [Parameter(k, value=v) for k, v in (defaults | params).items()]
    return ros.add(SceneNode(name, context=ros.context,
                             parameter_overrides=overrides))


def drive_frame(i: int, size=(48, 64)) -> np.ndarray:
    """A textured scene panning slowly; every 5th frame sharp, the others blurred."""
    rng = np.random.default_rng(7)
    big = cv2.resize(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (size[1] + 40,
                     size[0]), interpolation=cv2.INTER_NEAREST)
    frame = np.ascontiguousarray(big[:, i % 40:i % 40 + size[1]])
    if i % 5 != 2:
        frame = cv2.blur(frame, (7, 1))
    return frame


class SceneClient:
    def __init__(self, ros):
        self.ros = ros
        self.node = ros.node("scene_test_client")
        self.outputs: list[Image] = []
        self.infos: list[CameraInfo] = []
        self.status: list[dict] = []
        self.image_pub = self.node.create_publisher(Image, "image", RELIABLE)
        self.info_pub = self.node.create_publisher(CameraInfo, "camera_info", RELIABLE)
        self.out_sub = self.node.create_subscription(Image, "scene/image",
                                                     self.outputs.append, RELIABLE)
        self.node.create_subscription(CameraInfo, "scene/camera_info", self.infos.append,
                                      RELIABLE)
        self.node.create_subscription(String, "scene/status",
                                      lambda m: self.status.append(json.loads(m.data)), 10)
        self.change = self.node.create_client(ChangeState, "/deblur_scene/change_state")
        self.fit = self.node.create_client(Trigger, "/deblur_scene/fit")
        assert self.change.wait_for_service(timeout_sec=10)

    def call(self, client, request):
        future = client.call_async(request)
        assert self.ros.wait_for(future.done, timeout=60), "service call timed out"
        return future.result()

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request()
        request.transition.id = transition_id
        return self.call(self.change, request).success

    def start(self) -> None:
        assert self.transition(Transition.TRANSITION_CONFIGURE)
        assert self.transition(Transition.TRANSITION_ACTIVATE)
        assert self.ros.wait_for(lambda: self.image_pub.get_subscription_count() > 0
                                 and self.out_sub.get_publisher_count() > 0), "not connected"

    def publish(self, i: int) -> None:
        msg = image_from_array(drive_frame(i), "rgb8")
        msg.header.stamp.sec, msg.header.stamp.nanosec = 1000 + i, 123
        msg.header.frame_id = "dashcam"
        info = CameraInfo(header=msg.header, width=64, height=48)
        self.info_pub.publish(info)
        self.image_pub.publish(msg)
        time.sleep(0.01)  # a camera's pace, not a burst past the node's queue


def test_fit_on_trigger_saves_the_model_and_republishes_the_drive_with_its_headers(
        ros, tmp_path):
    node = make_scene(ros, tmp_path)
    client = SceneClient(ros)
    client.start()
    for i in range(20):
        client.publish(i)
    assert ros.wait_for(lambda: node.frames_received == 20), node.status()
    assert len(node.selected) == 4  # windows of 5 -> the sharp frame of each
    assert [s.index for s in node.selected.frames] == [2, 7, 12, 17]
    assert client.outputs == []  # nothing to deblur with before the first fit

    answer = client.call(client.fit, Trigger.Request())
    assert answer.success, answer.message
    assert not client.call(client.fit, Trigger.Request()).success  # one fit at a time
    assert ros.wait_for(lambda: len(client.outputs) >= 20, timeout=90), node.status()
    stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in client.outputs]
    assert stamps == [(1000 + i, 123) for i in range(20)]
    assert {m.header.frame_id for m in client.outputs} == {"dashcam"}
    assert all((m.width, m.height, m.encoding) == (64, 48, "rgb8") for m in client.outputs)
    assert ros.wait_for(lambda: len(client.infos) >= 20)
    assert client.infos[0].header.stamp.sec == 1000

    (saved,) = (tmp_path / "models").glob("scene-*.pt")
    model, meta = load_model(saved, architecture=SCENE_ARCHITECTURE)
    assert meta["iterations"] == 4 and meta["reason"] == "~/fit service"
    assert [f["index"] for f in meta["frames"]] == [2, 7, 12, 17]
    assert ros.wait_for(lambda: client.status and client.status[-1]["fits_done"] == 1)
    assert client.status[-1]["frames_selected"] == 4

    client.publish(30)  # a new frame is deblurred by the fitted model on the same topic
    assert ros.wait_for(lambda: client.outputs[-1].header.stamp.sec == 1030), node.status()


def test_fit_after_n_selected_frames_and_next_drive_loads_the_saved_model(ros, tmp_path):
    node = make_scene(ros, tmp_path, fit_after=2, load_model="latest")
    client = SceneClient(ros)
    client.start()
    assert node.model_path is None  # the folder is empty: nothing to load
    for i in range(10):
        client.publish(i)
    assert ros.wait_for(lambda: node.fits_done == 1, timeout=90), node.status()
    assert client.transition(Transition.TRANSITION_DEACTIVATE)
    assert client.transition(Transition.TRANSITION_CLEANUP)
    assert client.transition(Transition.TRANSITION_CONFIGURE)
    (saved,) = (tmp_path / "models").glob("scene-*.pt")
    assert node.model_path == saved and node.deblurrer is not None


def test_deactivate_fits_the_frames_selected_since_the_last_fit(ros, tmp_path):
    node = make_scene(ros, tmp_path, spool=False)
    client = SceneClient(ros)
    client.start()
    for i in range(7):  # one full window and a partial one
        client.publish(i)
    assert ros.wait_for(lambda: node.frames_received == 7)
    assert client.transition(Transition.TRANSITION_DEACTIVATE)
    assert node.fit is not None or node.fits_done == 1
    assert ros.wait_for(lambda: node.fits_done == 1, timeout=90), node.status()
    _, meta = load_model(node.model_path, architecture=SCENE_ARCHITECTURE)
    assert meta["reason"] == "deactivate" and len(meta["frames"]) == 2


def test_caps_hold_over_a_long_stream(ros, tmp_path):
    """10,000 frames straight into the node's callback (DDS is not what is tested here):
    the selected set and the spool never exceed their caps, and a full spool is counted."""
    frame_mb = 48 * 64 * 3 / 2**20
    node = make_scene(ros, tmp_path, window=20, max_selected=6,
                      max_selected_mb=4.5 * frame_mb, spool_max_mb=0.5, fit_after=0,
                      fit_on_deactivate=False)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    frames = [drive_frame(i) for i in range(40)]
    rng = np.random.default_rng(0)
    for i in range(10_000):
        msg = image_from_array(frames[i % 40], "rgb8")
        msg.header.stamp.sec = i
        if i % 20 == int(rng.integers(20)):  # now and then a frame much sharper than all
            msg = image_from_array(np.ascontiguousarray(
                rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)), "rgb8")
        node._on_image(msg)
        if i % 1000 == 999:
            assert len(node.selected) <= 4 and node.selected.nbytes <= 4.5 * frame_mb * 2**20
            assert node.spool.nbytes <= 0.5 * 2**20
    status = node.status()
    assert status["frames_received"] == 10_000
    assert status["frames_selected"] == 4 and status["spool_refused"] > 9000, (
        status["frames_selected"], node.selected.added, node.selector.duplicates_skipped)
    assert status["frames_spooled"] + status["spool_refused"] == 10_000
    # The kept frames are the sharpest offered, not the last ones.
    drive_best = max(variance_of_laplacian(f) for f in frames)
    assert min(s.score for s in node.selected.frames) > drive_best


def test_a_corrupt_or_mismatched_scene_model_is_refused(ros, tmp_path, identity_model):
    corrupt = tmp_path / "scene-broken.pt"
    corrupt.write_bytes(b"not a checkpoint")
    node = make_scene(ros, tmp_path, load_model=str(corrupt))
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert "scene-broken.pt" in node.last_error and "\n" not in node.last_error
    live = make_scene(ros, tmp_path, name="scene_live", load_model=str(identity_model))
    assert live.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert "unet" in live.last_error and "strcnn" in live.last_error.lower(), live.last_error
