"""Does the scene-cut test separate cuts from motion, and what does a missed cut cost?

Benchmarks often hand a model one folder of frames from several clips (``eval --blur
DIR``), and a robot's camera topic can switch sources. The recurrent model then starts
each clip from the previous clip's state and neighbours. This study:

1. measures :func:`scene_cuts.distance` between consecutive frames of real clips (pairs
   datasets and folders of real footage without truth) and between frames of different
   clips, which is what the threshold is chosen from;
2. concatenates the pairs datasets into one folder (links) and scores it with
   ``deblur-ros eval`` with the cut test on and off, beside ``--dataset`` (each clip from
   a fresh state);
3. times the test per frame.

    python bench/scene_cuts_study.py eval_out/x4k_t11_ho eval_out/x4k_t25_ho \
        --footage ../shared/data/real_blur/street_night ../shared/data/real_blur/blurcar2

Results of 2026-12-05: ``models/MODELS.md``, "Scene cuts".
"""
from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from deblur_ros.adapters.frame_sources import FolderSource, pairs_dataset
from deblur_ros.cli.main import main as deblur_ros
from deblur_ros.core.inference.scene_cuts import DEFAULT_CUT_THRESHOLD, distance, signature
from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.models.checkpoint import resolve_model
from deblur_ros.core.scoring.evaluation import evaluate_sequence


def clip_id(name: str) -> str:
    """X4K pairs of one clip at two exposures share their name: not a pair of scenes."""
    return name.split("/")[-1]


def separation(sequences: dict[str, list[Path]]) -> dict:
    within, across = {}, []
    middles = {}
    for name, paths in sequences.items():
        sigs = [signature(cv2.imread(str(p))) for p in paths]
        within[name] = max((distance(a, b) for a, b in zip(sigs, sigs[1:])), default=0.0)
        middles[name] = sigs[len(sigs) // 2]
    for (n1, a), (n2, b) in itertools.combinations(middles.items(), 2):
        if clip_id(n1) != clip_id(n2):
            across.append((distance(a, b), n1, n2))
    return {"within_max": max(within.items(), key=lambda kv: kv[1]),
            "within_pairs": sum(len(p) - 1 for p in sequences.values()),
            "across_min": min(across), "across_pairs": len(across)}


def score(args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        out = Path(tmp) / "figures.json"
        assert deblur_ros(["eval", *args, "--device", "cpu", "--strips", "0",
                           "--json", str(out)]) == 0
        return json.loads(out.read_text())


def every_frame_a_cut(root: str, model: str) -> dict:
    """--dataset figures with a threshold no frame pair stays under: each frame restored
    alone, from a fresh state, with itself for neighbours."""
    stream = StreamingDeblurrer.from_checkpoint(resolve_model(model, "cpu"), "cpu",
                                                cut_threshold=1e-9)
    results = [evaluate_sequence(stream, iter(blur), iter(sharp), name, figures=("psnr",))
               for name, blur, sharp in pairs_dataset(root)]
    frames = sum(r.frames for r in results)
    return {"frames": frames, "scene_cuts": stream.cuts, **{side: {"psnr": sum(
        np.mean([p[i] for p in r.scores.psnr]) * r.frames for r in results) / frames}
        for i, side in enumerate(("input", "output"))}}


def camera_motion(frames: list[np.ndarray]) -> float:
    """The largest distance between a 640x360 frame under a 9 px streak and the same frame
    moved by 12 % of its width, zoomed 10 %, turned 5 degrees and under a 41 px streak:
    more than a 30 fps camera moves between two frames."""
    worst = 0.0
    for frame in frames:
        frame = cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA)
        turn = cv2.getRotationMatrix2D((320, 180), 5.0, 1.1)
        turn[0, 2] += 0.12 * 640
        moved = cv2.warpAffine(frame, turn, (640, 360), borderMode=cv2.BORDER_REFLECT)
        worst = max(worst, distance(signature(cv2.blur(frame, (9, 1))),
                                    signature(cv2.blur(moved, (41, 1)))))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="+", help="pairs datasets: <clip>/blur, <clip>/sharp")
    parser.add_argument("--footage", nargs="*", default=[],
                        help="folders of real consecutive frames (no truth)")
    parser.add_argument("--model", default="strcnn-w16-m1")
    parser.add_argument("--threads", default="2")
    args = parser.parse_args()

    sequences = {}
    for root in args.datasets:
        for name, blur, _ in pairs_dataset(root):
            sequences[f"{Path(root).name}/{name}"] = list(blur.paths)
    for folder in args.footage:
        sequences[Path(folder).name] = list(FolderSource(folder).paths)
    sep = separation(sequences)
    sharp = [cv2.imread(str(paths[len(paths) // 2]).replace("/blur/", "/sharp/"))
             for name, paths in sequences.items() if "/" in name]
    print(f"threshold {DEFAULT_CUT_THRESHOLD}: largest distance within a clip "
          f"{sep['within_max'][1]:.3f} ({sep['within_max'][0]}, {sep['within_pairs']} pairs); "
          f"with strong synthetic camera motion {camera_motion(sharp):.3f} ({len(sharp)} "
          f"frames); smallest between clips {sep['across_min'][0]:.3f} "
          f"({sep['across_min'][1]} vs {sep['across_min'][2]}, {sep['across_pairs']} pairs)")

    with tempfile.TemporaryDirectory() as tmp:
        flat = {kind: Path(tmp) / kind for kind in ("blur", "sharp")}
        for folder in flat.values():
            folder.mkdir()
        for root in args.datasets:
            for name, blur, sharp in pairs_dataset(root):
                for kind, source in (("blur", blur), ("sharp", sharp)):
                    for path in source.paths:
                        link = flat[kind] / f"{Path(root).name}_{name}_{path.name}"
                        link.symlink_to(Path(path).resolve())
        common = ["--model", args.model, "--threads", args.threads]
        rows = [("each clip alone (--dataset)", None,
                 [score(["--dataset", root, *common]) for root in args.datasets])]
        for cuts in ("on", "off"):
            rows.append((f"one folder, --scene-cuts {cuts}", cuts,
                         [score(["--blur", str(flat["blur"]), "--sharp", str(flat["sharp"]),
                                 "--scene-cuts", cuts, *common])]))
        rows.append(("each clip, every frame taken for a cut (what false cuts cost at most)",
                     None, [every_frame_a_cut(root, args.model) for root in args.datasets]))
    print(f"\n{args.model}, {', '.join(args.datasets)} ({len(sequences)} sequences), "
          f"{platform.processor() or platform.machine()}, {args.threads} threads")
    print("| run | frames | PSNR input | PSNR output | gain | cuts found |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, _, results in rows:
        frames = sum(r["frames"] for r in results)

        def mean(side: str, results: list = results, frames: int = frames) -> float:
            return sum(r[side]["psnr"] * r["frames"] for r in results) / frames

        found = [r.get("scene_cuts") for r in results]
        cuts = None if None in found else sum(found)
        print(f"| {label} | {frames} | {mean('input'):.2f} | {mean('output'):.2f} | "
              f"{mean('output') - mean('input'):+.2f} | {'-' if cuts is None else cuts} |")

    print()
    for height, width in ((480, 640), (720, 1280)):
        frame = (np.random.default_rng(0).random((height, width, 3)) * 255).astype(np.uint8)
        first = signature(frame)
        start, n = time.perf_counter(), 200
        for _ in range(n):
            distance(first, signature(frame))
        print(f"cut test at {width}x{height}: {(time.perf_counter() - start) / n * 1e3:.2f} ms "
              "a frame")


if __name__ == "__main__":
    main()
