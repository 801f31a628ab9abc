"""``deblur-ros bag IN OUT``: a deblurred copy of a rosbag2 recording (sqlite3 or MCAP).

Every other topic, message, timestamp, definition, type hash and QoS profile is copied
unchanged; the deblurred frames keep their bag timestamps and headers. The job itself is
:func:`deblur_ros.jobs.bag_deblur.deblur_bag`, which ``deblur-ros fleet`` runs too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deblur_ros.cli.args import deadzone, positive_float, positive_int, stop_on_signals
from deblur_ros.core.inference.deadzone import DEFAULT_DEADZONE

EPILOG = """examples:
  deblur-ros bag drive/ drive_deblurred/ --topic /camera/image_raw
      adds /camera/image_raw/deblurred (+ /camera/image_raw/camera_info)
  deblur-ros bag drive/ out/ --topic /camera/image_raw --replace --version 8
      frames replaced in place, metadata Humble can read
  deblur-ros bag drive/ out/ --mode scene --fit-seconds 600
      fit a scene model to the drive's sharpest frames first (saved as out.scene/)
"""


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """The options ``bag`` and ``fleet`` share (one job, one set of options)."""
    parser.add_argument("--topic", action="append", default=[], metavar="TOPIC",
                        help="image topic to deblur (sensor_msgs/Image or CompressedImage); "
                        "repeat for several; default: every image topic")
    parser.add_argument("--mode", choices=("live", "scene"), default="live",
                        help="live: the streaming STRCNN+DTB model, one pass (default); "
                        "scene: fit a scene U-Net to the bag's sharpest frames, then deblur")
    parser.add_argument("--model", default=None,
                        help="live: shipped name or .pt path (default: auto); scene: a "
                        "fitted scene model to apply instead of fitting one")
    parser.add_argument("--backend", default="auto",
                        help="auto, torch, openvino, onnxruntime or cuda (live mode)")
    parser.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for the model (0: all cores)")
    parser.add_argument("--deadzone", type=deadzone, default=None, metavar="auto|N",
                        help="live mode: grey levels (of 255) of the model's correction "
                        "dropped as noise; auto (default): the model's own measured value, "
                        f"{DEFAULT_DEADZONE:g} when it records none; 0: the raw network")
    parser.add_argument("--mirror", type=int, choices=(1, 2, 4), default=1,
                        help="live mode: average the stream with its left-right mirror (2) "
                        "and also its up-down ones (4), each run on its own; 2x or 4x the "
                        "time (default 1)")
    parser.add_argument("--scene-cuts", choices=("on", "off"), default="on",
                        help="live mode: restart a topic's stream where its frames change "
                        "scene (a switched camera, recordings joined), so no scene starts "
                        "from another's state (default on)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--suffix", default="/deblurred",
                       help="add the deblurred frames as TOPIC+SUFFIX, with a camera_info "
                       "copy beside them (default: /deblurred)")
    where.add_argument("--replace", action="store_true",
                       help="put the deblurred frames in place of the original topic")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default=None,
                        help="output storage (default: the input's)")
    parser.add_argument("--version", type=int, choices=(8, 9), default=None,
                        help="output metadata version (default: the input's; 8 lets Humble "
                        "read it)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output bag (only once the new one is done)")
    scene = parser.add_argument_group("scene mode")
    scene.add_argument("--window", type=positive_int, default=20,
                       help="keep the sharpest frame of every WINDOW frames (default 20)")
    scene.add_argument("--max-selected", type=positive_int, default=60,
                       help="at most this many selected frames, least sharp dropped first")
    scene.add_argument("--fit-seconds", type=positive_float, default=None,
                       help="fit budget in seconds (default: the scene fitter's, 600, "
                       "unless --fit-iterations)")
    scene.add_argument("--fit-iterations", type=positive_int, default=None,
                       help="fit budget in steps")
    scene.add_argument("--scene-init", default="auto",
                       help="auto (shipped MAML weights), random, or a .pt path")
    scene.add_argument("--scene-gate", choices=("on", "off"), default="on",
                       help="frames nearly as sharp as the sharpest of their window get less "
                       "of the model's output, the sharpest none (default on; off: the raw "
                       "model)")


def job_options(args: argparse.Namespace):
    from deblur_ros.jobs.bag_deblur import BagOptions

    return BagOptions(
        topics=tuple(args.topic), mode=args.mode, model=args.model, backend=args.backend,
        precision=args.precision, device=args.device, threads=max(0, args.threads),
        deadzone=args.deadzone, mirror=args.mirror, scene_cuts=args.scene_cuts == "on",
        suffix=args.suffix, replace=args.replace, storage=args.storage,
        version=args.version, overwrite=args.overwrite, window=args.window,
        max_selected=args.max_selected, fit_seconds=args.fit_seconds,
        fit_iterations=args.fit_iterations, scene_init=args.scene_init,
        sharpness_gate=args.scene_gate == "on")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deblur-ros bag", description=__doc__.split("\n\n")[0],
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="rosbag2 folder (sqlite3 or MCAP)")
    parser.add_argument("output", type=Path, help="output bag folder (must not exist)")
    add_job_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def print_summary(summary) -> None:
    print(f"wrote {summary.output} ({summary.storage}, metadata version {summary.version}) "
          f"with {summary.model}")
    for top in summary.topics:
        extra = f", passed through undecodable: {top.passed_through}" \
            if top.passed_through else ""
        if top.scene_cuts:
            extra += f", scene cuts {top.scene_cuts} (the stream restarted at each)"
        print(f"  {top.topic} -> {top.out_topic}: {top.frames} frames, deblurred "
              f"{top.deblurred}, dropped {top.dropped}{extra}")
    print(f"  other messages copied unchanged: {summary.copied}")
    fit = f" (+ {summary.fit_seconds:.0f} s fitting)" if summary.fit_seconds else ""
    print(f"  {summary.frames} frames in {summary.seconds:.1f} s = {summary.fps:.1f} "
          f"frames/s{fit}")
    for path in summary.scene_models:
        print(f"  scene model: {path}")


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    stop_on_signals()
    from deblur_ros.jobs.bag_deblur import BagError, deblur_bag, progress_bars

    try:
        options = job_options(args)
        with progress_bars(False if args.no_progress else None) as bars:
            summary = deblur_bag(args.input, args.output, options, progress=bars,
                                 log=lambda text: print(text, file=sys.stderr))
    except BagError as exc:
        print(f"deblur-ros bag: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"deblur-ros bag: stopped; no output written ({args.output} does not exist "
              "yet; run the same command again)", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full while writing, permissions
        print(f"deblur-ros bag: {exc.strerror or exc} ({exc.filename or args.output}); "
              "nothing was written", file=sys.stderr)
        return 1
    print_summary(summary)
    return 0
