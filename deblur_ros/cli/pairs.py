"""``deblur-ros pairs``: real-motion blurry/sharp pairs from high-frame-rate video.

Writes ``OUT/<clip>/blur/NNNNNN.png`` and ``OUT/<clip>/sharp/NNNNNN.png`` for every video (or
frame folder) in SRC, the layout ``deblur-ros eval --dataset OUT`` reads. For the X4K1000FPS
clips in ../shared/data/real_highfps/x4k1000 (1000 fps): ``--tau 11`` is an 11 ms exposure;
``--tau 3,7,11,15 --stride 1 --overlap-ok`` is a drive whose blur comes and goes (every
fourth frame nearly sharp; tau 1 would be the target itself, an infinite PSNR), with
ground truth, for ``eval --dataset OUT --model scene``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deblur_ros.cli.args import positive_int
from deblur_ros.core.synthesis.highfps import VIDEO_SUFFIXES


def _taus(text: str) -> list[int]:
    try:
        taus = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"give odd frame counts such as 11 or 1,5,9,13, "
                                         f"got {text!r}") from None
    if any(t < 1 for t in taus):
        raise argparse.ArgumentTypeError(f"frame counts must be >= 1, got {text!r}")
    return taus


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deblur-ros pairs", description=__doc__.split("\n")[0])
    parser.add_argument("src", type=Path, help="a video, a frame folder, or a folder of videos")
    parser.add_argument("out", type=Path, help="dataset root to write")
    parser.add_argument("--tau", type=_taus, default=[11],
                        help="high-speed frames averaged per blurry frame (odd; default 11); "
                             "several, comma-separated, are used in turn (1 = a sharp frame)")
    parser.add_argument("--stride", type=positive_int, default=None,
                        help="high-speed frames between blurry frames (default: the longest "
                             "tau, a shutter open the whole frame interval)")
    parser.add_argument("--overlap-ok", action="store_true",
                        help="allow stride < tau (overlapping exposures: no real camera)")
    parser.add_argument("--width", type=positive_int, default=640,
                        help="output width, resized in linear light (default 640)")
    args = parser.parse_args(argv)
    span = max(args.tau)
    stride = args.stride or span
    if stride < span and not args.overlap_ok:
        parser.error(f"--stride {stride} < --tau {span} overlaps exposures; "
                     "pass --overlap-ok if that is what you want")

    import cv2

    from deblur_ros.adapters.frame_sources import FrameSourceError, open_source
    from deblur_ros.core.synthesis.highfps import average_pairs

    src = args.src.expanduser()
    if not src.exists():
        print(f"deblur-ros pairs: {str(src)!r} does not exist", file=sys.stderr)
        return 2
    if src.is_dir() and any(p.suffix.lower() in VIDEO_SUFFIXES for p in src.iterdir()):
        clips = sorted(p for p in src.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    else:
        clips = [src]
    total = 0
    try:
        for clip in clips:
            name = clip.stem if clip.is_file() else clip.name
            count = 0
            for i, (blurry, sharp) in enumerate(average_pairs(
                    open_source(str(clip)), args.tau, stride, args.width)):
                for kind, img in (("blur", blurry), ("sharp", sharp)):
                    folder = args.out / name / kind
                    folder.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(folder / f"{i:06d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                count += 1
            if count == 0:
                print(f"deblur-ros pairs: {name}: fewer than tau={span} frames, skipped",
                      file=sys.stderr)
            total += count
    except (FrameSourceError, ValueError) as exc:
        print(f"deblur-ros pairs: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {total} pairs from {len(clips)} clip(s) to {args.out} "
          f"(tau {','.join(map(str, args.tau))}, "
          f"stride {stride}, width {args.width})")
    return 0 if total else 2
