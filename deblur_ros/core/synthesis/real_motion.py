"""Training clips of real motion: high-frame-rate footage averaged GoPro-style, on the fly.

Synthetic camera motion over still photos cannot show what real footage does: parallax,
people and traffic moving every which way, curved hand-held paths, the camera's own
noise and compression. The X4K1000FPS clips (1000 fps) hold exactly that, with a sharp
frame for every instant, so a clip of blurry frames is made the way the GoPro dataset
was: the mean of ``tau`` consecutive high-speed frames in linear light, the middle one as
the target (:mod:`.highfps` does the same for evaluation pairs). Held-out clips are named
and never loaded, so figures on them stay figures on unseen footage.

Short footage (33 frames a clip) is stretched by drawing, per training clip: the exposure
``tau`` (jittered per frame, as a real camera's blur varies with its motion), the spacing
of consecutive exposures (overlapping ones included, which no camera does but whose blur
is as real), a zoom (the crop's size before resizing: streak lengths vary with it), the
position, a flip or quarter turn, and the direction of time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deblur_ros.core.imaging import IMAGE_EXTENSIONS, natural_key

from .colour import linear_to_srgb, srgb_u8_to_linear_lut
from .degrade import Degradation, add_sensor_noise, jpeg_roundtrip
from .highfps import VIDEO_SUFFIXES

# The five orders other than the footage's own.
_PERMUTATIONS = ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


@dataclass(frozen=True)
class RealMotionSpec:
    """What a real-motion clip is drawn from; defaults are the training recipe's."""

    n_frames: int = 6
    height: int = 96
    width: int = 96
    tau: tuple[int, int] = (3, 25)  # exposure in high-speed frames (odd), per clip
    tau_jitter: int = 2  # per frame: tau +- 2 * U{0..jitter}
    still_prob: float = 0.15  # clips of tau 1: the target itself, noise and JPEG aside
    zoom: tuple[float, float] = (1.0, 3.0)  # source pixels per output pixel (log-uniform)
    noise_prob: float = 0.5
    jpeg_prob: float = 0.3
    channel_shuffle: float = 0.0  # share of clips with their colour channels permuted

    def validate(self) -> None:
        lo, hi = self.tau
        if not (1 <= lo <= hi) or lo % 2 == 0 or hi % 2 == 0:
            raise ValueError(f"tau range must be odd frame counts lo <= hi, got {self.tau}")
        if not 0.0 <= self.still_prob <= 1.0:
            raise ValueError(f"still_prob is a share of clips, in [0, 1]; got {self.still_prob}")
        if not 0.0 <= self.channel_shuffle <= 1.0:
            raise ValueError("channel_shuffle is a share of clips, in [0, 1]; got "
                             f"{self.channel_shuffle}")
        if not 1.0 <= self.zoom[0] <= self.zoom[1]:
            raise ValueError(f"zoom range must satisfy 1 <= lo <= hi, got {self.zoom}")


def footage_paths(root: str | Path, hold_out: Sequence[str] = ()) -> list[Path]:
    """Videos (or frame folders) under ``root`` whose names contain none of ``hold_out``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"real footage folder {str(root)!r} does not exist")
    entries = sorted(p for p in root.iterdir()
                     if p.suffix.lower() in VIDEO_SUFFIXES or p.is_dir())
    kept = [p for p in entries if not any(h and h in p.name for h in hold_out)]
    if not kept:
        raise ValueError(f"no high-frame-rate clips left in {str(root)!r} after holding out "
                         f"{list(hold_out)} (videos {VIDEO_SUFFIXES} or frame folders)")
    return kept


def load_footage(path: Path, width: int) -> np.ndarray:
    """[F, H, W, 3] float16 linear-light RGB frames of one clip, reduced to ``width`` in
    linear light (area averaging: a lower-resolution sensor of the same scene); narrower
    footage is kept as it is (enlarging it adds nothing)."""
    lut = srgb_u8_to_linear_lut()
    frames = []
    for bgr in _read_frames(path):
        linear = lut[cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)]
        if linear.shape[1] > width:
            height = int(round(linear.shape[0] * width / linear.shape[1]))
            linear = cv2.resize(linear, (width, height), interpolation=cv2.INTER_AREA)
        frames.append(linear.astype(np.float16))
    if not frames:
        raise ValueError(f"no frames could be read from {str(path)!r}")
    return np.stack(frames)


def _read_frames(path: Path) -> Iterator[np.ndarray]:
    if path.is_dir():
        for f in sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS),
                        key=natural_key):
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is not None:
                yield img
        return
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, img = capture.read()
            if not ok:
                return
            yield img
    finally:
        capture.release()


def render_real_clip(footage: np.ndarray, spec: RealMotionSpec, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray, dict]:
    """(blurry, sharp) float32 sRGB [n, h, w, 3] and what was drawn, from one clip's frames.

    Every blurry frame is centred on its target (an odd tau about the target's index),
    so the target is what a network can know, as in the synthetic recipe.
    """
    n, h, w = spec.n_frames, spec.height, spec.width
    count, fh, fw = footage.shape[:3]
    # Longest exposure that still fits n centres at least one frame apart.
    max_tau = min(spec.tau[1], count - (n - 1))
    max_tau -= 1 - max_tau % 2
    if max_tau < spec.tau[0]:
        raise ValueError(f"clip of {count} frames too short for {n} exposures of "
                         f">= {spec.tau[0]} frames")
    if rng.random() < spec.still_prob:
        # Real footage where the camera and the scene stand still for the exposure: without
        # these a network fine-tuned on real clips (all with some motion) sharpened the
        # static edges of a nearly still X4K clip by 3 dB below its input (TRAINING.md).
        taus = np.ones(n, dtype=np.int64)
    else:
        odd = np.arange(spec.tau[0], max_tau + 1, 2)
        base = int(rng.choice(odd))
        jitter = 2 * rng.integers(-spec.tau_jitter, spec.tau_jitter + 1, n)
        taus = np.clip(base + jitter, spec.tau[0], max_tau)
    half = int(taus.max()) // 2
    max_stride = max(1, (count - 1 - 2 * half) // (n - 1))
    stride = int(rng.integers(1, max_stride + 1))
    first = int(rng.integers(half, count - half - (n - 1) * stride))
    centres = first + stride * np.arange(n)
    if rng.random() < 0.5:  # time reversed: blur is symmetric about each centre
        centres = centres[::-1]

    zoom = float(np.exp(rng.uniform(np.log(spec.zoom[0]), np.log(spec.zoom[1]))))
    zoom = min(zoom, fh / h, fw / w)
    rh, rw = int(round(h * zoom)), int(round(w * zoom))
    y0 = int(rng.integers(0, fh - rh + 1))
    x0 = int(rng.integers(0, fw - rw + 1))
    lo, hi = int(centres.min() - half), int(centres.max() + half) + 1
    region = footage[lo:hi, y0:y0 + rh, x0:x0 + rw].astype(np.float32)
    channels = [0, 1, 2]
    # Drawn only when asked, so runs without it keep their random stream. A few clips'
    # colours are all the real footage has: the hue of one clip's sky must not become
    # a cue for where to sharpen (TRAINING.md, "More real motion").
    if spec.channel_shuffle and rng.random() < spec.channel_shuffle:
        channels = [int(c) for c in _PERMUTATIONS[int(rng.integers(0, len(_PERMUTATIONS)))]]
        region = region[..., channels]
    # Running sum: each exposure is one subtraction, whatever its tau.
    cumsum = np.concatenate([np.zeros_like(region[:1]), np.cumsum(region, axis=0)])

    noise = rng.random() < spec.noise_prob
    jpeg = rng.random() < spec.jpeg_prob
    degradation = Degradation.random(rng)
    turns = int(rng.integers(0, 4)) if h == w else 2 * int(rng.integers(0, 2))
    flip = rng.random() < 0.5
    blurry = np.empty((n, h, w, 3), np.float32)
    sharp = np.empty_like(blurry)
    for i, (c, t) in enumerate(zip(centres, taus, strict=True)):
        a, b = int(c - t // 2 - lo), int(c + t // 2 - lo) + 1
        mean = (cumsum[b] - cumsum[a]) / np.float32(b - a)
        mean = _shape(mean, h, w, turns, flip)
        if noise:
            mean = add_sensor_noise(mean, degradation.shot, degradation.read, rng)
        blurry[i] = np.clip(mean, 0.0, 1.0)
        sharp[i] = np.clip(_shape(region[int(c) - lo], h, w, turns, flip), 0.0, 1.0)
    blurry = linear_to_srgb(blurry)
    sharp = linear_to_srgb(sharp)
    if jpeg:
        for i in range(n):
            blurry[i] = jpeg_roundtrip(blurry[i], degradation.jpeg_quality)
    info = {"taus": taus.tolist(), "stride": stride, "zoom": zoom, "noise": noise,
            "jpeg": jpeg, "channels": channels}
    return blurry, sharp, info


def _shape(img: np.ndarray, h: int, w: int, turns: int, flip: bool) -> np.ndarray:
    """Resize to the crop (area: a smaller sensor), then the clip's quarter turn and flip."""
    if img.shape[0] != h or img.shape[1] != w:
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    img = np.rot90(img, turns)
    if flip:
        img = img[:, ::-1]
    return np.ascontiguousarray(img)
