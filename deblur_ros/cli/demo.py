"""``deblur-ros demo``: the main job on a built-in default, no camera needed.

Runs, in one process over real DDS: the camera source (synthetic shaky camera by
default) -> the live lifecycle node -> a probe that pairs input and output by
stamp, writes a before/after side-by-side PNG and prints throughput and latency.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from deblur_ros.cli.args import positive_float, positive_int
from deblur_ros.core.imaging import stamp_ns, with_detail


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deblur-ros demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="synthetic",
                        help="'synthetic', a video file or a folder of frames")
    parser.add_argument("--model", default="", help="checkpoint path or shipped name")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--width", type=positive_int, default=320)
    parser.add_argument("--height", type=positive_int, default=240)
    parser.add_argument("--rate", type=positive_float, default=5.0, help="camera frames per second")
    parser.add_argument("--frames", type=positive_int, default=25,
                        help="stop after this many deblurred frames")
    parser.add_argument("--timeout", type=positive_float, default=120.0,
                        help="seconds before giving up")
    parser.add_argument("--threads", type=int, default=1,
                        help="PyTorch CPU threads for the node; 1 left the most CPU for the "
                        "camera, DDS and executor on a 2-core machine (0 = PyTorch default)")
    parser.add_argument("--out", type=Path, default=Path("demo_output"))
    parser.add_argument("--domain-id", type=int, choices=range(0, 233), metavar="0..232",
                        default=None, help="ROS domain for the demo's nodes (default: a random "
                        "private one in 150..220, so nothing else on the network sees them)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from deblur_ros.adapters.frame_sources import FrameSourceError
    from deblur_ros.adapters.pixels import array_from_image
    from deblur_ros.core.scoring.metrics import sharpness
    from deblur_ros.nodes.camera_source import CameraSourceNode
    from deblur_ros.nodes.live_node import LiveDeblurNode

    # A private, host-local DDS domain: the demo's /image must never mix with a robot's
    # topics on the same network, nor the robot's frames with the demo's.
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    domain = args.domain_id if args.domain_id is not None else random.randint(150, 220)
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=domain)
    try:
        camera = CameraSourceNode(context=context, parameter_overrides=[
            Parameter("source", value=args.source),
            Parameter("rate", value=float(args.rate)),
            Parameter("width", value=args.width), Parameter("height", value=args.height),
        ])
    except (FrameSourceError, ValueError) as exc:
        print(f"deblur-ros demo: {exc}", file=sys.stderr)
        rclpy.shutdown(context=context)
        return 2
    live_params = [Parameter("device", value=args.device),
                   Parameter("threads", value=max(0, args.threads))]
    if args.model:
        live_params.append(Parameter("model", value=args.model))
    live = LiveDeblurNode(context=context, parameter_overrides=live_params)

    probe = Node("deblur_demo_probe", context=context)
    inputs: dict[tuple[int, int], np.ndarray] = {}
    results: list[tuple[float, np.ndarray, np.ndarray, float]] = []
    done = threading.Event()

    def key(msg: Image) -> tuple[int, int]:
        return msg.header.stamp.sec, msg.header.stamp.nanosec

    def on_input(msg: Image) -> None:
        inputs[key(msg)] = array_from_image(msg)
        while len(inputs) > 50:
            inputs.pop(next(iter(inputs)))

    def on_output(msg: Image) -> None:
        now = probe.get_clock().now().nanoseconds
        stamp = stamp_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)
        before = inputs.get(key(msg))
        if before is not None:
            results.append(
                ((now - stamp) / 1e6, before, array_from_image(msg), time.monotonic()))
        if len(results) >= args.frames:
            done.set()

    probe.create_subscription(Image, "image", on_input, 10)
    probe.create_subscription(Image, "deblurred/image", on_output, 10)

    executor = MultiThreadedExecutor(num_threads=4, context=context)
    for node in (camera, live, probe):
        executor.add_node(node)
    spin = threading.Thread(target=executor.spin, name="demo_spin")
    spin.start()
    code = 0
    try:
        from rclpy.lifecycle import TransitionCallbackReturn

        if live.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            print(f"deblur-ros demo: the live node did not configure: {live.last_error}",
                  file=sys.stderr)
            code = 2
        else:
            live.trigger_activate()
            print(f"demo: {camera.source.width}x{camera.source.height} '{args.source}' at "
                  f"{args.rate:g} Hz -> {live.model_name} on {live.device_name} "
                  f"(private ROS domain {domain}, this host only); "
                  f"waiting for {args.frames} deblurred frames ...", flush=True)
            if not done.wait(args.timeout):
                print(f"deblur-ros demo: only {len(results)} frames in {args.timeout:g} s",
                      file=sys.stderr)
                code = 1
    finally:
        executor.shutdown()
        spin.join()
        live.shutdown_quietly()
        for node in (camera, live, probe):
            node.destroy_node()
        rclpy.try_shutdown(context=context)
    if code == 2 or not results:
        return code or 1
    stats = live.stats.snapshot()
    latencies = np.array([r[0] for r in results])
    _, before, after, _ = results[-1]
    span = results[-1][3] - results[0][3]
    fps = (len(results) - 1) / span if span > 0 else float("nan")
    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / "before_after.png"
    cv2.imwrite(str(png), cv2.cvtColor(
        with_detail(before, after, ["input (blurry)", "deblurred"]), cv2.COLOR_RGB2BGR))
    print(f"wrote {png}")
    print(f"deblurred {len(results)} frames: {fps:.2f} fps (camera {args.rate:g} Hz, "
          f"dropped {stats['dropped']} of {stats['received']})")
    print(f"latency camera -> deblurred topic: p50 {np.percentile(latencies, 50):.0f} ms, "
          f"p95 {np.percentile(latencies, 95):.0f} ms")
    print(f"sharpness (variance of Laplacian) input {sharpness(before):.1f} -> "
          f"output {sharpness(after):.1f}")
    return code
