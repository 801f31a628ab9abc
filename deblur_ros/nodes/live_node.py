"""Lifecycle node that deblurs a camera stream with the live model (STRCNN+DTB).

Subscribes ``image`` (depth 1, reliability matched to the camera) and
``camera_info``; publishes ``deblurred/image`` with the
input's header unchanged and ``deblurred/camera_info`` (the latest CameraInfo with
the output's header), so a SLAM front end takes the output by remapping one topic.

The subscription keeps only the newest frame in a one-slot mailbox that a worker
thread drains (``deblur_ros.nodes.worker``): a model slower than the camera drops
(and counts) frames instead of building a queue, so latency stays bounded and memory
flat.

Every model call, the deactivate flush included, runs on that one worker thread,
which lives from configure to cleanup: PyTorch's CPU thread pool belongs to the
thread that first ran the model, and the same model run later from a new thread
got about a third of the throughput on CPU.

Transitions: configure loads the model and starts the worker (a bad model fails
configure with the reason logged and on /diagnostics), activate/deactivate open and
close the stream (deactivate publishes the look-ahead frames first), cleanup and
shutdown stop the worker and free everything. Ctrl-C/SIGTERM: ``deblur_ros.nodes.spin``
stops the worker through :meth:`LiveDeblurNode.shutdown_quietly` even though rclpy has
already shut the context down (no transition can run then).
"""

from __future__ import annotations

import copy
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, Image

from deblur_ros.adapters.image_msg import encode_image
from deblur_ros.adapters.pixels import MalformedImageError, UnsupportedEncodingError, decode_image
from deblur_ros.core.imaging import stamp_ns
from deblur_ros.core.inference.deadzone import MAX_DEADZONE
from deblur_ros.core.inference.runners import (
    BACKENDS,
    PRECISIONS,
    BackendUnavailableError,
    default_threads,
    resolve,
)
from deblur_ros.core.inference.scene_cuts import DEFAULT_CUT_THRESHOLD
from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.models.checkpoint import DEFAULT_LIVE_MODEL, CheckpointError, resolve_model
from deblur_ros.nodes.camera_qos import (
    no_event_handlers,
    reliability_param,
    wanted_reliability,
)
from deblur_ros.nodes.diagnostics import KeyedThrottle, StreamStats
from deblur_ros.nodes.params import Param, ParameterError, check_value, declare, number, usage
from deblur_ros.nodes.spin import RCLError, program_name, quiet_after_shutdown, run
from deblur_ros.nodes.worker import MailboxWorker, Offer

# CameraInfo is small: best effort matches any camera driver and loses nothing in practice.
INFO_QOS = QoSProfile(
    reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST, depth=1
)
OUTPUT_QOS = QoSProfile(
    reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=5
)
REJECT_LOG_PERIOD_S = 5.0
RELIABILITY_PARAM = reliability_param(1)

PARAMETERS = (
    Param("model", DEFAULT_LIVE_MODEL,
          "Checkpoint path, a shipped model name (strcnn-w16-m1, strcnn-w64-m1, ...), or "
          "auto: the paper's model on CUDA, the lite one on a CPU"),
    Param("device", "auto", "auto (CUDA if available), cpu, or cuda[:N]"),
    Param("backend", "auto",
          "auto (the fastest installed for the device), torch, openvino, onnxruntime, cuda",
          choices=BACKENDS),
    Param("precision", "auto",
          "auto (bf16 where the CPU has native bf16, fp16 on CUDA, else fp32), fp32, bf16, "
          "fp16", choices=PRECISIONS),
    Param("threads", 0, "CPU threads for the backend; 0 = all cores (measured faster than "
          "leaving one to the camera driver and DDS: bench/RESULTS.md)",
          low=0, high=256),
    Param("deadzone", -1.0,
          "Grey levels (of 255) of the model's correction treated as noise and dropped, so "
          "still footage stays untouched: -1 = the model's own measured value (0.5 when "
          "its checkpoint records none), 0 = the raw network", low=-1.0, high=MAX_DEADZONE),
    Param("scene_cuts", True,
          "Restart the recurrent stream where the camera's scene changes (a switched or "
          "multiplexed camera): another scene's state costs the next frames several dB; "
          "false keeps one stream"),
    Param("max_hold", 1.0,
          "Seconds a look-ahead model waits for the next frame before it publishes the one "
          "it holds (the frame then stands in for its own look-ahead), so the last frame "
          "before the camera stops or pauses is not held until it resumes; 0 waits for the "
          "next frame however long", low=0.0, high=60.0),
    Param("autostart", False,
          "Configure and activate at start-up (no lifecycle manager needed)"),
    # Its choice is checked at configure, which then fails with the reason.
    RELIABILITY_PARAM,
    Param("diagnostics_period", 1.0, "Seconds between /diagnostics messages",
          low=0.05, high=60.0),
)


@dataclass
class _Frame:
    """What travels with a frame through the look-ahead: enough to rebuild its message."""

    header: Any
    encoding: str
    alpha: Any
    received: float


class LiveDeblurNode(LifecycleNode):
    def __init__(self, node_name: str = "deblur_live", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._declare_parameters()
        self.stats = StreamStats()
        self.deblurrer: StreamingDeblurrer | None = None
        self.model_name = ""
        self.device_name = ""
        self.backend_name = ""
        self.last_error = ""
        self._active = False
        self._worker: MailboxWorker[tuple[Image, float]] | None = None
        # Rejected frames per kind (encoding, malformed, deblurring), each logged on its own
        # throttle so one kind never hides another.
        self.rejected_by_kind: Counter[str] = Counter()
        self.released_on_hold = 0  # frames published without waiting for look-ahead
        self._reject_log = KeyedThrottle(REJECT_LOG_PERIOD_S)
        self._camera_info: CameraInfo | None = None
        self._image_pub = None
        self._info_pub = None
        self._image_sub = None
        self._image_reliability: ReliabilityPolicy | None = None
        self._qos_timer = None
        self._info_sub = None
        self._sub_group = MutuallyExclusiveCallbackGroup()
        self._diag_group = MutuallyExclusiveCallbackGroup()
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        period = number(self, "diagnostics_period")
        self._diag_timer = self.create_timer(
            period, self._publish_diagnostics, callback_group=self._diag_group
        )

    # -- parameters --------------------------------------------------------------------

    def _declare_parameters(self) -> None:
        declare(self, PARAMETERS)

    # -- lifecycle ---------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        model_spec = self.get_parameter("model").value
        device = self.get_parameter("device").value
        threads = self.get_parameter("threads").value or default_threads()
        backend = self.get_parameter("backend").value
        precision = self.get_parameter("precision").value
        reliability = self.get_parameter("image_reliability").value
        try:
            check_value(RELIABILITY_PARAM, reliability)
        except ParameterError as exc:
            return self._configure_failed(str(exc))
        try:
            path = resolve_model(model_spec, device)
            self.deblurrer = StreamingDeblurrer.from_checkpoint(
                path, device, backend, precision, threads,
                deadzone=self.get_parameter("deadzone").value,
                cut_threshold=DEFAULT_CUT_THRESHOLD if self.get_parameter("scene_cuts").value
                else 0.0)
            if str(model_spec) in ("", "auto"):
                self.get_logger().info(
                    f"model auto -> {path.stem} for device {self.deblurrer.device}")
            runner = self.deblurrer.runner
            _, _, why = resolve(backend, precision, self.deblurrer.device)
            self.get_logger().info(f"backend {runner.name} {runner.precision} ({why}); dead "
                                   f"zone {self.deblurrer.deadzone:g} grey levels")
        except (CheckpointError, ValueError, BackendUnavailableError) as exc:
            return self._configure_failed(str(exc))
        except Exception as exc:  # noqa: BLE001 - rclpy would swallow it without a log line
            return self._configure_failed(f"{type(exc).__name__}: {exc}")
        self.last_error = ""
        self.model_name = self.deblurrer.name
        self.device_name = str(self.deblurrer.device)
        self.backend_name = f"{self.deblurrer.runner.name} {self.deblurrer.runner.precision}"
        qos_override = QoSOverridingOptions.with_default_policies()
        self._image_pub = self.create_lifecycle_publisher(
            Image, "deblurred/image", OUTPUT_QOS, qos_overriding_options=qos_override)
        self._info_pub = self.create_lifecycle_publisher(
            CameraInfo, "deblurred/camera_info", OUTPUT_QOS,
            qos_overriding_options=qos_override)
        self._subscribe_image(self._wanted_reliability())
        if reliability == "auto":
            self._qos_timer = self.create_timer(
                1.0, self._follow_camera_qos, callback_group=self._sub_group)
        self._info_sub = self.create_subscription(
            CameraInfo, "camera_info", self._on_camera_info, INFO_QOS,
            callback_group=self._sub_group)
        self._worker = MailboxWorker(self._process, name="deblur_worker",
                                     on_flush=self._flush_stream, on_error=self._worker_failed,
                                     on_idle=self._release_held,
                                     idle_after=number(self, "max_hold"))
        self._worker.start()
        self.get_logger().info(
            f"configured: model {self.model_name} ({path}) on {self.device_name}, "
            f"{self.deblurrer.lookahead} frame(s) of look-ahead")
        return TransitionCallbackReturn.SUCCESS

    def _configure_failed(self, reason: str) -> TransitionCallbackReturn:
        self.last_error = reason
        if self.context.ok():  # else Ctrl-C during an autostart configure: nothing to say
            self.get_logger().error(f"configure failed: {reason}")
        return TransitionCallbackReturn.FAILURE

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        if self._worker is not None:
            self._worker.open()
        self.get_logger().info("active: deblurring 'image' -> 'deblurred/image'")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        # The frame in the mailbox and those waiting for look-ahead are published
        # before the publishers close; the worker does it, as it does all model work.
        self._active = False
        worker = self._worker
        if worker is not None and not worker.close(flush=True, timeout=60.0) \
                and worker.running:
            self.get_logger().error("deactivate: the worker did not flush within 60 s")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        # Shutdown from 'active' skips on_deactivate: stop the worker here too.
        self._active = False
        self._stop_worker()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._stop_worker()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def autostart_if_requested(self) -> None:
        if not self.get_parameter("autostart").value:
            return
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def shutdown_quietly(self) -> None:
        """Reach 'finalized' if the context still allows it; stop the worker either way.

        After Ctrl-C/SIGTERM rclpy has already shut the context down: a transition
        would only fail (and log), so the worker is stopped and the model freed directly.
        Safe to call more than once (end of main, test teardown).
        """
        if self.context.ok():
            try:
                self.trigger_shutdown()
            except RCLError:  # already finalized
                pass
        self._active = False
        self._stop_worker()
        self._release()

    def _release(self) -> None:
        for sub in (self._image_sub, self._info_sub):
            if sub is not None:
                self.destroy_subscription(sub)
        for pub in (self._image_pub, self._info_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self._image_sub = self._info_sub = self._image_pub = self._info_pub = None
        if self._qos_timer is not None:
            self.destroy_timer(self._qos_timer)
            self._qos_timer = None
        self.deblurrer = None
        self._camera_info = None

    # -- camera QoS (why: deblur_ros.nodes.camera_qos) --------------------------------

    def _wanted_reliability(self) -> ReliabilityPolicy:
        return wanted_reliability(self, self.get_parameter("image_reliability").value)

    def _subscribe_image(self, reliability: ReliabilityPolicy) -> None:
        if self._image_sub is not None:
            self.destroy_subscription(self._image_sub)
        qos = QoSProfile(reliability=reliability, history=HistoryPolicy.KEEP_LAST, depth=1)
        self._image_sub = self.create_subscription(
            Image, "image", self._on_image, qos, callback_group=self._sub_group,
            event_callbacks=no_event_handlers())
        self._image_reliability = reliability
        self.get_logger().info(
            f"subscribed to '{self._image_sub.topic_name}' {reliability.name.lower()}, depth 1")

    def _follow_camera_qos(self) -> None:
        if self._image_sub is None:
            return
        with quiet_after_shutdown(self):
            wanted = self._wanted_reliability()
            if wanted != self._image_reliability:
                self._subscribe_image(wanted)

    # -- data path ---------------------------------------------------------------------

    def _on_image(self, msg: Image) -> None:
        now = time.monotonic()
        worker = self._worker
        if worker is None:
            return
        # Counted under the mailbox lock: deactivate's close orders every counted frame
        # before its flush.
        if worker.offer((msg, now), before=lambda: self.stats.on_input(now)) is Offer.REPLACED:
            self.stats.on_drop()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def _worker_failed(self, exc: BaseException) -> None:
        if self.context.ok():
            self.get_logger().error(f"worker: {type(exc).__name__}: {exc}")

    def _flush_stream(self) -> None:
        try:
            if self.deblurrer is not None:
                self._publish(self.deblurrer.flush())
                self.deblurrer.reset()
        except Exception as exc:  # noqa: BLE001 - deactivate must complete regardless
            if self.context.ok():
                self.get_logger().error(f"flush at deactivate failed: {exc}")

    def _release_held(self) -> None:
        """The camera went quiet for max_hold: publish what waits for its look-ahead. The
        recurrent state is kept, so the stream goes on when frames come back."""
        deblurrer = self.deblurrer
        if deblurrer is not None and deblurrer.pending:
            self._publish(deblurrer.flush())
            self.released_on_hold += 1

    def _reject(self, kind: str, text: str) -> None:
        self.stats.on_reject()
        self.rejected_by_kind[kind] += 1
        if self.context.ok() and self._reject_log.ready(kind):
            self.get_logger().error(text)

    def _process(self, item: tuple[Image, float]) -> None:
        msg, received = item
        deblurrer = self.deblurrer
        if deblurrer is None:
            return
        try:
            decoded = decode_image(msg)
        except UnsupportedEncodingError as exc:
            self._reject("encoding", str(exc))
            return
        except MalformedImageError as exc:
            self._reject("malformed", str(exc))
            return
        payload = _Frame(msg.header, msg.encoding, decoded.alpha, received)
        try:
            stamp = stamp_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)
            outputs = deblurrer.push(decoded.rgb, stamp, payload)
        except Exception as exc:  # noqa: BLE001 - keep the node alive, say what happened
            self._reject("deblurring", f"deblurring failed: {exc}")
            return
        self._publish(outputs)

    def _publish(self, outputs: list) -> None:
        image_pub, info_pub = self._image_pub, self._info_pub
        if image_pub is None or info_pub is None:
            return
        for out in outputs:
            frame: _Frame = out.payload
            image = encode_image(out.frame, frame.alpha, frame.encoding, frame.header)
            info = self._camera_info
            if info is not None:
                info = copy.copy(info)
                info.header = frame.header
            if not self._send(image_pub, image, info_pub, info):
                return
            self.stats.on_output(time.monotonic() - frame.received)

    def _send(self, image_pub: Any, image: Image, info_pub: Any,
              info: CameraInfo | None) -> bool:
        """False when the context is gone: Ctrl-C shuts it down under a running worker,
        and what is left to publish is then skipped quietly."""
        with quiet_after_shutdown(self):
            image_pub.publish(image)
            if info is not None:
                info_pub.publish(info)
            return True
        return False

    # -- diagnostics -------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        snap = self.stats.snapshot()
        status = DiagnosticStatus()
        status.name = f"{self.get_name()}: deblurring"
        status.hardware_id = self.device_name or "none"
        if self.last_error:
            status.level, status.message = DiagnosticStatus.ERROR, self.last_error
        elif not self._active:
            status.level, status.message = DiagnosticStatus.WARN, "inactive"
        elif snap["rejected"]:
            status.level, status.message = DiagnosticStatus.WARN, "rejecting frames"
        else:
            status.level, status.message = DiagnosticStatus.OK, "deblurring"
        values = {
            "input rate (Hz)": f"{snap['input_rate_hz']:.2f}",
            "output rate (Hz)": f"{snap['output_rate_hz']:.2f}",
            "dropped frames": str(snap["dropped"]),
            "rejected frames": str(snap["rejected"]),
            "received frames": str(snap["received"]),
            "published frames": str(snap["published"]),
            "latency p50 (ms)": f"{snap['latency_ms_p50']:.1f}",
            "latency max (ms)": f"{snap['latency_ms_max']:.1f}",
            "scene cuts": str(self.deblurrer.cuts if self.deblurrer else 0),
            "released on hold": str(self.released_on_hold),
            "model": self.model_name or "none",
            "device": self.device_name or "none",
            "backend": self.backend_name or "none",
        }
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [status]
        with quiet_after_shutdown(self):
            self._diag_pub.publish(array)


def usage_text(program: str) -> str:
    return usage(program, "Lifecycle node: deblurs 'image' to 'deblurred/image' (and "
                 "'camera_info' to 'deblurred/camera_info').", PARAMETERS,
                 "-p model:=strcnn-w16-m1 -p device:=cpu -p autostart:=true "
                 "-r image:=/camera/image_raw")


def _make_node() -> Node:
    return LiveDeblurNode()


def main(args: list[str] | None = None) -> int:
    """``live_node`` / ``deblur-ros live``: the exit code (0, or 2 for a bad parameter)."""
    argv = list(sys.argv if args is None else args)
    program = program_name(argv, "deblur_ros.nodes.live_node")
    return run(program, _make_node, argv, usage=usage_text(program),
               executor=lambda: MultiThreadedExecutor(num_threads=3),
               start=LiveDeblurNode.autostart_if_requested)


if __name__ == "__main__":
    sys.exit(main())
