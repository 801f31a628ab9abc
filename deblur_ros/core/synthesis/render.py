"""Render (blurry, sharp) training clips from a still photo, like a high-speed camera would.

Following the high-frame-rate data sets the STRCNN+DTB network was designed for, each
blurry frame is the mean of tau consecutive sharp sub-frames and its target is the middle
sub-frame; consecutive frames are T sub-frames apart (tau <= T < 2 tau: a shutter open for
half to all of the frame interval). Sub-frames come from warping the photo along a smooth
camera trajectory, with independently moving cut-outs on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .colour import linear_to_srgb, srgb_to_linear, srgb_u8_to_linear_lut
from .degrade import Degradation, add_sensor_noise, jpeg_roundtrip
from .layers import Layer, LayerSource, composite, random_layer
from .trajectory import PROFILES, CameraMotion

_STRENGTH_RANGE = (0.3, 1.5)
# Source margin kept around the view; more is never read by a warp near the rest pose.
_MAX_SOURCE_SCALE = 2.0


@dataclass
class ClipSpec:
    """What kind of clip to render; None fields are drawn at random per clip."""

    n_frames: int = 13
    height: int = 128
    width: int = 128
    taus: tuple[int, ...] = (7, 9, 11, 13, 15)
    profile: str | None = None
    strength: float | None = None
    max_layers: int = 2
    noise: bool = True
    jpeg: bool = True

    def validate(self) -> None:
        if self.n_frames < 1 or self.height < 8 or self.width < 8:
            raise ValueError(f"bad clip size {self.n_frames}x{self.height}x{self.width}")
        if not self.taus or min(self.taus) < 1:
            raise ValueError(f"taus must be positive sub-frame counts, got {self.taus}")
        if self.profile is not None and self.profile not in PROFILES:
            raise ValueError(f"unknown motion profile {self.profile!r}; "
                             f"valid profiles: {', '.join(PROFILES)}")
        if self.strength is not None and self.strength < 0:
            raise ValueError(f"strength must be >= 0, got {self.strength}")
        if self.max_layers < 0:
            raise ValueError(f"max_layers must be >= 0, got {self.max_layers}")


@dataclass
class ClipInfo:
    """The random choices behind a clip, for validation bookkeeping and debugging."""

    tau: int
    interval: int
    profile: str
    strength: float
    n_layers: int


def _translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _prepare_source(photo: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear-light centre region of the photo and the map from its pixels to the rest view.

    Upscales a photo that cannot cover the view, and trims a huge one so the per-clip
    colour conversion does not scale with the photo size.
    """
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"photo must be HxWx3 RGB, got shape {photo.shape}")
    ph, pw = photo.shape[:2]
    if ph < height or pw < width:
        scale = max(height / ph, width / pw)
        pw, ph = max(width, round(pw * scale)), max(height, round(ph * scale))
        photo = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_CUBIC)
    ch, cw = min(ph, int(_MAX_SOURCE_SCALE * height)), min(pw, int(_MAX_SOURCE_SCALE * width))
    y0, x0 = (ph - ch) // 2, (pw - cw) // 2
    region = photo[y0:y0 + ch, x0:x0 + cw]
    if region.dtype == np.uint8:
        linear = srgb_u8_to_linear_lut()[region]
    else:
        linear = srgb_to_linear(region)
    # The region's centre sits at the view's centre in the rest pose.
    to_view = _translation(-(cw - width) / 2.0, -(ch - height) / 2.0)
    return np.ascontiguousarray(linear), to_view


def _render_subframe(source: np.ndarray, cam: np.ndarray, to_view: np.ndarray,
                     layers: list[Layer], layer_maps: list[np.ndarray], height: int,
                     width: int) -> np.ndarray:
    frame = cv2.warpPerspective(source, cam @ to_view, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
    for layer, placement in zip(layers, layer_maps, strict=True):
        # Objects live in the scene, so the camera motion applies to them as well.
        frame = composite(frame, layer, cam @ placement)
    return frame


def render_clip_with_info(photo: np.ndarray, spec: ClipSpec, rng: np.random.Generator,
                          layer_source: LayerSource | None = None
                          ) -> tuple[np.ndarray, np.ndarray, ClipInfo]:
    """render_clip, also returning the random choices it made."""
    spec.validate()
    h, w = spec.height, spec.width
    tau = int(rng.choice(spec.taus))
    interval = int(rng.integers(tau, 2 * tau))
    profile = spec.profile if spec.profile is not None else str(rng.choice(PROFILES))
    strength = (spec.strength if spec.strength is not None
                else float(rng.uniform(*_STRENGTH_RANGE)))
    # Drawn even when unused, so switching noise/jpeg off leaves the scene unchanged.
    degradation = Degradation.random(rng)

    source, to_view = _prepare_source(photo, h, w)
    motion = CameraMotion(h, w, rng, profile, strength)
    layers = [random_layer(h, w, rng, strength, layer_source)
              for _ in range(int(rng.integers(0, spec.max_layers + 1)))]

    times = rng.uniform(0.0, 1000.0) + np.arange((spec.n_frames - 1) * interval + tau)
    cams = motion.homographies(times, centre=True)
    placements = [layer.transforms(times) for layer in layers]

    blurry = np.empty((spec.n_frames, h, w, 3), np.float32)
    sharp = np.empty_like(blurry)
    for n in range(spec.n_frames):
        acc = np.zeros((h, w, 3), np.float32)
        for k in range(tau):
            s = n * interval + k
            frame = _render_subframe(source, cams[s], to_view, layers,
                                     [p[s] for p in placements], h, w)
            acc += frame
            if k == tau // 2:
                sharp[n] = frame
        blurry[n] = acc / np.float32(tau)
        if spec.noise:
            blurry[n] = add_sensor_noise(blurry[n], degradation.shot, degradation.read, rng)

    blurry = linear_to_srgb(blurry)
    sharp = linear_to_srgb(sharp)
    if spec.jpeg:
        for n in range(spec.n_frames):
            blurry[n] = jpeg_roundtrip(blurry[n], degradation.jpeg_quality)
    info = ClipInfo(tau, interval, profile, strength, len(layers))
    return blurry, sharp, info


def render_clip(photo: np.ndarray, spec: ClipSpec, rng: np.random.Generator,
                layer_source: LayerSource | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One (blurry, sharp) clip, float32 [n_frames, height, width, 3] sRGB in [0, 1].

    The photo should be larger than the view (~1.5x) so the shaking camera rarely sees
    past its edges (mirrored content fills in when it does). layer_source(rng, h, w)
    supplies foreground cut-outs (e.g. another photo); procedural textures otherwise.
    """
    blurry, sharp, _ = render_clip_with_info(photo, spec, rng, layer_source)
    return blurry, sharp


def render_validation_set(photos: Sequence[np.ndarray], seed: int,
                          levels: Sequence[float] = (0.3, 0.7, 1.2), n_frames: int = 13,
                          height: int = 256, width: int = 256) -> list[dict]:
    """A fixed set of clips, one per photo and blur level, identical on every call.

    Each clip gets its own generator keyed by (seed, photo index, level index), so a clip
    does not change when photos or levels are appended after it.
    """
    clips = []
    for i, photo in enumerate(photos):
        for j, level in enumerate(levels):
            rng = np.random.default_rng([seed, i, j])
            spec = ClipSpec(n_frames=n_frames, height=height, width=width, strength=level)
            blurry, sharp, info = render_clip_with_info(photo, spec, rng)
            clips.append({"blurry": blurry, "sharp": sharp, "level": float(level),
                          "tau": info.tau, "profile": info.profile, "photo_index": i})
    return clips
