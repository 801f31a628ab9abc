"""``deblur-ros``: one command for users, with subcommands.

``live`` and ``camera`` are the ROS nodes (everything after them, ``--ros-args``
included, goes to rclpy); ``demo``, ``bench``, ``train`` and ``eval`` are jobs that start and end.
"""

from __future__ import annotations

import argparse
import sys

USAGE = """deblur-ros <command> [options]

commands:
  demo     synthetic camera -> live node -> side-by-side PNG, throughput and latency
  live     the live deblurring lifecycle node (deblur-ros live --ros-args -r image:=/cam/image)
  camera   the camera/video source node (deblur-ros camera --ros-args -p source:=clip.mp4)
  bench    model and ROS throughput/latency table (--json FILE)
  train    train a model: deblur-ros train live --help
  eval     score a model on blurry frames/video (PSNR, SSIM, E_warp, sharpness, fps)
  pairs    real-motion blurry/sharp pairs from high-frame-rate video (for eval --dataset)
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "live":
        from deblur_ros.nodes.live_node import main as live_main

        return live_main(["deblur-ros live", *rest])
    if command == "camera":
        from deblur_ros.nodes.camera_source import main as camera_main

        return camera_main(["deblur-ros camera", *rest])
    if command == "demo":
        from deblur_ros.cli.demo import main as demo_main

        return demo_main(rest)
    if command == "bench":
        from deblur_ros.cli.bench import main as bench_main

        return bench_main(rest)
    if command == "train":
        from deblur_ros.cli.train import main as train_main

        return train_main(rest)
    if command == "eval":
        from deblur_ros.cli.eval import main as eval_main

        return eval_main(rest)
    if command == "pairs":
        from deblur_ros.cli.pairs import main as pairs_main

        return pairs_main(rest)
    print(f"deblur-ros: unknown command '{command}'\n\n{USAGE}", file=sys.stderr)
    return 2


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
