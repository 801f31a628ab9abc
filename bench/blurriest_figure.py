"""Side-by-side picture of a clip's blurriest frames: input | live model | scene model.

    python bench/blurriest_figure.py ../shared/data/real_blur/blurcar2 \
        strcnn-w16-m1 /path/to/blurcar2.pt models/figures/blurcar2_blurriest.jpg

The scene model is one saved by ``deblur-ros eval --model scene --save-scene DIR``. The
live model runs over the whole clip (it is recurrent); frames are ranked by the input's
variance of the Laplacian; each panel is the frame's centre at 2x, with its own
variance of the Laplacian.
"""

from __future__ import annotations

import sys

import cv2
import numpy as np

from deblur_ros.adapters.frame_sources import open_source
from deblur_ros.core.imaging import side_by_side
from deblur_ros.core.inference.scene import SceneDeblurrer
from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.models.checkpoint import resolve_model
from deblur_ros.core.sharpness import variance_of_laplacian


def main(clip: str, live: str, scene: str, out: str, count: int = 3) -> None:
    frames = list(open_source(clip))
    live_out = StreamingDeblurrer.from_checkpoint(resolve_model(live, "cpu"), "cpu").process(
        frames)
    scene_model = SceneDeblurrer.from_checkpoint(scene)
    ranked = sorted(range(len(frames)), key=lambda i: variance_of_laplacian(frames[i]))
    picks: list[int] = []
    for i in ranked:  # the blurriest, at least 10 frames apart (blur comes in stretches)
        if all(abs(i - j) >= 10 for j in picks):
            picks.append(i)
        if len(picks) == count:
            break
    rows = []
    for i in sorted(picks):
        panels = [frames[i], live_out[i], scene_model.deblur(frames[i])]
        labels = ["input", f"live {live}", "scene model"]
        h, w = frames[i].shape[:2]
        crop = (slice(h // 4, h // 4 + h // 2), slice(w // 4, w // 4 + w // 2))
        # The centre at 2x: blur and its removal show at pixel level.
        tiles = [cv2.resize(np.ascontiguousarray(p[crop]), None, fx=2, fy=2,
                            interpolation=cv2.INTER_NEAREST) for p in panels]
        texts = [f"frame {i}: {label}, VL {variance_of_laplacian(p):.0f}"
                 for p, label in zip(panels, labels)]
        rows.append(side_by_side(tiles, texts))
    cv2.imwrite(out, cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {out}: frames {sorted(picks)}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
