"""``deblur-ros bench --bag``: what the bag tool costs over the bare model, and how a fleet
scales with Ray workers on this machine.

A 640x480 synthetic drive (the shaky-camera generator) is written as an MCAP bag with a
camera_info beside every frame and an IMU at 100 Hz, like a robot's recording. Then:

- **model**: the streaming deblurrer alone over the same frames, already decoded
  (push/flush only), with the job's backend, precision and threads;
- **bag**: ``deblur_bag`` over the bag: read, deserialise, decode, deblur, encode,
  serialise, write, and every IMU/camera_info message copied; overhead = model fps /
  bag fps - 1 (the issue's target: under 15%);
- **fleet**: ``run_fleet`` over several copies of the bag with 1 and 2 local Ray workers
  (1 CPU each), wall clock including Ray's start, frames of all bags / wall seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from deblur_ros.cli.args import positive_int, writable_file

IMU_HZ = 100


def write_drive_bag(path: Path, frames: int, width: int = 640, height: int = 480,
                    fps: float = 30.0) -> list[np.ndarray]:
    """A synthetic drive as a bag (returns the frames written)."""
    from itertools import islice

    from deblur_ros.adapters.bags import (
        BagLayout,
        BagWriter,
        image_message,
        serialize,
        typestore,
    )
    from deblur_ros.adapters.pixels import pack_array
    from deblur_ros.core.synthesis.shaky_camera import synthetic_shaky_stream

    store = typestore()
    T = store.types
    writer = BagWriter(path, BagLayout("mcap", 9))

    cam = writer.add_standard("/camera/image_raw", "sensor_msgs/msg/Image")
    info = writer.add_standard("/camera/camera_info", "sensor_msgs/msg/CameraInfo")
    imu = writer.add_standard("/imu/data", "sensor_msgs/msg/Imu")
    written = []
    period = int(1e9 / fps)
    for i, (blurry, _) in enumerate(islice(synthetic_shaky_stream(width, height, seed=3),
                                           frames)):
        t = 1_700_000_000 * 10**9 + i * period
        header = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](
            sec=t // 10**9, nanosec=t % 10**9), frame_id="camera")
        rgb = np.ascontiguousarray(blurry)
        writer.write(cam, t, serialize(image_message(header, pack_array(rgb, "rgb8")),
                                       cam.msgtype))
        cinfo = T["sensor_msgs/msg/CameraInfo"](
            header=header, height=height, width=width, distortion_model="plumb_bob",
            d=np.zeros(5), k=np.eye(3).reshape(-1), r=np.eye(3).reshape(-1),
            p=np.zeros(12), binning_x=0, binning_y=0,
            roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0,
                                                      width=0, do_rectify=False))
        writer.write(info, t + 1000, serialize(cinfo, info.msgtype))
        for k in range(int(IMU_HZ / fps) or 1):
            m = T["sensor_msgs/msg/Imu"](
                header=header, orientation=T["geometry_msgs/msg/Quaternion"](
                    x=0.0, y=0.0, z=0.0, w=1.0), orientation_covariance=np.zeros(9),
                angular_velocity=T["geometry_msgs/msg/Vector3"](x=0.1 * k, y=0.0, z=0.0),
                angular_velocity_covariance=np.zeros(9),
                linear_acceleration=T["geometry_msgs/msg/Vector3"](x=0.0, y=9.8, z=0.0),
                linear_acceleration_covariance=np.zeros(9))
            writer.write(imu, t + 2000 + k * int(1e9 / IMU_HZ), serialize(m, imu.msgtype))
        written.append(rgb)
    writer.close()
    return written


def bench_bare_model(frames: list[np.ndarray], options) -> dict:
    from deblur_ros.core.imaging import to_float01
    from deblur_ros.core.inference.runners import default_threads
    from deblur_ros.core.inference.streaming import StreamingDeblurrer
    from deblur_ros.core.models.checkpoint import resolve_model

    stream = StreamingDeblurrer.from_checkpoint(
        resolve_model(options.model, options.device), options.device, options.backend,
        options.precision, options.threads or default_threads())
    decoded = [to_float01(f) for f in frames]
    stream.process(decoded[:3])  # warm-up: allocation, first-call costs
    stream.reset()
    start = time.perf_counter()
    for i, frame in enumerate(decoded):
        stream.push(frame, i)
    stream.flush()
    seconds = time.perf_counter() - start
    runner = stream.runner
    return {"path": "model", "model": stream.name, "backend": runner.name,
            "precision": runner.precision, "frames": len(frames), "seconds": seconds,
            "fps": len(frames) / seconds}


def bench_bag_job(bag: Path, work: Path, options) -> dict:
    from deblur_ros.jobs.bag_deblur import deblur_bag

    summary = deblur_bag(bag, work / "out", options)
    shutil.rmtree(work / "out")
    return {"path": "bag", "model": summary.model, "frames": summary.frames,
            "copied": summary.copied, "seconds": summary.seconds, "fps": summary.fps}


def bench_fleet(bag: Path, work: Path, options, bags: int, workers: int) -> dict:
    from deblur_ros.fleet.ray_runner import run_fleet

    fleet_in = work / "fleet"
    if not fleet_in.exists():
        for i in range(bags):
            shutil.copytree(bag, fleet_in / f"drive_{i:02d}")
    out = work / f"fleet_out_{workers}"
    start = time.perf_counter()
    rows = run_fleet(fleet_in, out, options, workers=workers, cpus_per_task=1)
    wall = time.perf_counter() - start
    shutil.rmtree(out)
    frames = sum(r.frames for r in rows)
    failed = [r.error for r in rows if r.status != "done"]
    if failed:
        raise RuntimeError(f"fleet bench: {failed[0]}")
    return {"path": f"fleet x{workers}", "frames": frames, "bags": bags, "workers": workers,
            "seconds": wall, "fps": frames / wall,
            "task_fps": float(np.mean([r.fps for r in rows]))}


def format_table(rows: list[dict]) -> str:
    lines = ["| path | frames | seconds | frames/s | note |", "|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['path']} | {r['frames']} | {r['seconds']:.1f} | {r['fps']:.2f} | "
                     f"{r.get('note', '')} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deblur-ros bench --bag",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--bag", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=positive_int, default=150,
                        help="frames in the benchmark bag (640x480, 30 Hz)")
    parser.add_argument("--model", default=None, help="live model (default: auto)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=0,
                        help="model threads for the bag and model rows (0: all cores)")
    parser.add_argument("--fleet-bags", type=positive_int, default=4,
                        help="bags in the fleet rows (copies of the benchmark bag)")
    parser.add_argument("--no-fleet", action="store_true", help="skip the Ray rows")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    problem = args.json and writable_file(args.json, "--json", make_parents=True)
    if problem:
        parser.error(problem)
    import torch

    from deblur_ros.core.hardware import hardware_description
    from deblur_ros.jobs.bag_deblur import BagOptions

    options = BagOptions(model=args.model, backend=args.backend, precision=args.precision,
                         threads=max(0, args.threads))
    hw = hardware_description(torch.device("cpu"))
    print(f"hardware: {hw}; torch {torch.__version__}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="deblur_bench_bag_") as tmp:
        work = Path(tmp)
        bag = work / "drive"
        frames = write_drive_bag(bag, args.frames)
        model = bench_bare_model(frames, options)
        rows.append(model | {"note": f"{model['model']} {model['backend']} "
                                     f"{model['precision']}, frames already decoded"})
        print(format_table(rows[-1:]).splitlines()[-1], flush=True)
        job = bench_bag_job(bag, work, options)
        overhead = model["fps"] / job["fps"] - 1.0
        job["overhead"] = overhead
        rows.append(job | {"note": f"{job['copied']} other messages copied; overhead "
                                   f"{100 * overhead:.1f}% over the model row"})
        print(format_table(rows[-1:]).splitlines()[-1], flush=True)
        if not args.no_fleet:
            for workers in (1, 2):
                fleet = bench_fleet(bag, work, options, args.fleet_bags, workers)
                rows.append(fleet | {"note": f"{args.fleet_bags} bags, {workers} Ray "
                                             f"worker(s) x 1 CPU, wall incl. Ray start; "
                                             f"{fleet['task_fps']:.1f} frames/s per task"})
                print(format_table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(format_table(rows))
    print(f"bag tool overhead over the bare model: {100 * overhead:.1f}% (target < 15%: "
          f"{'met' if overhead < 0.15 else 'missed'})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r | {"hardware": hw, "torch": torch.__version__}
                                         for r in rows], indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
