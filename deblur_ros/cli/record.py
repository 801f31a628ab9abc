"""``deblur-ros record``: save an image topic to a video or a folder of PNGs.

For seeing the deblurred output on a machine without a ROS desktop (no rqt_image_view):
``deblur-ros record --topic deblurred/image out.mp4`` while the live node runs, then
play the file. A folder keeps every frame losslessly with its stamp (``stamps.csv``).
The subscription is best effort, which matches reliable and best-effort publishers alike.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from deblur_ros.cli.args import positive_float, positive_int, writable_file, writable_folder
from deblur_ros.core.imaging import from_float01, stamp_ns

VIDEO_SUFFIXES = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}


class _Writer:
    """Frames to a video (fixed size: the first frame's) or to numbered PNGs."""

    def __init__(self, out: Path, fps: float) -> None:
        self.out, self.fps = out, fps
        self.video: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None
        self.written = 0
        self.skipped = 0  # frames of another size than a video's first one
        self._stamps = None
        if out.suffix.lower() not in VIDEO_SUFFIXES:
            out.mkdir(parents=True, exist_ok=True)
            self._stamps = open(out / "stamps.csv", "w")
            self._stamps.write("file,stamp_ns\n")

    def write(self, bgr: np.ndarray, stamp: int) -> None:
        if self._stamps is not None:
            name = f"{self.written:06d}.png"
            cv2.imwrite(str(self.out / name), bgr)
            self._stamps.write(f"{name},{stamp}\n")
            self.written += 1
            return
        size = (bgr.shape[1], bgr.shape[0])
        if self.video is None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_SUFFIXES[self.out.suffix.lower()])
            self.video = cv2.VideoWriter(str(self.out), fourcc, self.fps, size)
            if not self.video.isOpened():
                raise OSError(f"OpenCV cannot write {self.out} (codec "
                              f"{VIDEO_SUFFIXES[self.out.suffix.lower()]}); use a folder")
            self.size = size
        if size != self.size:
            self.skipped += 1
            return
        self.video.write(np.ascontiguousarray(bgr))
        self.written += 1

    def close(self) -> None:
        if self.video is not None:
            self.video.release()
        if self._stamps is not None:
            self._stamps.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deblur-ros record",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="a .mp4/.avi/.mkv file, or a folder for PNGs")
    parser.add_argument("--topic", default="deblurred/image", help="default: deblurred/image")
    parser.add_argument("--frames", type=positive_int, default=None,
                        help="stop after this many frames (default: until Ctrl-C)")
    parser.add_argument("--seconds", type=positive_float, default=None,
                        help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--fps", type=positive_float, default=10.0,
                        help="frame rate written into a video file (default 10)")
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    video = args.out.suffix.lower() in VIDEO_SUFFIXES
    problem = (writable_file(args.out, "OUT", make_parents=True) if video
               else writable_folder(args.out, "OUT"))
    if problem:
        parser.error(problem)

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from tqdm import tqdm

    from deblur_ros.adapters.pixels import (
        MalformedImageError,
        UnsupportedEncodingError,
        decode_image,
    )

    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    node = rclpy.create_node("deblur_record", context=context)
    writer = _Writer(args.out, args.fps)
    done = threading.Event()
    rejected: list[str] = []
    bar = tqdm(total=args.frames, unit="frame", desc=f"recording {args.topic}",
               dynamic_ncols=True, disable=None)

    def on_image(msg: Image) -> None:
        if done.is_set():
            return
        try:
            rgb = decode_image(msg).rgb
        except (UnsupportedEncodingError, MalformedImageError) as exc:
            if not rejected:
                print(f"deblur-ros record: skipping frames: {exc}", file=sys.stderr)
            rejected.append(str(exc))
            return
        u8 = from_float01(rgb, np.uint8)
        bgr = u8[:, :, 0] if u8.shape[2] == 1 else cv2.cvtColor(u8, cv2.COLOR_RGB2BGR)
        writer.write(bgr, stamp_ns(msg.header.stamp.sec, msg.header.stamp.nanosec))
        bar.update(1)
        if args.frames and writer.written >= args.frames:
            done.set()

    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
    node.create_subscription(Image, args.topic, on_image, qos)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    # Ctrl-C / SIGTERM end the recording and still close the file properly.
    previous = {sig: signal.signal(sig, lambda *_: done.set())
                for sig in (signal.SIGINT, signal.SIGTERM)} \
        if threading.current_thread() is threading.main_thread() else {}
    deadline = time.monotonic() + args.seconds if args.seconds else None
    code = 0
    try:
        while not done.is_set():
            executor.spin_once(timeout_sec=0.1)
            if deadline is not None and time.monotonic() >= deadline:
                break
    except OSError as exc:
        print(f"deblur-ros record: {exc}", file=sys.stderr)
        code = 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        bar.close()
        writer.close()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    note = f", {writer.skipped} of another size skipped" if writer.skipped else ""
    note += f", {len(rejected)} undecodable skipped" if rejected else ""
    print(f"wrote {writer.written} frames to {args.out}{note}")
    if writer.written == 0 and code == 0:
        print(f"deblur-ros record: no frames arrived on '{args.topic}' (is the node active? "
              "check the topic name and ROS_DOMAIN_ID)", file=sys.stderr)
        code = 1
    return code
