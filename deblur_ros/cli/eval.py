"""``deblur-ros eval``: score a model on blurry video, beside the blurry input itself.

Three kinds of input:

- ``--blur DIR_OR_VIDEO [--sharp DIR_OR_VIDEO]``: one sequence (frames in natural
  order, or a video file), or, when DIR holds folders of frames instead, each of them
  (matched by name in the --sharp folder), every one from a fresh recurrent state;
- ``--dataset ROOT``: every sub-folder of ROOT that holds ``blur/`` (and ``sharp/``),
  the GoPro layout;
- ``--validation``: the fixed validation renders the trainer scores against (kodak24
  photos, seed 1234, the blur levels of ``synthesis.motion.VALIDATION_LEVELS``), rendered
  in memory.

Reported for input and output: PSNR and SSIM (with ground truth), E_warp (Lai et
al. 2018, with the optical flow named), variance-of-Laplacian sharpness, and the
deblurrer's frames per second. ``--json`` writes them; ``--report DIR`` writes
side-by-side PNG strips (input | output | ground truth) and a markdown summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from deblur_ros.cli.args import (
    deadzone,
    non_negative_int,
    positive_int,
    writable_file,
    writable_folder,
)
from deblur_ros.core.inference.deadzone import DEFAULT_DEADZONE


def _limited(frames: Iterator[np.ndarray], limit: int | None) -> Iterator[np.ndarray]:
    for index, frame in enumerate(frames):
        if limit is not None and index >= limit:
            return
        yield frame


def _picks(args: argparse.Namespace, count: int | None) -> Callable[[int], bool]:
    if args.strip_frames:
        chosen = {int(i) for i in args.strip_frames.split(",") if i.strip()}
        return lambda index: index in chosen
    return _spread(count, args.strips)


def _spread(count: int | None, strips: int) -> Callable[[int], bool]:
    """Keep ``strips`` frames spread over a sequence of known length (else the first ones)."""
    if strips <= 0:
        return lambda index: False
    if not count:
        return lambda index: index < strips
    picks = {int(round(i)) for i in np.linspace(0, count - 1, min(strips, count))}
    return lambda index: index in picks


def _sequences(args: argparse.Namespace) -> Iterator[tuple[str, object, object, int | None]]:
    """(name, blurry frames, sharp frames or None, frame count if known) per sequence."""
    from deblur_ros.adapters.frame_sources import (
        FolderSource,
        FrameSourceError,
        open_source,
        pairs_dataset,
        sequence_folders,
    )

    def source(path: Path):
        if not path.exists():
            raise FrameSourceError(f"{str(path)!r} does not exist")
        return open_source(str(path))

    if args.scene_validation:
        from deblur_ros.core.synthesis.validation import scene_validation_drives

        for drive in scene_validation_drives():
            yield drive["name"], list(drive["blurry"]), list(drive["sharp"]), len(drive["blurry"])
        return
    if args.validation:
        from deblur_ros.core.scoring.validation import clip_name
        from deblur_ros.core.synthesis.validation import validation_set

        for i, clip in enumerate(validation_set(args.val_photos, args.val_size, args.val_frames)):
            name = clip_name(clip, i)
            yield name, list(clip["blurry"]), list(clip["sharp"]), len(clip["blurry"])
        return
    if args.dataset is not None:
        for name, blur, sharp in pairs_dataset(args.dataset):
            yield name, iter(blur), iter(sharp) if sharp else None, len(blur.paths)
        return
    sequences = sequence_folders(args.blur, args.sharp,
                                 lengths_must_match=args.max_frames is None)
    if sequences is not None:  # --blur ROOT/<sequence>/ and --sharp ROOT/<sequence>/
        for name, blur, sharp in sequences:
            count = len(blur.paths)
            yield (name, iter(blur), iter(sharp) if sharp else None,
                   min(count, args.max_frames) if args.max_frames else count)
        return
    blur = source(Path(args.blur).expanduser())
    sharp = source(Path(args.sharp).expanduser()) if args.sharp else None
    count = len(blur.paths) if isinstance(blur, FolderSource) else None
    if args.max_frames:
        count = min(count, args.max_frames) if count else None
    name = Path(args.blur).expanduser().resolve().name
    yield name, iter(blur), iter(sharp) if sharp is not None else None, count


def _sequences_named(args: argparse.Namespace) -> bool:
    """Whether the input says where its sequences start (then no scene-cut test runs)."""
    from deblur_ros.adapters.frame_sources import sequence_folders

    if args.blur is None:
        return True  # --dataset, --validation, --scene-validation
    return sequence_folders(args.blur, args.sharp,
                            lengths_must_match=args.max_frames is None) is not None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_summary(summary: dict) -> str:
    from deblur_ros.core.scoring.evaluation import BLURRIEST

    rows = [("PSNR (dB)", "psnr", 2), ("SSIM", "ssim", 4), ("E_warp (x1e-3)", "ewarp", 3),
            ("sharpness (var. of Laplacian)", "sharpness", 1),
            (f"sharpness, {BLURRIEST} blurriest input frames", "sharpness_blurriest", 1)]
    runner = f" ({summary['backend']} {summary['precision']})" if "backend" in summary else ""
    if "deadzone" in summary:
        runner += f", dead zone {summary['deadzone']:g}"
    if summary.get("mirror", 1) > 1:
        runner += f", {summary['mirror']} mirrored streams averaged"
    if summary.get("scene_cuts"):
        runner += f", {summary['scene_cuts']} scene cuts (the stream restarted at each)"
    lines = [f"model {summary['model']} on {summary['device']}{runner}, "
             f"{summary['frames']} frames, "
             f"{_fmt(summary['fps'])} fps; E_warp flow: {summary['flow']}",
             ""]
    truth = summary.get("truth")
    # The ground truth's own E_warp is the reference: under the input's flow a perfect
    # deblurrer scores worse than the blurry input (evaluation.SCORES says why).
    lines += (["| figure | blurry input | output | ground truth |", "|---|---:|---:|---:|"]
              if truth else ["| figure | blurry input | output |", "|---|---:|---:|"])
    if summary["input"].get("ewarp_gt") is not None:
        rows.insert(3, ("E_warp, flow of the ground truth (x1e-3)", "ewarp_gt", 3))
    for label, key, digits in rows:
        scale = 1000.0 if key.startswith("ewarp") else 1.0
        inp, out = summary["input"][key], summary["output"][key]
        line = f"| {label} | {_fmt(inp and inp * scale, digits)} " \
               f"| {_fmt(out and out * scale, digits)} |"
        if truth:
            value = truth.get(key)
            line += f" {_fmt(value and value * scale, digits)} |" if key in truth else " |"
        lines.append(line)
    return "\n".join(lines)


def format_sequences(summary: dict) -> str:
    """PSNR per sequence, so a set whose mean improves cannot hide one that got worse."""
    lines = ["| sequence | frames | PSNR input | PSNR output | gain |", "|---|---:|---:|---:|---:|"]
    for seq in summary["sequences"]:
        inp, out = seq["input"]["psnr"], seq["output"]["psnr"]
        gain = f"{out - inp:+.2f}" if inp is not None and out is not None else "n/a"
        lines.append(f"| {seq['name']} | {seq['frames']} | {_fmt(inp)} | {_fmt(out)} | {gain} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deblur-ros eval", description=__doc__.split("\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--blur", help="folder of blurry frames, a video file, or a folder of "
                                     "sequence folders (--sharp: the same names)")
    what.add_argument("--dataset", help="root with <sequence>/blur and <sequence>/sharp folders")
    what.add_argument("--validation", action="store_true",
                      help="the fixed validation renders (needs the kodak24 photos, "
                           "or renders procedural images without them)")
    what.add_argument("--scene-validation", action="store_true",
                      help="the fixed synthetic drives of the scene model (100 frames each, "
                           "blur that comes and goes; kodak24 photos)")
    parser.add_argument("--sharp", help="ground-truth frames for --blur (folder or video)")
    parser.add_argument("--model", default=None,
                        help="checkpoint path or shipped name (default: auto, the lite model on a "
                             "CPU, the paper's on CUDA); 'scene': fit a scene model to each "
                             "sequence's own blurry frames first (the sharp frames only score)")
    parser.add_argument("--fit-seconds", type=float, default=None,
                        help="scene: fitting budget per sequence (default: the scene "
                             "fitter's, see config/scene.yaml)")
    parser.add_argument("--fit-iterations", type=positive_int, default=None,
                        help="scene: most fitting steps per sequence")
    parser.add_argument("--window", type=positive_int, default=None,
                        help="scene: frames per selection window (default 20)")
    parser.add_argument("--scene-gate", choices=("on", "off"), default="on",
                        help="scene: frames nearly as sharp as the sharpest of their window "
                             "get less of the model's output, the sharpest none (default "
                             "on; off: the raw model)")
    parser.add_argument("--scene-init", default="auto",
                        help="scene: starting weights: auto (the shipped MAML initialisation "
                             "when present), random, or a checkpoint path")
    parser.add_argument("--threads", type=non_negative_int, default=0,
                        help="PyTorch CPU threads (0 = PyTorch's default)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--backend", default="torch",
                        help="torch (default: the reference), openvino, onnxruntime, cuda or "
                             "auto: score the backend a node would run")
    parser.add_argument("--precision", default="fp32", help="fp32 (default), bf16, fp16, auto")
    parser.add_argument("--deadzone", type=deadzone, default=None, metavar="auto|N",
                        help="live model: soft-threshold its residual by N grey levels of "
                             "255; auto (default, as the node and bag tool): the model's own "
                             f"measured value, {DEFAULT_DEADZONE:g} when it records none; "
                             "0: the raw network")
    parser.add_argument("--mirror", type=int, choices=(1, 2, 4), default=1,
                        help="live model, offline: average the stream with its left-right "
                             "mirror (2) and also its up-down ones (4), each run on its own; "
                             "2x or 4x the time (default 1: the stream alone)")
    parser.add_argument("--scene-cuts", choices=("on", "off"), default="on",
                        help="live model, one --blur sequence: restart the stream where the "
                             "frames change scene (clips concatenated into one folder); "
                             "inputs that name their sequences (--dataset, sequence folders, "
                             "--validation) restart at each and are never tested (default on)")
    parser.add_argument("--max-frames", type=positive_int, default=None,
                        help="stop after this many frames (--blur only; per sequence)")
    parser.add_argument("--val-photos", type=positive_int, default=24,
                        help="validation photos (kodak24); each is rendered at every blur level")
    parser.add_argument("--val-size", type=positive_int, default=128)
    parser.add_argument("--val-frames", type=positive_int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--report", type=Path, default=None,
                        help="write PNG strips and README.md here")
    parser.add_argument("--strips", type=non_negative_int, default=4,
                        help="PNG strips per sequence")
    parser.add_argument("--strip-frames", default=None,
                        help="comma-separated frame indices to draw instead (e.g. the "
                             "blurriest frames of a clip)")
    parser.add_argument("--save-scene", type=Path, default=None,
                        help="scene: save each fitted model here (<sequence>.pt), to "
                             "evaluate again with --model or load in scene_node")
    parser.add_argument("--per-sequence", action="store_true",
                        help="also print PSNR per sequence (--dataset, --validation, "
                             "--blur of sequence folders)")
    args = parser.parse_args(argv)
    if args.sharp and not args.blur:
        parser.error("--sharp goes with --blur")
    # Outputs are checked before the evaluation, which can take many minutes.
    problem = ((args.json and writable_file(args.json, "--json", make_parents=True))
               or (args.report and writable_folder(args.report, "--report")))
    if problem:
        parser.error(problem)

    from deblur_ros.adapters.frame_sources import FrameSourceError
    from deblur_ros.core.inference.runners import BackendUnavailableError
    from deblur_ros.core.inference.scene import SceneDeblurrer, sharpness_gate
    from deblur_ros.core.inference.streaming import StreamingDeblurrer
    from deblur_ros.core.models.checkpoint import (
        SCENE_ARCHITECTURE,
        CheckpointError,
        read_checkpoint,
        resolve_model,
    )
    from deblur_ros.core.scoring.evaluation import evaluate_sequence, summarise
    from deblur_ros.core.sharpness import DEFAULT_WINDOW

    scene = args.model == "scene"
    if not scene and (args.fit_seconds or args.fit_iterations or args.save_scene):
        parser.error("--fit-seconds, --fit-iterations and --save-scene go with "
                     "--model scene")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    deblurrer = None
    if not scene:
        try:
            path = resolve_model(args.model, args.device)
            if read_checkpoint(path, None)["architecture"] == SCENE_ARCHITECTURE:
                deblurrer = SceneDeblurrer.from_checkpoint(  # a saved scene fit
                    path, gate=sharpness_gate(args.scene_gate == "on",
                                              args.window or DEFAULT_WINDOW))
            elif args.window:
                parser.error("--window goes with --model scene or a saved scene model")
            else:
                deblurrer = StreamingDeblurrer.from_checkpoint(
                    path, args.device, args.backend, args.precision, deadzone=args.deadzone,
                    mirror=args.mirror)
        except (CheckpointError, ValueError, BackendUnavailableError) as exc:
            print(f"deblur-ros eval: {exc}", file=sys.stderr)
            return 2
    results, fits = [], []
    try:
        from tqdm import tqdm

        if isinstance(deblurrer, StreamingDeblurrer) and (
                args.scene_cuts == "off" or _sequences_named(args)):
            deblurrer.cut_threshold = 0.0
        for name, blurry, sharp, count in _sequences(args):
            frames = _limited(blurry, args.max_frames)
            if scene:
                from deblur_ros.cli.eval_scene import fit_scene

                frames = list(frames)
                deblurrer, fit = fit_scene(frames, name, args)
                fits.append(fit)
            frames = tqdm(frames, total=count, desc=name, unit="frame", leave=False,
                          disable=None)
            results.append(evaluate_sequence(deblurrer, frames, sharp, name,
                                             keep=_picks(args, count),
                                             sharp_may_be_longer=args.max_frames is not None))
            if frames.disable:  # no terminal, no bar: one line per sequence for a log
                print(f"eval {name}: {results[-1].frames} frames at "
                      f"{results[-1].fps:.1f} fps", file=sys.stderr, flush=True)
    except (FrameSourceError, ValueError, CheckpointError) as exc:
        print(f"deblur-ros eval: {exc}", file=sys.stderr)
        return 2
    if deblurrer is None:
        print("deblur-ros eval: no sequences to score", file=sys.stderr)
        return 2
    summary = summarise(results, deblurrer.name, str(deblurrer.device))
    if scene:
        summary |= {"model": "scene", "backend": "torch", "precision": "fp32", "fits": fits,
                    "fit_seconds": sum(f["seconds"] for f in fits),
                    "frames_selected": sum(len(f["frames"]) for f in fits)}
    elif isinstance(deblurrer, SceneDeblurrer):
        summary |= {"backend": "torch", "precision": "fp32"}
    else:
        summary |= {"backend": deblurrer.runner.name, "precision": deblurrer.runner.precision,
                    "deadzone": deblurrer.deadzone, "mirror": deblurrer.mirror,
                    "scene_cuts": deblurrer.cuts if deblurrer.cut_threshold > 0 else None}
    print(format_summary(summary))
    for fit in fits:
        print(f"scene fit {fit['sequence']}: {len(fit['frames'])} frames selected "
              f"({', '.join(str(f['index']) for f in fit['frames'])}), {fit['iterations']} steps "
              f"in {fit['seconds']:.0f} s ({fit['stopped']}), init {fit['init']}, probe PSNR "
              f"{fit['probe_input_psnr']:.2f} -> {fit['probe_output_psnr']:.2f} dB")
    if args.per_sequence or args.scene_validation:
        print()
        print(format_sequences(summary))
    if args.validation:
        from deblur_ros.core.scoring.validation import by_level

        summary["by_level"] = by_level(results)
        for level, figures in summary["by_level"].items():
            print(f"blur level {level}: PSNR {_fmt(figures['input']['psnr'])} -> "
                  f"{_fmt(figures['output']['psnr'])} dB, SSIM {_fmt(figures['input']['ssim'], 4)}"
                  f" -> {_fmt(figures['output']['ssim'], 4)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
        print(f"wrote {args.json}")
    if args.report:
        from deblur_ros.cli.eval_report import write_report

        write_report(args.report, summary, results, format_summary(summary))
        print(f"wrote {args.report / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
