"""``deblur-ros bench``: model throughput per shipped width and resolution, and the ROS path.

Model path: the streaming deblurrer alone, frame after frame (recurrent state
kept), on the current device. ROS path: publisher -> live node -> subscriber at
640x480 over real DDS, the node in its own process as in the field, measured
twice: with a 30 Hz camera (the field case: throughput, and latency as a user sees it)
and paced at 80% of the model's rate (latency without waiting in the one-frame
mailbox). Its peak RSS is the node process's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from deblur_ros.cli.args import non_negative_int, positive_float, positive_int, writable_file
from deblur_ros.core.hardware import process_memory_mb

CAMERA_HZ = 30.0  # the ROS path's camera, as the backends issue's end-to-end target says


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def hardware(device: torch.device) -> str:
    from deblur_ros.core.hardware import hardware_description

    return hardware_description(device)


def bench_model(path: Path, device: str, width: int, height: int, frames: int,
                seconds: float, backend: str = "torch", precision: str = "fp32",
                threads: int = 0) -> dict:
    """The streaming deblurrer alone on one backend. The first frame (export, compile,
    allocation) is timed apart as ``warmup_ms``; steady state starts after two frames."""

    default_threads = torch.get_num_threads()
    try:
        return _bench_model(path, device, width, height, frames, seconds, backend, precision,
                            threads)
    finally:
        torch.set_num_threads(default_threads)  # a 1-thread run must not shrink the next


def _bench_model(path: Path, device: str, width: int, height: int, frames: int,
                 seconds: float, backend: str, precision: str, threads: int) -> dict:
    from deblur_ros.core.inference.streaming import StreamingDeblurrer

    t0 = time.perf_counter()
    # The node's default path (the model's own dead zone included) is what a robot runs.
    deblurrer = StreamingDeblurrer.from_checkpoint(path, device, backend, precision, threads)
    rng = np.random.default_rng(0)
    clip = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(4)]
    sync = torch.cuda.synchronize if deblurrer.device.type == "cuda" else (lambda: None)
    for i in range(deblurrer.lookahead + 1):
        deblurrer.push(clip[i], i)
    sync()
    warmup_ms = (time.perf_counter() - t0) * 1000
    deblurrer.push(clip[3], 3)  # one more: allocator and caches settle
    sync()
    times = []
    start = time.perf_counter()
    n = 0
    while n < frames and (time.perf_counter() - start < seconds or n < 3):
        t0 = time.perf_counter()
        deblurrer.push(clip[n % 4], n + 4)
        sync()
        times.append(time.perf_counter() - t0)
        n += 1
    total = time.perf_counter() - start
    lat = np.array(times) * 1000
    return {
        "path": "model", "model": deblurrer.name, "backend": deblurrer.runner.name,
        "precision": deblurrer.runner.precision, "threads": threads or torch.get_num_threads(),
        "device": str(deblurrer.device), "width": width, "height": height, "frames": n,
        "fps": n / total, "warmup_ms": warmup_ms,
        "latency_ms_p50": float(np.percentile(lat, 50)),
        "latency_ms_p95": float(np.percentile(lat, 95)), "peak_rss_mb": peak_rss_mb(),
    }


def validation_gain(path: Path, device: str, backend: str, precision: str,
                    photos: int = 6) -> float:
    """PSNR gain over the blurry input on the first ``photos`` validation renders, so a
    fast row never hides a loss of quality."""
    from deblur_ros.core.inference.streaming import StreamingDeblurrer
    from deblur_ros.core.scoring.validation import psnr_summary, score_clips
    from deblur_ros.core.synthesis.validation import validation_set

    deblurrer = StreamingDeblurrer.from_checkpoint(path, device, backend, precision)
    summary = psnr_summary(score_clips(deblurrer, validation_set(photos, 128, 7, None),
                                       figures=("psnr",)))
    return summary["output_psnr"] - summary["input_psnr"]


def bench_ros(path: Path, device: str, model_fps: float, model_p95_ms: float,
              seconds: float, width: int = 640, height: int = 480, threads: int = 0,
              backend: str = "auto", precision: str = "auto") -> dict:
    """Camera and subscriber here; the live node in its own process, as in the field.

    The node runs as ``python -m deblur_ros.nodes.live_node`` with autostart, so it
    owns its interpreter, its GIL and its PyTorch thread pool; its dropped-frame count
    comes from its /diagnostics and its peak memory from the kernel. Topics live in a
    private namespace on a private DDS domain kept on this host, so a bench on a
    robot never touches the robot's camera topics.
    """
    import random
    import subprocess
    import tempfile

    os.environ["ROS_DOMAIN_ID"] = str(random.randint(150, 220))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from deblur_ros.adapters.image_msg import image_from_array
    from deblur_ros.core.imaging import stamp_ns

    ns = "/deblur_bench"
    node_cmd = [sys.executable, "-m", "deblur_ros.nodes.live_node", "--ros-args",
                "-r", f"__ns:={ns}", "-r", "__node:=deblur_live",
                "-p", f"model:={path}", "-p", f"device:={device}", "-p", "autostart:=true",
                "-p", "diagnostics_period:=0.5", "-p", f"threads:={threads}",
                "-p", f"backend:={backend}", "-p", f"precision:={precision}"]
    node_log = tempfile.TemporaryFile(mode="w+")  # a pipe nobody reads would block the node
    node = subprocess.Popen(node_cmd, stdout=node_log, stderr=subprocess.STDOUT, text=True)

    def node_output() -> str:
        node_log.seek(0)
        return node_log.read()[-1500:]
    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    peer = rclpy.create_node("deblur_bench_peer", namespace=ns, context=context)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub = peer.create_publisher(Image, "image", qos)
    received: list[tuple[float, int]] = []  # (receive time ns, stamp ns)
    diag: dict[str, str] = {}

    def on_output(msg: Image) -> None:
        now = peer.get_clock().now().nanoseconds
        received.append((now, stamp_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)))

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("deblur_live"):
                diag.update({kv.key: kv.value for kv in status.values})
                diag["_message"] = status.message

    sub = peer.create_subscription(Image, "deblurred/image", on_output, qos)
    peer.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(peer)
    spin = threading.Thread(target=executor.spin)
    spin.start()
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    template = image_from_array(frame, "rgb8")

    def dropped() -> int:
        return int(diag.get("dropped frames", "0"))

    def run(rate_hz: float, duration: float) -> list[tuple[float, int]]:
        received.clear()
        period = 1.0 / rate_hz
        next_t = time.monotonic()
        end = next_t + duration
        while time.monotonic() < end:
            template.header.stamp = peer.get_clock().now().to_msg()
            pub.publish(template)
            now = time.monotonic()
            next_t = max(next_t + period, now + 0.002)
            time.sleep(next_t - now)
        time.sleep(max(1.0, min(5.0, 3.0 / max(model_fps, 0.2))))  # let the last frames drain
        return list(received)

    try:
        deadline = time.monotonic() + 60
        while not (pub.get_subscription_count() and sub.get_publisher_count()
                   and diag.get("_message") == "deblurring"):
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the live node did not start:\n{node_output()}")
            time.sleep(0.05)
        # Warm-up until the node delivers steadily (five frames in one run): its first
        # frames (bf16 kernels, graph compiles) can take seconds on a loaded machine and
        # are not steady state.
        deadline = time.monotonic() + 60
        while len(run(max(5.0, min(model_fps, CAMERA_HZ)), min(3.0, seconds))) < 5:
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the live node delivered nothing:\n{node_output()}")
        saturated = run(CAMERA_HZ, seconds)
        time.sleep(1.0)  # one more diagnostics period
        dropped_before = dropped()
        paced_rate = 0.8 * min(model_fps, CAMERA_HZ)
        paced = run(paced_rate, seconds)
        time.sleep(1.0)
        dropped_paced = dropped() - dropped_before
        node_rss = process_memory_mb(node.pid, "VmHWM", missing=float("nan"))
        model_name = diag.get("model", path.stem)
        if os.environ.get("DEBLUR_ROS_BENCH_DEBUG"):
            print(node_output(), diag, file=sys.stderr)
        device_name = diag.get("device", device)
        backend_name, _, precision_name = diag.get("backend", "torch fp32").partition(" ")
    finally:
        node.terminate()
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.kill()
        executor.shutdown()
        spin.join()
        peer.destroy_node()
        rclpy.try_shutdown(context=context)
    from deblur_ros.core.models.checkpoint import load_model

    delay = load_model(path, "cpu")[0].config.lookahead  # frames of look-ahead in the latency
    times = [t for t, _ in saturated]
    fps = (len(times) - 1) / ((times[-1] - times[0]) / 1e9) if len(times) > 2 else 0.0
    lat = np.array([(t - s) / 1e6 for t, s in paced])
    camera_lat = np.array([(t - s) / 1e6 for t, s in saturated])
    interval_ms = 1000.0 / paced_rate
    return {
        "path": "ros", "model": model_name, "backend": backend_name,
        "precision": precision_name, "threads": threads, "device": device_name,
        "width": width, "height": height, "fps": fps,
        "latency_ms_p50": float(np.percentile(lat, 50)) if lat.size else float("nan"),
        "latency_ms_p95": float(np.percentile(lat, 95)) if lat.size else float("nan"),
        "peak_rss_mb": node_rss,
        "camera_hz": CAMERA_HZ, "paced_publish_hz": paced_rate,
        "camera_latency_ms_p95": (float(np.percentile(camera_lat, 95)) if camera_lat.size
                                  else float("nan")),
        "lookahead_ms_at_camera": delay * 1000.0 / CAMERA_HZ,
        "paced_dropped": dropped_paced, "model_fps": model_fps,
        "throughput_ratio": fps / min(model_fps, CAMERA_HZ) if model_fps else float("nan"),
        "latency_target_ms": model_p95_ms + delay * interval_ms + 10.0,
    }


def bench_ros_isolated(path: Path, device: str, model_fps: float, model_p95_ms: float,
                       seconds: float, threads: int = 0, backend: str = "auto",
                       precision: str = "auto") -> dict:
    """Run :func:`bench_ros` in a child process, which starts the node in its own.

    The bench's camera and subscriber get a fresh interpreter too, free of the model
    benchmark's PyTorch threads and memory. The child inherits this environment (the
    PyPI ROS wheels need it).
    """
    import subprocess

    cmd = [sys.executable, "-m", "deblur_ros.cli.bench", "--ros-child", str(path),
           "--device", device, "--seconds", str(seconds),
           "--model-fps", repr(model_fps), "--model-p95", repr(model_p95_ms),
           "--threads", str(threads), "--ros-backend", f"{backend}:{precision}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20 * seconds + 180)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"ROS benchmark failed: {done.stderr.strip()[-800:]}")
    return json.loads(lines[-1])


def _background_scene_fit():
    """A scene fit as scene_node starts one (fit_process defaults), on synthetic VGA
    frames, with a budget longer than any bench row; the caller cancels it."""
    from deblur_ros.adapters.frame_sources import SyntheticSource
    from deblur_ros.core.training.fit_process import BackgroundFit, FitJob
    from deblur_ros.core.training.scene_fitter import FitBudget, FitConfig

    source = iter(SyntheticSource(640, 480, seed=3))
    frames = [next(source) for _ in range(10)]
    job = FitJob(frames=frames, frame_info=[{"index": i} for i in range(10)],
                 out_path=os.devnull, budget=FitBudget(seconds=3600.0),
                 config=FitConfig(patience=10**6))  # no early stop mid-row
    fit = BackgroundFit(job).start()
    deadline = time.monotonic() + 120
    while fit.progress is None and fit.running and time.monotonic() < deadline:
        time.sleep(0.5)  # until it is really training (spawn and imports take seconds)
        fit.poll()
    return fit


def format_table(records: list[dict]) -> str:
    head = ("| path | model | backend | precision | threads | device | size | fps "
            "| latency p50 ms | latency p95 ms | warm-up ms | val gain dB | peak RSS MB |\n"
            "|---|---|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|")
    rows = []
    for r in records:
        gain = r.get("val_gain_db")
        warm = r.get("warmup_ms")
        rows.append(
            f"| {r['path']} | {r['model']} | {r.get('backend', 'torch')} "
            f"| {r.get('precision', 'fp32')} | {r.get('threads', '')} | {r['device']} "
            f"| {r['width']}x{r['height']} | {r['fps']:.2f} | {r['latency_ms_p50']:.1f} "
            f"| {r['latency_ms_p95']:.1f} | {'' if warm is None else f'{warm:.0f}'} "
            f"| {'' if gain is None else f'{gain:+.2f}'} | {r['peak_rss_mb']:.0f} |")
    return "\n".join([head, *rows])


# (model, width, height, fps) the backends issue sets for a 2-core CPU; GPU targets apply
# on CUDA only.
CPU_SPEED_TARGETS = (("strcnn-w16-m1", 640, 480, 24.0), ("strcnn-w16-m1", 320, 240, 60.0),
                     ("strcnn-w64-m1", 640, 480, 2.5))
CUDA_SPEED_TARGETS = (("strcnn-w64-m1", 640, 480, 500.0), ("strcnn-w64-m1", 1280, 720, 150.0))


def speed_targets(records: list[dict]) -> list[str]:
    """The best model row for each target (model, size) against its frame rate."""
    lines = []
    cuda = any(r["device"].startswith("cuda") for r in records)
    for model, width, height, goal in CUDA_SPEED_TARGETS if cuda else CPU_SPEED_TARGETS:
        rows = [r for r in records if r["path"] == "model" and r["model"] == model
                and (r["width"], r["height"]) == (width, height)]
        if not rows:
            continue
        best = max(rows, key=lambda r: r["fps"])
        lines.append(
            f"- {model} at {width}x{height}: best {best['fps']:.1f} fps "
            f"({best.get('backend', 'torch')} {best.get('precision', 'fp32')}, "
            f"{best.get('threads', '?')} threads) vs target {goal:g} fps: "
            f"{'PASS' if best['fps'] >= goal else 'FAIL'}")
    return lines


def targets(records: list[dict]) -> list[str]:
    lines = []
    for r in records:
        if r["path"] != "ros":
            continue
        ok_tp = r["throughput_ratio"] >= 0.9
        ok_lat = r["latency_ms_p95"] <= r["latency_target_ms"]
        lines.append(
            f"- {r['model']}: ROS throughput {r['fps']:.2f} fps from a {r['camera_hz']:g} Hz "
            f"camera = {100 * r['throughput_ratio']:.0f}% of min(camera, bare model's "
            f"{r['model_fps']:.2f} fps) (target >= 90%): {'PASS' if ok_tp else 'FAIL'}")
        if r["model"] == "strcnn-w16-m1" and r["device"] == "cpu":
            goal = 80.0 + r["lookahead_ms_at_camera"]
            ok = r["fps"] >= 20.0 and r["camera_latency_ms_p95"] <= goal
            lines.append(
                f"- {r['model']} end to end at {r['width']}x{r['height']}, {r['camera_hz']:g} Hz "
                f"camera: {r['fps']:.1f} fps out (target >= 20), p95 latency "
                f"{r['camera_latency_ms_p95']:.0f} ms (target <= {goal:.0f}: 80 ms + the "
                f"look-ahead frame): {'PASS' if ok else 'FAIL'}")
        lines.append(
            f"- {r['model']}: ROS p95 latency {r['latency_ms_p95']:.0f} ms at "
            f"{r['paced_publish_hz']:.2f} Hz vs target {r['latency_target_ms']:.0f} ms "
            f"(model p95 + look-ahead x frame interval + 10 ms): "
            f"{'PASS' if ok_lat else 'FAIL'}; frames dropped while paced: {r['paced_dropped']}")
    return lines


def default_combos(device: torch.device) -> list[tuple[str, str]]:
    """Every installed backend with the precisions it runs on this hardware."""
    from deblur_ros.core.hardware import cpu_has_bf16
    from deblur_ros.core.inference.runners import installed_backends

    if device.type == "cuda":
        return [("torch", "fp32"), ("cuda", "fp16")]
    combos = []
    for backend in reversed(installed_backends(device)):  # torch first
        combos.append((backend, "fp32"))
        if backend in ("torch", "openvino") and cpu_has_bf16():
            combos.append((backend, "bf16"))
    return combos


def _parse_combo(text: str, auto: bool) -> tuple[str, str]:
    """BACKEND[:PRECISION]; ``auto`` (the node's defaults) only where ``auto`` is allowed."""
    from deblur_ros.core.inference.runners import BACKENDS, PRECISIONS

    backends, precisions = (BACKENDS, PRECISIONS) if auto else (BACKENDS[1:], PRECISIONS[1:])
    backend, _, precision = text.partition(":")
    precision = precision or ("auto" if auto else "fp32")
    if backend not in backends or precision not in precisions:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give BACKEND[:PRECISION], backend one of {', '.join(backends)}, "
            f"precision one of {', '.join(precisions)}")
    return backend, precision


def _combo(text: str) -> tuple[str, str]:
    return _parse_combo(text, auto=False)


def _ros_combo(text: str) -> tuple[str, str]:
    return _parse_combo(text, auto=True)


def main(argv: list[str]) -> int:
    if "--bag" in argv:  # the bag tool and fleet rows: a module of their own
        from deblur_ros.cli.bench_bag import main as bench_bag

        return bench_bag(argv)
    if "--scene-memory" in argv:  # the scene sidecar's memory over a long drive
        from deblur_ros.cli.bench_scene_memory import main as bench_scene_memory

        return bench_scene_memory(argv)
    from deblur_ros.core.inference.runners import BackendUnavailableError
    from deblur_ros.core.inference.streaming import select_device
    from deblur_ros.core.models.checkpoint import CheckpointError, models_dir, resolve_model

    parser = argparse.ArgumentParser(prog="deblur-ros bench", description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=None,
                        help="checkpoints or shipped names (default: every shipped model)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backends", nargs="*", type=_combo, default=None,
                        metavar="BACKEND[:PRECISION]",
                        help="e.g. torch:fp32 openvino:bf16 (default: every installed backend "
                             "at every precision this hardware runs natively)")
    parser.add_argument("--threads", nargs="*", type=non_negative_int, default=[0],
                        help="CPU threads per run, several to compare (0 = the backend's "
                             "default: all cores)")
    parser.add_argument("--sizes", nargs="*", default=["320x240", "640x480", "1280x720"],
                        help="WIDTHxHEIGHT of the model runs")
    parser.add_argument("--frames", type=positive_int, default=30,
                        help="most frames per model run")
    parser.add_argument("--seconds", type=positive_float, default=15.0,
                        help="most seconds per model run and per ROS phase")
    parser.add_argument("--no-quality", action="store_true",
                        help="skip the validation PSNR gain column")
    parser.add_argument("--no-ros", action="store_true", help="skip the ROS path")
    parser.add_argument("--ros-backend", type=_ros_combo, default=("auto", "auto"),
                        metavar="BACKEND[:PRECISION]",
                        help="the live node's backend in the ROS rows (default auto, as the "
                             "node's own default; its bare-model reference runs the same)")
    parser.add_argument("--scene-fit", action="store_true",
                        help="measure each ROS row again while a scene fit runs beside the "
                             "node (its own process, 1 thread, nice 10, as scene_node runs it)")
    parser.add_argument("--json", type=Path, default=None, help="write the records here")
    parser.add_argument("--bag", action="store_true",
                        help="instead: the bag tool's and the Ray fleet's frames/s beside the "
                             "bare model's (deblur-ros bench --bag --help)")
    parser.add_argument("--scene-memory", action="store_true",
                        help="instead: scene_node's memory over a long synthetic drive "
                             "(deblur-ros bench --scene-memory --help)")
    parser.add_argument("--ros-child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model-fps", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--model-p95", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    problem = args.json and writable_file(args.json, "--json", make_parents=True)
    if problem:
        parser.error(problem)
    try:
        sizes = [tuple(int(v) for v in text.lower().split("x")) for text in args.sizes]
        if any(len(size) != 2 or min(size) < 2 for size in sizes):
            raise ValueError
    except ValueError:
        parser.error(f"--sizes: give WIDTHxHEIGHT values such as 640x480, got {args.sizes}")
    if args.ros_child:
        print(json.dumps(bench_ros(args.ros_child, args.device, args.model_fps, args.model_p95,
                                   args.seconds, threads=args.threads[0],
                                   backend=args.ros_backend[0],
                                   precision=args.ros_backend[1])))
        return 0
    try:
        device = select_device(args.device)
    except ValueError as exc:
        print(f"deblur-ros bench: {exc}", file=sys.stderr)
        return 2
    paths = ([resolve_model(m, device) for m in args.models] if args.models
             else sorted(models_dir().glob("strcnn-*.pt")))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"deblur-ros bench: model file not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not paths:
        print(f"deblur-ros bench: no models in {models_dir()}", file=sys.stderr)
        return 2
    combos = args.backends or default_combos(device)
    print(f"hardware: {hardware(device)}; torch {torch.__version__}; "
          f"python {platform.python_version()}", flush=True)
    records = []
    try:
        vga = {}  # the bare model on the node's backend: the ROS rows' reference
        ros_backend, ros_precision = args.ros_backend
        for path in ([] if args.no_ros else paths):
            vga[path] = bench_model(path, str(device), 640, 480, args.frames, args.seconds,
                                    ros_backend, ros_precision)
        if not args.no_ros:
            for path in paths:
                r = vga[path]
                for threads in args.threads:
                    for fitting in ((False, True) if args.scene_fit else (False,)):
                        fit = _background_scene_fit() if fitting else None
                        try:
                            row = bench_ros_isolated(path, str(device), r["fps"],
                                                     r["latency_ms_p95"], args.seconds, threads,
                                                     ros_backend, ros_precision)
                        finally:
                            if fit is not None:
                                fit.cancel()
                                fit.join(timeout=30)
                        if fitting:
                            row["path"] = "ros+fit"
                            row["fit_steps"] = (fit.progress or {}).get("step", 0)
                        records.append(row)
                        print(format_table(records[-1:]).splitlines()[-1], flush=True)
        for path in paths:
            for backend, precision in combos:
                try:
                    gain = None if args.no_quality else validation_gain(
                        path, str(device), backend, precision)
                except BackendUnavailableError as exc:
                    print(f"skipped: {exc}", flush=True)
                    continue
                for threads in args.threads:
                    for width, height in sizes:
                        rec = bench_model(path, str(device), width, height, args.frames,
                                          args.seconds, backend, precision, threads)
                        rec["val_gain_db"] = gain
                        records.append(rec)
                        print(format_table([rec]).splitlines()[-1], flush=True)
    except (CheckpointError, ValueError) as exc:
        print(f"deblur-ros bench: {exc}", file=sys.stderr)
        return 2
    print()
    print(format_table(records))
    for line in speed_targets(records) + targets(records):
        print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        extra = {"hardware": hardware(device), "torch": torch.__version__}
        args.json.write_text(json.dumps([r | extra for r in records], indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
