"""``deblur-ros bench --scene-memory``: the scene sidecar's memory over a long drive.

A synthetic shaky camera (this process, with the camera node's QoS) publishes a drive of
``--frames`` frames at ``--rate`` Hz to ``scene_node`` (its own process, the shipped
defaults: spool on, selected-frame caps, a fit after 10 selected frames, fits in a child
process), as on a robot. Every half second the kernel's figures for the node and for its
fit process are read from /proc, and the node's own ``scene/status`` gives what it holds
(frames received, spooled, selected, and their MB). The table has one row per 1,000
frames: the node's resident memory must level off at its start-up size plus the caps,
not grow with the drive.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from deblur_ros.cli.args import positive_float, positive_int, writable_file
from deblur_ros.core.hardware import process_memory_mb


def _children(pid: int) -> list[int]:
    """Child processes of every thread (the fit process is started from a worker thread)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            pass
    return children


def measure(frames: int, rate: float, width: int, height: int, params: list[str],
            timeout: float) -> dict:
    os.environ["ROS_DOMAIN_ID"] = str(random.randint(150, 220))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from deblur_ros.adapters.frame_sources import open_source
    from deblur_ros.adapters.image_msg import image_from_array
    from deblur_ros.nodes.camera_source import SOURCE_QOS

    ns = "/deblur_bench_scene"
    work = Path(tempfile.mkdtemp(prefix="deblur_bench_scene_"))
    node_cmd = [sys.executable, "-m", "deblur_ros.nodes.scene_node", "--ros-args",
                "-r", f"__ns:={ns}", "-p", "autostart:=true", "-p", "load_model:=none",
                "-p", f"spool_dir:={work}", "-p", f"model_dir:={work / 'models'}",
                "-p", "diagnostics_period:=0.5"]
    for p in params:
        node_cmd += ["-p", p]
    log = tempfile.TemporaryFile(mode="w+")  # a pipe nobody reads would block the node
    node = subprocess.Popen(node_cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    peer = rclpy.create_node("deblur_bench_scene_peer", namespace=ns, context=context)
    status: dict = {}

    def on_status(msg: String) -> None:
        status.update(json.loads(msg.data))

    peer.create_subscription(String, "scene/status", on_status, 10)
    # The camera's own QoS (reliable, depth 2): a node that falls behind loses frames at
    # the writer, as it would behind a real driver.
    pub = peer.create_publisher(Image, "image", SOURCE_QOS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(peer)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    published = 0
    stop = threading.Event()

    def camera() -> None:
        """A synthetic shaky camera at ``rate`` Hz (rendering included in the period)."""
        nonlocal published
        source = iter(open_source("", width=width, height=height, seed=0))
        period, next_t = 1.0 / rate, time.monotonic()
        for _ in range(frames):
            if stop.is_set():
                return
            msg = image_from_array(next(source), "rgb8")
            msg.header.stamp = peer.get_clock().now().to_msg()
            msg.header.frame_id = "camera"
            pub.publish(msg)
            published += 1
            next_t = max(next_t + period, time.monotonic())
            time.sleep(max(0.0, next_t - time.monotonic()))

    rows: list[dict] = []
    peak = {"node_rss_mb": 0.0, "fit_rss_mb": 0.0, "selected_mb": 0.0, "spool_mb": 0.0}
    last_count = 0
    feeder = threading.Thread(target=camera, daemon=True)
    try:
        deadline = time.monotonic() + 60
        while status.get("state") != "active" or not pub.get_subscription_count():
            if node.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"scene_node did not start:\n{log.read()[-1500:]}")
            time.sleep(0.1)
        start_rss = process_memory_mb(node.pid, "VmRSS")
        start = time.monotonic()
        feeder.start()
        next_row, last_change = 1000, time.monotonic()
        while True:
            time.sleep(0.5)
            node_rss = process_memory_mb(node.pid, "VmRSS")
            fit_rss = sum(process_memory_mb(c, "VmRSS") for c in _children(node.pid))
            received = int(status.get("frames_received", 0))
            peak["node_rss_mb"] = max(peak["node_rss_mb"], node_rss)
            peak["fit_rss_mb"] = max(peak["fit_rss_mb"], fit_rss)
            peak["selected_mb"] = max(peak["selected_mb"], float(status.get("selected_mb", 0)))
            peak["spool_mb"] = max(peak["spool_mb"], float(status.get("spool_mb", 0)))
            if received != last_count:
                last_count, last_change = received, time.monotonic()
            # Over when the camera has sent everything and nothing arrived for 2 s.
            done = not feeder.is_alive() and time.monotonic() - last_change > 2
            if received >= next_row or (done and (not rows or rows[-1]["frames"] != received)):
                rows.append({"frames": received, "seconds": round(time.monotonic() - start, 1),
                             "node_rss_mb": round(node_rss, 1), "fit_rss_mb": round(fit_rss, 1),
                             "selected": status.get("frames_selected"),
                             "selected_mb": status.get("selected_mb"),
                             "spool_mb": status.get("spool_mb"),
                             "spool_refused": status.get("spool_refused"),
                             "fits_done": status.get("fits_done"),
                             "fitting": status.get("fitting")})
                print(" ".join(f"{k} {v}" for k, v in rows[-1].items()), flush=True)
                next_row = (received // 1000 + 1) * 1000
            if done:
                break
            if node.poll() is not None:
                raise RuntimeError("scene_node exited during the drive")
            if time.monotonic() - start > timeout:
                break
        peak["node_hwm_mb"] = process_memory_mb(node.pid, "VmHWM")
    finally:
        stop.set()
        if node.poll() is None:
            node.send_signal(signal.SIGINT)
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.kill()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    return {"frames_published": published, "frames_received": last_count,
            "size": f"{width}x{height}", "rate_hz": rate, "start_rss_mb": round(start_rss, 1),
            "peak": {k: round(v, 1) for k, v in peak.items()}, "rows": rows,
            "params": params}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deblur-ros bench --scene-memory",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene-memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=positive_int, default=10000)
    parser.add_argument("--rate", type=positive_float, default=30.0,
                        help="camera frames per second")
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT")
    parser.add_argument("-p", "--param", action="append", default=[],
                        help="extra scene_node parameter NAME:=VALUE (repeatable)")
    parser.add_argument("--timeout", type=positive_float, default=3600.0,
                        help="seconds at most")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    problem = args.json and writable_file(args.json, "--json", make_parents=True)
    if problem:
        parser.error(problem)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size: give WIDTHxHEIGHT such as 640x480, got {args.size}")
    import torch

    from deblur_ros.core.hardware import hardware_description

    hw = hardware_description(torch.device("cpu"))
    print(f"hardware: {hw}; torch {torch.__version__}", flush=True)
    try:
        result = measure(args.frames, args.rate, width, height, args.param, args.timeout)
    except RuntimeError as exc:
        print(f"deblur-ros bench --scene-memory: {exc}", file=sys.stderr)
        return 1
    result["hardware"] = hw
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return 0
