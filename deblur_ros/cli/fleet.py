"""``deblur-ros fleet IN_DIR OUT_DIR``: every rosbag2 bag under a folder, deblurred on Ray.

The same job and options as ``deblur-ros bag``, one Ray task per bag; each output lands
at the bag's relative path under OUT_DIR. Re-running skips bags already done.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deblur_ros.cli.args import positive_int, stop_on_signals
from deblur_ros.cli.bag import add_job_options, job_options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deblur-ros fleet", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="folder searched for rosbag2 bags")
    parser.add_argument("output", type=Path, help="folder for the deblurred bags")
    add_job_options(parser)
    ray = parser.add_argument_group("Ray")
    ray.add_argument("--address", default=None,
                     help="auto or ray://HOST:PORT to join a running cluster (its nodes "
                     "need deblur_ros installed); default: a local Ray instance")
    ray.add_argument("--workers", type=positive_int, default=None,
                     help="CPUs of the local Ray instance (default: all cores)")
    ray.add_argument("--cpus-per-task", type=positive_int, default=1,
                     help="CPUs Ray reserves per bag, also the model's threads (default 1)")
    ray.add_argument("--part-seconds", type=float, default=0.0,
                     help="split bags longer than 1.5x this into parts of about this many "
                     "seconds, one task each, stitched back (default 0: one task per bag)")
    ray.add_argument("--retries", type=int, default=2,
                     help="retries of a task whose worker died (default 2)")
    return parser


def format_table(rows) -> str:
    lines = [f"{'bag':<32} {'status':<8} {'parts':>5} {'frames':>7} {'seconds':>8} "
             f"{'frames/s':>9}  note"]
    for r in rows:
        lines.append(f"{r.bag:<32} {r.status:<8} {r.parts:>5} {r.frames:>7} "
                     f"{r.seconds:>8.1f} {r.fps:>9.1f}  {r.error}")
    done = [r for r in rows if r.status == "done"]
    frames = sum(r.frames for r in done)
    lines.append(f"{len(done)} done, {sum(r.status == 'skipped' for r in rows)} skipped, "
                 f"{sum(r.status == 'failed' for r in rows)} failed; {frames} frames")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    stop_on_signals()
    from tqdm import tqdm

    from deblur_ros.fleet.ray_runner import FleetError, find_bags, run_fleet
    from deblur_ros.jobs.bag_deblur import BagError

    try:
        options = job_options(args)
        total = len(find_bags(args.input)) if args.input.is_dir() else 0
        with tqdm(total=total, desc="bags", unit="bag", disable=None) as bar:
            rows = run_fleet(args.input, args.output, options, address=args.address,
                             workers=args.workers, cpus_per_task=args.cpus_per_task,
                             retries=max(0, args.retries), part_seconds=args.part_seconds,
                             on_row=lambda row: bar.update(1))
    except (FleetError, BagError) as exc:
        print(f"deblur-ros fleet: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deblur-ros fleet: stopped; finished bags are kept, the same command resumes "
              "the rest", file=sys.stderr)
        return 130
    print(format_table(rows))
    return 1 if any(r.status == "failed" for r in rows) else 0
