"""Lifecycle sidecar that fits a scene model to a drive and republishes the drive with it.

Subscribes ``image`` (the camera, or the live node's output for the paper's refinement)
and ``camera_info``. Every frame is scored for sharpness (one window rule:
:class:`~deblur_ros.core.sharpness.SharpFrameSelector`) and, when ``spool`` is on,
serialised to a bounded spool file; the sharpest frame of each window is kept in a
bounded set (:mod:`deblur_ros.core.drive_store`). A fit starts after ``fit_after`` new
selected frames, on the ``~/fit`` service (``std_srvs/Trigger``) and on deactivate; it
runs in its own process at low priority with ``fit_threads`` threads
(:mod:`deblur_ros.core.training.fit_process`), so a live node on the same CPU keeps
its cores. A finished fit is saved in ``model_dir`` with its record, loaded back
(which checks it), swapped in, and then:

- the spooled drive is republished on ``scene/image`` (+ ``scene/camera_info``),
  deblurred by it, with every frame's original header;
- frames arriving from then on are deblurred by it on the same topic (newest frame
  first: a scene model slower than the camera drops frames, it never queues them);
- a newer fit replaces it between two frames.

At configure the newest model in ``model_dir`` (or ``load_model``) is loaded for the
next drive. ``scene/status`` (``std_msgs/String``, JSON) and ``/diagnostics`` say what
is buffered, selected, fitting and how much memory the node holds.
"""

from __future__ import annotations

import copy
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from deblur_ros.adapters.image_msg import encode_image
from deblur_ros.adapters.pixels import (
    DecodedImage,
    MalformedImageError,
    UnsupportedEncodingError,
    decode_image,
)
from deblur_ros.core.drive_store import (
    DriveSpool,
    SelectedFrames,
    SpoolFullError,
    stored_pixels,
)
from deblur_ros.core.imaging import stamp_ns
from deblur_ros.core.inference.scene import SceneDeblurrer, sharpness_gate
from deblur_ros.core.models.checkpoint import SCENE_ARCHITECTURE, CheckpointError, load_model
from deblur_ros.core.sharpness import DEFAULT_WINDOW, SharpFrameSelector
from deblur_ros.core.training.fit_process import BackgroundFit, FitJob
from deblur_ros.core.training.scene_fitter import (
    DEFAULT_BUDGET,
    FitBudget,
    FitConfig,
    resolve_scene_init,
)
from deblur_ros.nodes.camera_qos import (
    no_event_handlers,
    reliability_param,
    wanted_reliability,
)
from deblur_ros.nodes.diagnostics import KeyedThrottle, StreamStats
from deblur_ros.nodes.params import Param, ParameterError, check_value, declare
from deblur_ros.nodes.params import usage as usage_of
from deblur_ros.nodes.spin import RCLError, program_name, quiet_after_shutdown, run
from deblur_ros.nodes.worker import MailboxWorker, Offer

INFO_QOS = QoSProfile(reliability=ReliabilityPolicy.BEST_EFFORT,
                      history=HistoryPolicy.KEEP_LAST, depth=1)
# A republished drive is a burst: a deeper reliable history keeps a slow reader whole.
OUTPUT_QOS = QoSProfile(reliability=ReliabilityPolicy.RELIABLE,
                        history=HistoryPolicy.KEEP_LAST, depth=100)
IMAGE_DEPTH = 30  # every frame matters to the spool and the selection: 1 s at 30 Hz
RELIABILITY_PARAM = reliability_param(IMAGE_DEPTH)
DEFAULT_MODEL_DIR = "~/.ros/deblur_ros/scene_models"
LOG_PERIOD_S = 5.0

PARAMETERS = (
    Param("model_dir", DEFAULT_MODEL_DIR,
          "Folder where each fit saves its scene model (scene-<time>.pt, with its record)"),
    Param("load_model", "latest",
          "Scene model used from configure on: latest (the newest in model_dir, if any), "
          "none, or a checkpoint path"),
    Param("window", DEFAULT_WINDOW, "Frames per selection window (its sharpest is kept)",
          low=1, high=100000),
    Param("max_selected", 60, "Selected frames kept in memory at most (the least sharp "
          "makes room for a sharper one)", low=1, high=100000),
    Param("max_selected_mb", 256.0, "Memory for selected frames at most (MB)",
          low=0.01, high=1e6),
    Param("sharpness_gate", True, "Frames nearly as sharp as the sharpest of their window "
          "get less of the scene model's output, the sharpest none (it over-sharpens "
          "sharp input)"),
    Param("spool", True, "Spool the whole drive to disk, to republish it deblurred"),
    Param("spool_dir", "", "Folder of the spool file (empty: the system's temp folder)"),
    Param("spool_max_mb", 8192.0, "Size of the spool at most (MB); frames past it are "
          "counted and reported, not republished", low=0.01, high=1e9),
    Param("fit_after", 10, "Start a fit after this many newly selected frames (0: only "
          "on ~/fit and deactivate)", low=0, high=100000),
    Param("fit_on_deactivate", True, "Fit when deactivated (the drive ended) if new "
          "frames were selected since the last fit"),
    Param("fit_seconds", float(DEFAULT_BUDGET.seconds or 300.0),
          "Wall-clock budget of one fit (s)", low=0.1, high=86400.0),
    Param("fit_iterations", 0, "Iteration budget of one fit (0: none, time only)",
          low=0, high=10**8),
    Param("fit_threads", 1, "CPU threads of the fit process (it also runs at nice 10)",
          low=1, high=256),
    Param("scene_init", "auto", "Initial weights of a fit: auto (the shipped MAML "
          "initialisation when installed), random, or a checkpoint path"),
    Param("threads", 1, "CPU threads for deblurring with the scene model", low=1, high=256),
    Param("deblur_new_frames", True, "Deblur frames arriving after a fit on scene/image"),
    Param("autostart", False, "Configure and activate at start-up"),
    RELIABILITY_PARAM,
    Param("diagnostics_period", 1.0, "Seconds between /diagnostics and scene/status",
          low=0.05, high=60.0),
)


class SceneNode(LifecycleNode):
    def __init__(self, node_name: str = "deblur_scene", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare(self, PARAMETERS)
        self.stats = StreamStats()
        self.last_error = ""
        self._active = False
        self._lock = threading.Lock()
        self._log = KeyedThrottle(LOG_PERIOD_S)
        self.selector: SharpFrameSelector | None = None
        self.selected: SelectedFrames | None = None
        self.spool: DriveSpool | None = None
        self.spool_refused = 0
        self.rejected = 0
        self.frames_received = 0
        self.selected_since_fit = 0
        self.deblurrer: SceneDeblurrer | None = None
        self.model_path: Path | None = None
        self.fit: BackgroundFit | None = None
        self.fits_done = 0
        self.last_fit: dict[str, Any] = {}
        self.republished = 0
        self._pending_republish = 0  # spooled frames a finished fit has yet to republish
        self._fit_spooled = 0  # spooled frames when the running fit started
        self._fit_lock = threading.Lock()  # the image callback and ~/fit both start fits
        self._republisher: threading.Thread | None = None
        self._stop_republish = threading.Event()
        self._camera_info: CameraInfo | None = None
        self._worker: MailboxWorker[tuple[Image, DecodedImage, float]] | None = None
        self._image_sub = self._info_sub = self._image_pub = self._info_pub = None
        self._qos_timer = self._fit_timer = self._fit_srv = None
        self._image_reliability: ReliabilityPolicy | None = None
        self._sub_group = MutuallyExclusiveCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._status_pub = self.create_publisher(String, "scene/status", 10)
        self.create_timer(float(self.get_parameter("diagnostics_period").value),
                          self._publish_status, callback_group=self._timer_group)

    def param(self, name: str) -> Any:
        return self.get_parameter(name).value

    # -- lifecycle ---------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            check_value(RELIABILITY_PARAM, self.param("image_reliability"))
            self.model_dir = Path(str(self.param("model_dir"))).expanduser()
            self.model_dir.mkdir(parents=True, exist_ok=True)
            self._load_initial_model()
            self.selector = SharpFrameSelector(int(self.param("window")))
            self.selected = SelectedFrames(int(self.param("max_selected")),
                                           int(float(self.param("max_selected_mb")) * 2**20))
            if self.param("spool"):
                self.spool = DriveSpool(self.param("spool_dir") or None,
                                        int(float(self.param("spool_max_mb")) * 2**20))
            init = resolve_scene_init(self.param("scene_init"))
            if init is not None:  # refused now, not minutes later in the fit process
                load_model(init, "cpu", architecture=SCENE_ARCHITECTURE)
        except (ParameterError, CheckpointError, ValueError, OSError) as exc:
            return self._configure_failed(str(exc))
        self.last_error = ""
        self._image_pub = self.create_lifecycle_publisher(Image, "scene/image", OUTPUT_QOS)
        self._info_pub = self.create_lifecycle_publisher(CameraInfo, "scene/camera_info",
                                                         OUTPUT_QOS)
        self._subscribe_image(wanted_reliability(self, self.param("image_reliability")))
        if self.param("image_reliability") == "auto":
            self._qos_timer = self.create_timer(1.0, self._follow_camera_qos,
                                                callback_group=self._sub_group)
        self._info_sub = self.create_subscription(CameraInfo, "camera_info",
                                                  self._on_camera_info, INFO_QOS,
                                                  callback_group=self._sub_group)
        self._fit_srv = self.create_service(Trigger, "~/fit", self._on_fit_request,
                                            callback_group=self._timer_group)
        self._fit_timer = self.create_timer(0.25, self._poll_fit,
                                            callback_group=self._timer_group)
        self._worker = MailboxWorker(self._deblur_new_frame, name="scene_worker",
                                     on_error=self._worker_failed)
        self._worker.start()
        model = self.model_path.name if self.model_path else "none yet"
        self.get_logger().info(
            f"configured: window {self.selector.window}, scene model {model}, spool "
            f"{self.spool.path if self.spool is not None else 'off'}, models saved in "
            f"{self.model_dir}")
        return TransitionCallbackReturn.SUCCESS

    def _load_initial_model(self) -> None:
        spec = str(self.param("load_model")).strip()
        path: Path | None = None
        if spec == "latest":
            saved = sorted(self.model_dir.glob("scene-*.pt"), key=lambda p: p.stat().st_mtime)
            path = saved[-1] if saved else None
        elif spec not in ("", "none"):
            path = Path(spec).expanduser()
            if not path.is_file():
                raise CheckpointError(f"load_model: no such file {path} (give a scene "
                                      "model saved by this node, latest or none)")
        if path is not None:
            self.deblurrer = SceneDeblurrer.from_checkpoint(
                path, int(self.param("threads")), gate=self._gate())
            self.model_path = path

    def _configure_failed(self, reason: str) -> TransitionCallbackReturn:
        self.last_error = reason
        self._release()
        if self.context.ok():
            self.get_logger().error(f"configure failed: {reason}")
        return TransitionCallbackReturn.FAILURE

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        if self._worker is not None:
            self._worker.open()
        if self._pending_republish:
            self._start_republish()
        self.get_logger().info("active: selecting frames of 'image'; output on 'scene/image'")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        if self._worker is not None:
            self._worker.close(flush=False, timeout=30.0)
        self._halt_republish()
        if self.param("fit_on_deactivate") and self.selector is not None:
            with self._lock:
                last = self.selector.flush()
                if last is not None:
                    self._keep(last)
            if self.selected_since_fit:
                self.start_fit("deactivate")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def autostart_if_requested(self) -> None:
        if self.param("autostart") and \
                self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def shutdown_quietly(self) -> None:
        """Ctrl-C/SIGTERM: stop the fit process, the threads and the spool even when the
        context is already gone (see :mod:`deblur_ros.nodes.spin`)."""
        if self.context.ok():
            try:
                self.trigger_shutdown()
            except RCLError:
                pass
        self._teardown()

    def _teardown(self) -> None:
        self._active = False
        self._halt_republish()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()
        fit, self.fit = self.fit, None
        if fit is not None:
            fit.cancel()
            if not fit.join(timeout=10.0):
                fit.kill()
        self._release()

    def _release(self) -> None:
        for sub in (self._image_sub, self._info_sub):
            if sub is not None:
                self.destroy_subscription(sub)
        for pub in (self._image_pub, self._info_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        for timer in (self._qos_timer, self._fit_timer):
            if timer is not None:
                self.destroy_timer(timer)
        if self._fit_srv is not None:
            self.destroy_service(self._fit_srv)
        self._image_sub = self._info_sub = self._image_pub = self._info_pub = None
        self._qos_timer = self._fit_timer = self._fit_srv = None
        if self.spool is not None:
            self.spool.close()
        self.spool = None
        self.selector = self.selected = None
        self.deblurrer = None
        self.model_path = None
        self._pending_republish = 0
        self.selected_since_fit = 0

    # -- input -------------------------------------------------------------------------

    def _subscribe_image(self, reliability: ReliabilityPolicy) -> None:
        if self._image_sub is not None:
            self.destroy_subscription(self._image_sub)
        qos = QoSProfile(reliability=reliability, history=HistoryPolicy.KEEP_LAST,
                         depth=IMAGE_DEPTH)
        self._image_sub = self.create_subscription(Image, "image", self._on_image, qos,
                                                   callback_group=self._sub_group,
                                                   event_callbacks=no_event_handlers())
        self._image_reliability = reliability

    def _follow_camera_qos(self) -> None:
        if self._image_sub is None:
            return
        with quiet_after_shutdown(self):
            wanted = wanted_reliability(self, self.param("image_reliability"))
            if wanted != self._image_reliability:
                self._subscribe_image(wanted)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _on_image(self, msg: Image) -> None:
        if not self._active or self.selector is None:
            return
        now = time.monotonic()
        self.stats.on_input(now)
        try:
            decoded = decode_image(msg)
        except (UnsupportedEncodingError, MalformedImageError) as exc:
            self.rejected += 1
            self._warn("reject", str(exc))
            return
        with self._lock:
            selection = self.selector.push(
                stored_pixels(decoded.rgb),
                stamp_ns(msg.header.stamp.sec, msg.header.stamp.nanosec))
            if selection is not None:
                self._keep(selection)
            if self.spool is not None:
                try:
                    self.spool.append(serialize_message(msg))
                except SpoolFullError as exc:
                    self.spool_refused += 1
                    self._warn("spool", str(exc))
            self.frames_received += 1  # last: a frame counted is a frame fully taken in
        fit_after = int(self.param("fit_after"))
        if fit_after and self.selected_since_fit >= fit_after and self.fit is None:
            self.start_fit(f"{self.selected_since_fit} new selected frames")
        worker = self._worker
        if self.deblurrer is not None and self.param("deblur_new_frames") and worker:
            if worker.offer((msg, decoded, now)) is Offer.REPLACED:
                self.stats.on_drop()

    def _keep(self, selection: Any) -> None:
        if self.selected is not None and self.selected.add(selection):
            self.selected_since_fit += 1

    # -- fitting -----------------------------------------------------------------------

    def start_fit(self, reason: str) -> tuple[bool, str]:
        """Start a fit in the background on the frames selected so far."""
        with self._fit_lock:
            return self._start_fit(reason)

    def _start_fit(self, reason: str) -> tuple[bool, str]:
        if self.fit is not None:
            return False, "a fit is already running"
        if self.selected is None or not len(self.selected):
            return False, "no frames selected yet (is 'image' publishing?)"
        with self._lock:
            frames = [s.frame for s in self.selected.frames]
            info = [{"index": s.index, "sharpness": round(s.score, 1), "stamp_ns": s.stamp_ns}
                    for s in self.selected.frames]
            self.selected_since_fit = 0
            spooled = len(self.spool) if self.spool is not None else 0
        iterations = int(self.param("fit_iterations")) or None
        budget = FitBudget(iterations=iterations, seconds=float(self.param("fit_seconds")))
        init = resolve_scene_init(self.param("scene_init"))
        out = self.model_dir / f"scene-{time.strftime('%Y%m%d-%H%M%S')}-{self.fits_done}.pt"
        job = FitJob(frames=frames, frame_info=info, out_path=str(out), budget=budget,
                     config=FitConfig(), init=str(init) if init else None,
                     threads=int(self.param("fit_threads")),
                     extra={"node": self.get_fully_qualified_name(), "reason": reason,
                            "frames_seen": self.frames_received})
        self.fit = BackgroundFit(job).start()
        self._fit_spooled = spooled
        self.get_logger().info(f"fit started ({reason}): {len(frames)} frames, budget "
                               f"{budget.seconds:g} s, {job.threads} thread(s), -> {out}")
        return True, f"fit started on {len(frames)} selected frames -> {out}"

    def _on_fit_request(self, request: Trigger.Request, response: Trigger.Response
                        ) -> Trigger.Response:
        if self.selector is None:
            response.success, response.message = False, "not configured"
            return response
        response.success, response.message = self.start_fit("~/fit service")
        return response

    def _poll_fit(self) -> None:
        fit = self.fit
        if fit is None:
            return
        fit.poll()
        if fit.running:
            return
        self.fit = None
        if fit.error is not None:
            self.last_error = f"fit failed: {fit.error}"
            self._warn("fit", self.last_error)
            return
        result = fit.result or {}
        try:
            deblurrer = SceneDeblurrer.from_checkpoint(
                result["path"], int(self.param("threads")), gate=self._gate())
        except (CheckpointError, KeyError, OSError) as exc:
            self.last_error = f"the fitted model could not be loaded back: {exc}"
            self._warn("fit", self.last_error)
            return
        with self._lock:
            self.deblurrer, self.model_path = deblurrer, Path(result["path"])
            self.fits_done += 1
            self.last_fit = {k: result.get(k) for k in (
                "path", "loss", "seconds", "iterations", "stopped", "probe_input_psnr",
                "probe_output_psnr")} | {"frames": len(result.get("frames", []))}
        self.last_error = ""
        self.get_logger().info(
            f"fit done in {result.get('seconds')} s ({result.get('iterations')} steps, "
            f"{result.get('stopped')}): probe {result.get('probe_input_psnr', 0):.2f} -> "
            f"{result.get('probe_output_psnr', 0):.2f} dB; saved {result['path']}")
        self._halt_republish()
        self._pending_republish = self._fit_spooled
        if self._active and self._pending_republish:
            self._start_republish()

    # -- output ------------------------------------------------------------------------

    def _start_republish(self) -> None:
        self._halt_republish()
        self._stop_republish.clear()
        count, self._pending_republish = self._pending_republish, 0
        self._republisher = threading.Thread(target=self._republish, args=(count,),
                                             name="scene_republish", daemon=True)
        self._republisher.start()

    def _halt_republish(self) -> None:
        thread, self._republisher = self._republisher, None
        if thread is not None:
            self._stop_republish.set()
            thread.join(timeout=30.0)

    def _gate(self) -> Any:
        return sharpness_gate(bool(self.param("sharpness_gate")), int(self.param("window")))

    def _republish(self, count: int) -> None:
        """The spooled drive, frame by frame, deblurred by the newest model (a new fit
        halts this and starts it again)."""
        spool, done = self.spool, 0
        # Its own stream: the gate compares each spooled frame with the drive's frames
        # before it, not with the new frames deblurred meanwhile.
        # A recorded drive can wait for the frames after each one: the gate looks ahead.
        stream = self.deblurrer.new_stream() if self.deblurrer is not None else None
        try:
            for i in range(count + 1):
                if self._stop_republish.is_set() or spool is None or spool is not self.spool \
                        or stream is None:
                    break
                if i == count:
                    outputs = stream.flush()
                else:
                    msg = deserialize_message(spool.read(i), Image)
                    try:
                        decoded = decode_image(msg)
                    except (UnsupportedEncodingError, MalformedImageError) as exc:
                        self._warn("reject", str(exc))
                        done += 1
                        continue
                    outputs = stream.push(decoded.rgb, i, (msg, decoded))
                published = 0
                for out in outputs:
                    msg_out, decoded_out = out.payload
                    if not self._publish(msg_out, decoded_out, out.frame):
                        break
                    published += 1
                if published < len(outputs):
                    break
                done += published
                self.republished += published
        except Exception as exc:  # noqa: BLE001 - the node carries on without it
            self._warn("republish", f"republishing the drive stopped: {exc}")
        if done < count and self._stop_republish.is_set():
            self._pending_republish = count  # again from the start at the next activate
        elif done == count:
            self.get_logger().info(f"republished the drive: {count} frames on scene/image")

    def _deblur_new_frame(self, item: tuple[Image, DecodedImage, float]) -> None:
        msg, decoded, received = item  # decoded once, by the image callback
        if self._output(msg, decoded):
            self.stats.on_output(time.monotonic() - received)

    def _output(self, msg: Image, decoded: DecodedImage | None = None,
                deblurrer: SceneDeblurrer | None = None) -> bool:
        deblurrer = deblurrer or self.deblurrer
        image_pub, info_pub = self._image_pub, self._info_pub
        if deblurrer is None or image_pub is None or info_pub is None:
            return False
        try:
            decoded = decode_image(msg) if decoded is None else decoded
            frame = deblurrer.deblur(decoded.rgb)  # causal: a live frame cannot wait
        except (UnsupportedEncodingError, MalformedImageError) as exc:
            self._warn("reject", str(exc))
            return True
        return self._publish(msg, decoded, frame)

    def _publish(self, msg: Image, decoded: DecodedImage, frame: Any) -> bool:
        image_pub, info_pub = self._image_pub, self._info_pub
        if image_pub is None or info_pub is None:
            return False
        out = encode_image(frame, decoded.alpha, msg.encoding, msg.header)
        info = self._camera_info
        if info is not None:
            info = copy.copy(info)
            info.header = msg.header
        with quiet_after_shutdown(self):
            image_pub.publish(out)
            if info is not None:
                info_pub.publish(info)
            return True
        return False

    def _worker_failed(self, exc: BaseException) -> None:
        self._warn("worker", f"deblurring failed: {type(exc).__name__}: {exc}")

    def _warn(self, key: str, text: str) -> None:
        if self.context.ok() and self._log.ready(key):
            self.get_logger().error(text)

    # -- status ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        fit = self.fit
        progress = fit.progress if fit is not None else None
        selected = self.selected
        return {
            "state": "active" if self._active else "inactive",
            "frames_received": self.frames_received,
            "frames_spooled": len(self.spool) if self.spool is not None else 0,
            "spool_mb": round(self.spool.nbytes / 2**20, 1) if self.spool is not None else 0.0,
            "spool_refused": self.spool_refused,
            "frames_selected": len(selected) if selected is not None else 0,
            "selected_mb": round(selected.nbytes / 2**20, 1) if selected is not None else 0.0,
            "selected_since_fit": self.selected_since_fit,
            "rejected": self.rejected,
            "fitting": fit is not None,
            "fit_progress": round(progress["fraction"], 3) if progress else None,
            "fit_step": progress["step"] if progress else None,
            "fit_loss": progress["loss"] if progress else None,
            "fits_done": self.fits_done,
            "last_fit": self.last_fit,
            "scene_model": str(self.model_path) if self.model_path else None,
            "republished": self.republished,
            "rss_mb": round(rss_mb(), 1),
            "error": self.last_error,
        }

    def _publish_status(self) -> None:
        status = self.status()
        diag = DiagnosticStatus(name=f"{self.get_name()}: scene", hardware_id="cpu")
        if self.last_error:
            diag.level, diag.message = DiagnosticStatus.ERROR, self.last_error
        elif not self._active:
            diag.level, diag.message = DiagnosticStatus.WARN, "inactive"
        else:
            diag.level = DiagnosticStatus.OK
            diag.message = "fitting" if status["fitting"] else (
                "deblurring" if status["scene_model"] else "collecting frames")
        diag.values = [KeyValue(key=k, value=json.dumps(v) if isinstance(v, dict) else str(v))
                       for k, v in status.items()]
        array = DiagnosticArray(status=[diag])
        array.header.stamp = self.get_clock().now().to_msg()
        with quiet_after_shutdown(self):
            self._diag_pub.publish(array)
            self._status_pub.publish(String(data=json.dumps(status)))


def rss_mb() -> float:
    """This process's resident memory now (Linux), 0 where /proc is missing."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return 0.0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def usage_text(program: str) -> str:
    return usage_of(program, "Lifecycle sidecar: selects the sharpest frame of every window "
                    "of 'image', fits a scene model to them in the background and publishes "
                    "the drive deblurred by it on 'scene/image'.", PARAMETERS,
                    "-p autostart:=true -p fit_seconds:=300.0 -r image:=/camera/image_raw")


def _make_node() -> Node:
    return SceneNode()


def main(args: list[str] | None = None) -> int:
    """``scene_node`` / ``deblur-ros scene``: the exit code (0, or 2 for a bad parameter)."""
    argv = list(sys.argv if args is None else args)
    program = program_name(argv, "deblur_ros.nodes.scene_node")
    return run(program, _make_node, argv, usage=usage_text(program),
               executor=lambda: MultiThreadedExecutor(num_threads=4),
               start=SceneNode.autostart_if_requested)


if __name__ == "__main__":
    sys.exit(main())
