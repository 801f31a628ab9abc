"""``deblur-ros``: one command for users, with subcommands.

``live`` and ``camera`` are the ROS nodes (everything after them, ``--ros-args``
included, goes to rclpy); the others are jobs that start and end. Each command is a
module with ``main(argv) -> exit code``, imported only when it runs, so ``deblur-ros
eval`` never loads rclpy and ``deblur-ros live`` never loads the training code.
"""

from __future__ import annotations

import importlib
import sys

# name -> (module, what it does); modules get argv without the command name, except the
# nodes, whose rclpy argument parsing expects a program name first.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("deblur_ros.cli.demo",
             "synthetic camera -> live node -> side-by-side PNG, throughput and latency"),
    "live": ("deblur_ros.nodes.live_node",
             "the live deblurring lifecycle node "
             "(deblur-ros live --ros-args -r image:=/cam/image)"),
    "camera": ("deblur_ros.nodes.camera_source",
               "the camera/video source node (deblur-ros camera --ros-args -p source:=clip.mp4)"),
    "scene": ("deblur_ros.nodes.scene_node",
              "the scene sidecar lifecycle node: select sharp frames, fit, republish "
              "(deblur-ros scene --ros-args -p autostart:=true -r image:=/cam/image)"),
    "bench": ("deblur_ros.cli.bench", "model and ROS throughput/latency table (--json FILE)"),
    "train": ("deblur_ros.cli.train",
              "train a model: deblur-ros train live --help, train scene-meta --help"),
    "eval": ("deblur_ros.cli.eval",
             "score a model on blurry frames/video (PSNR, SSIM, E_warp, sharpness, fps)"),
    "record": ("deblur_ros.cli.record",
               "save an image topic to a video or PNG folder (record --topic deblurred/image "
               "out.mp4)"),
    "bag": ("deblur_ros.cli.bag",
            "deblur a rosbag2 recording, everything else copied unchanged "
            "(bag IN OUT --topic /camera/image_raw)"),
    "fleet": ("deblur_ros.cli.fleet",
              "deblur every bag under a folder on Ray (fleet IN_DIR OUT_DIR; extra [fleet])"),
    "pairs": ("deblur_ros.cli.pairs",
              "real-motion blurry/sharp pairs from high-frame-rate video (for eval --dataset)"),
}
NODE_COMMANDS = ("live", "camera", "scene")

USAGE = "deblur-ros <command> [options]\n\ncommands:\n" + "\n".join(
    f"  {name:<8} {text}" for name, (_, text) in COMMANDS.items())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"deblur-ros: unknown command '{command}'\n\n{USAGE}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    if command in NODE_COMMANDS:
        return module.main([f"deblur-ros {command}", *rest])
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
