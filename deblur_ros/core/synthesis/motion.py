"""Training and validation clips whose blur a small network can learn and that transfer to
real footage: the second-generation recipe behind the shipped weights.

Why not the first recipe (``render.py``): its sinusoidal trajectories gave centre streaks
of only 1 to 14 px, the same smooth motion for every frame, and a target sub-frame up to
~1 px off the blur's centroid; a width-16 network gained +0.09 dB from it in 900
iterations. Real 240 fps footage averaged GoPro-style has streaks of roughly 5 to 40 px at
640x360, and its blur comes and goes from frame to frame. Here, per frame:

* the camera's velocity is drawn per frame interval (speed and direction around a
  per-clip level) and held constant during the exposure, so the blur of frame n is
  centred on the sub-frame at the middle of its exposure (the target) and neighbouring
  frames are both displaced and blurred differently, as in real video;
* sub-frames are at most ~1 px apart along the path (up to 48 per exposure; bilinear
  warps leave no ghost copies), averaged in linear light;
* a vehicle profile adds zoom (radial blur growing towards the edges, a dashcam's) and a
  hand-held profile adds in-plane rotation and 4-12 Hz tremor (gently curved streaks);
* up to two independently moving objects (cut-outs of other photos) with their own speed;
* saturated highlights (linear values above 1 before averaging, clipped after, as a sensor
  clips lamp streaks) in a share of clips;
* sensor noise after the blur, in linear light, and JPEG in a share of clips.

The streak length of a frame is the camera's path length during that exposure, in pixels
of the rendered view; levels of the validation set are named by it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .colour import linear_to_srgb, srgb_u8_to_linear_lut
from .degrade import Degradation, add_sensor_noise, jpeg_roundtrip

PhotoSource = Callable[[np.random.Generator, int, int], np.ndarray]

PROFILES = ("handheld", "vehicle")
# Sub-frames per pixel of path: bilinear warps fill the rest without visible ghosts.
_SUBFRAMES_PER_PX = 1.0
_MAX_SUBFRAMES = 48


@dataclass(frozen=True)
class MotionSpec:
    """What to render; ``streak`` is the per-clip level range (px per exposure).

    Frame-to-frame variation multiplies the level by a log-normal factor, and with
    probability ``sharp_frame_prob`` a frame is nearly still (real hand-held video has
    sharp frames between blurry ones, which the recurrent network can exploit).
    """

    n_frames: int = 6
    height: int = 96
    width: int = 96
    streak: tuple[float, float] = (1.0, 36.0)
    streak_jitter: float = 0.45  # std of log speed from frame to frame
    sharp_frame_prob: float = 0.12
    duty: tuple[float, float] = (0.5, 1.0)  # exposure / frame interval
    max_objects: int = 2
    object_prob: float = 0.4
    highlight_prob: float = 0.3
    noise_prob: float = 0.8
    jpeg_prob: float = 0.4
    profile: str | None = None  # None: drawn per clip
    # Hand-held tremor (an S-bend within each exposure) has one amplitude per clip; with
    # this set it shrinks with the frame's speed, so a nearly still frame is nearly sharp.
    # Off for the live model's recipe and validation set (their figures were taken so);
    # on for the scene drives, whose windows must each hold a nearly sharp frame.
    tremor_follows_speed: bool = False
    # Physiological hand tremor is 4-12 Hz; the path's time unit is one frame interval, so
    # the frequency becomes 2 pi f / frame_rate radians per frame: 0.84-2.5 at 30 fps, a
    # gentle curve over one exposure. Until 2026-11-22 the code drew 4-12 rad per frame
    # (19-57 Hz at 30 fps), which bent streaks into S-shapes real footage does not show
    # (MODELS.md: bent kernels cost a scene fit 0.1-0.25 dB on every real X4K drive).
    tremor_hz: tuple[float, float] = (4.0, 12.0)
    frame_rate: float = 30.0
    # Share of clips whose camera is nearly still (level below still_level px), so a model
    # sees sharp input kept sharp. Measured on the still X4K clip TEST06 it helps little
    # (-0.58 -> -0.42 dB at 11 ms; models/TRAINING.md), so the shipped recipe leaves it
    # at 0, which draws nothing: older runs resume identically.
    still_clip_prob: float = 0.0
    still_level: float = 0.3

    def validate(self) -> None:
        if self.n_frames < 1 or self.height < 16 or self.width < 16:
            raise ValueError(f"bad clip size {self.n_frames}x{self.height}x{self.width}")
        lo, hi = self.streak
        if not 0 <= lo <= hi:
            raise ValueError(f"streak range must satisfy 0 <= lo <= hi, got {self.streak}")
        if not 0.0 <= self.still_clip_prob <= 1.0 or self.still_level < 0:
            raise ValueError(f"still clip share must be in [0, 1] and its level >= 0, got "
                             f"{self.still_clip_prob} and {self.still_level}")
        lo, hi = self.tremor_hz
        if not (0 < lo <= hi and self.frame_rate > 0):
            raise ValueError(f"tremor must be 0 < lo <= hi Hz at a frame rate > 0, got "
                             f"{self.tremor_hz} Hz at {self.frame_rate} fps")
        if self.profile is not None and self.profile not in PROFILES:
            raise ValueError(f"unknown motion profile {self.profile!r}; "
                             f"valid profiles: {', '.join(PROFILES)}")


@dataclass
class _Path:
    """Velocity constant over each frame interval [k, k+1), integrated exactly.

    Frame n's exposure is centred on time n + 0.5, inside one interval, so its streak is
    straight (rotation: an arc) and centred on the middle sub-frame, the target. With a
    velocity that changed during the exposure the blur's centroid would sit up to ~1 px
    from the target, and a network cannot learn where an unidentifiable target is.
    """

    velocity: np.ndarray  # [K, d] units per frame interval, interval k = [k, k+1)

    def position(self, t: np.ndarray) -> np.ndarray:
        v = self.velocity
        k = np.clip(np.floor(t).astype(int), 0, len(v) - 1)
        cum = np.concatenate([np.zeros((1, v.shape[1])), np.cumsum(v, 0)])
        return cum[k] + v[k] * (t - k)[:, None]


def _frame_speeds(level: float, n: int, spec: MotionSpec, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Streak length (px) wanted for each of n+1 frame intervals around a per-clip level,
    and the factor that made a frame nearly still (1 for the others)."""
    speed = level * np.exp(spec.streak_jitter * rng.standard_normal(n + 1))
    still = rng.random(n + 1) < spec.sharp_frame_prob
    factor = np.ones(n + 1)
    factor[still] = rng.uniform(0.0, 0.15, still.sum())
    return speed * factor, factor


def _camera_path(level: float, n: int, duty: np.ndarray, profile: str, size: float,
                 spec: MotionSpec, rng: np.random.Generator
                 ) -> tuple[_Path, _Path, _Path, np.ndarray, np.ndarray]:
    """Paths of (translation px, rotation rad, log zoom), the zoom's focus, and each
    frame's stillness factor (1 for a frame at the clip's speed level), n frames.

    Hand-held shake oscillates: once the view has wandered more than a quarter of its
    size, the next heading turns back towards the rest pose, so a clip stays over its
    photo. Zoom is about a focus of expansion off the view (a crop of a dashcam frame
    seldom holds the vanishing point), sized by the displacement at the view's centre.
    """
    streak, stillness = _frame_speeds(level, n, spec, rng)
    per_interval = streak / np.concatenate([duty, duty[-1:]])
    handheld = profile == "handheld"
    rot_share = rng.uniform(0.0, 0.3) if handheld else rng.uniform(0.0, 0.1)
    zoom_share = rng.uniform(0.3, 0.8) if not handheld else 0.0
    trans_share = max(0.0, 1.0 - rot_share - zoom_share)
    turn = 0.8 if handheld else 0.25
    heading = rng.uniform(0, 2 * np.pi)
    trans = np.zeros((n + 1, 2))
    pos = np.zeros(2)
    for k in range(n + 1):
        if k:
            heading += turn * rng.standard_normal()
            if handheld and np.linalg.norm(pos) > 0.25 * size:
                back = math.atan2(-pos[1], -pos[0])
                heading = back + 0.6 * rng.standard_normal()
        trans[k] = per_interval[k] * trans_share * np.array([math.cos(heading),
                                                             math.sin(heading)])
        pos += trans[k]
    radius = 0.5 * math.hypot(size, size)
    spin = np.sign(rng.standard_normal()) * per_interval * rot_share / radius
    spin *= np.where(rng.random(n + 1) < 0.3, -1.0, 1.0)
    focus = rng.uniform(0.5, 2.0) * size
    zoom = per_interval * zoom_share / focus * (1.0 if rng.random() < 0.8 else -1.0)
    focus_dir = rng.uniform(0, 2 * np.pi)
    focus_xy = focus * np.array([math.cos(focus_dir), math.sin(focus_dir)])
    return _Path(trans), _Path(spin[:, None]), _Path(zoom[:, None]), focus_xy, stillness


def _homographies(trans: _Path, rot: _Path, zoom: _Path, focus: np.ndarray, times: np.ndarray,
                  centre: np.ndarray, tremor: tuple | None) -> np.ndarray:
    """[len(times), 2, 3] affine maps scene-at-rest -> view: zoom about the focus of
    expansion (relative to the view centre), rotation about the centre, then translation."""
    t = trans.position(times)
    if tremor is not None:
        # Odd about the exposure's centre: bends the streak into an S, keeps it centred.
        amp, omega, per_frame = tremor
        frame = np.clip(np.floor(times).astype(int), 0, len(per_frame) - 1)
        t = t + amp[None] * per_frame[frame][:, None] * \
            np.sin(omega[None] * (times - np.floor(times) - 0.5)[:, None])
    a = rot.position(times)[:, 0]
    # Scale linear in time within an exposure (exp would bend it and shift the centroid).
    z = zoom.position(times)[:, 0]
    z_mid = zoom.position(np.floor(times) + 0.5)[:, 0]
    s = np.exp(z_mid) * (1.0 + z - z_mid)
    c, si = np.cos(a), np.sin(a)
    fx, fy = centre + focus
    cx, cy = centre
    out = np.empty((len(times), 2, 3))
    # zoom: x -> f + s (x - f); then rotate about the centre; then translate.
    zx, zy = fx * (1 - s), fy * (1 - s)
    out[:, 0, 0], out[:, 0, 1] = c * s, -si * s
    out[:, 1, 0], out[:, 1, 1] = si * s, c * s
    out[:, 0, 2] = c * (zx - cx) - si * (zy - cy) + cx + t[:, 0]
    out[:, 1, 2] = si * (zx - cx) + c * (zy - cy) + cy + t[:, 1]
    return out


@dataclass
class _Object:
    rgba: np.ndarray  # [h, w, 4] linear colour premultiplied by alpha, then alpha
    origin: np.ndarray  # top-left in view coordinates at time 0
    path: _Path


def _random_object(source: PhotoSource, height: int, width: int, n: int, level: float,
                   duty: np.ndarray, spec: MotionSpec, rng: np.random.Generator,
                   lut: np.ndarray) -> _Object:
    oh = int(rng.uniform(0.25, 0.6) * height)
    ow = int(rng.uniform(0.25, 0.6) * width)
    content = lut[source(rng, oh, ow)]
    mask = np.zeros((oh, ow), np.uint8)
    if rng.random() < 0.5:
        cv2.ellipse(mask, (ow // 2, oh // 2), (max(1, ow // 2 - 1), max(1, oh // 2 - 1)),
                    0, 0, 360, 255, -1, cv2.LINE_AA)
    else:
        k = int(rng.integers(3, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(0.6, 1.0, k)[:, None] * np.array([ow / 2 - 1, oh / 2 - 1])
        pts = np.stack([np.cos(ang), np.sin(ang)], 1) * r + [ow / 2, oh / 2]
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255, cv2.LINE_AA)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    # Objects move on their own, often faster than the camera shakes.
    streak, _ = _frame_speeds(level * rng.uniform(0.5, 2.0), n, spec, rng)
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(0.3 * rng.standard_normal(n + 1))
    vel = (streak / np.concatenate([duty, duty[-1:]]))[:, None] * np.stack(
        [np.cos(heading), np.sin(heading)], 1)
    origin = rng.uniform([0, 0], [width - ow, height - oh]) - 0.5 * vel[:n].sum(0)
    rgba = np.concatenate([content * alpha, alpha], axis=2).astype(np.float32)
    return _Object(rgba, origin, _Path(vel))


def _paint(frame: np.ndarray, obj: _Object, t: float, cam: np.ndarray) -> None:
    """Composite the object at time t, moved by the camera too (it lives in the scene)."""
    shift = obj.origin + obj.path.position(np.array([t]))[0]
    m = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]], [0.0, 0.0, 1.0]])
    full = np.vstack([cam, [0.0, 0.0, 1.0]]) @ m
    h, w = frame.shape[:2]
    warped = cv2.warpAffine(obj.rgba, full[:2], (w, h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    frame *= 1.0 - warped[..., 3:4]
    frame += warped[..., :3]


def _highlights(linear: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Push the brightest pixels past the sensor's range, and add a few point lights.

    Clipping after the average (not before) is what gives real lamp streaks their flat,
    saturated cores; a network that never saw them rings around them.
    """
    out = linear.copy()
    luma = out.mean(axis=2)
    thresh = np.quantile(luma, rng.uniform(0.9, 0.99))
    gain = rng.uniform(2.0, 8.0)
    out[luma > thresh] *= gain
    h, w = luma.shape
    for _ in range(int(rng.integers(0, 6))):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.8, 3.0)
        colour = rng.uniform(0.6, 1.0, 3) * rng.uniform(2.0, 10.0)
        cv2.circle(out, (int(x * 16), int(y * 16)), int(r * 16), colour.tolist(), -1,
                   cv2.LINE_AA, 4)
    return out


def render_motion_clip(photo: np.ndarray, spec: MotionSpec, rng: np.random.Generator,
                       source: PhotoSource | None = None, level: float | None = None
                       ) -> tuple[np.ndarray, np.ndarray, dict]:
    """One clip: (blurry, sharp) float32 [n, H, W, 3] sRGB in [0, 1], and what was drawn.

    ``photo`` is uint8 RGB, larger than the view (at least ~1.5x: the camera moves over
    it; mirrored borders fill what it runs past). ``level`` fixes the per-clip streak
    level (px); it is drawn log-uniformly from ``spec.streak`` otherwise.
    """
    spec.validate()
    n, h, w = spec.n_frames, spec.height, spec.width
    lut = srgb_u8_to_linear_lut()
    profile = spec.profile or str(rng.choice(PROFILES, p=[0.6, 0.4]))
    if level is None and spec.still_clip_prob > 0 and rng.random() < spec.still_clip_prob:
        level = float(rng.uniform(0.0, spec.still_level))
    if level is None:
        lo, hi = spec.streak
        level = float(np.exp(rng.uniform(math.log(max(lo, 0.5)), math.log(max(hi, 0.5)))))
    duty = rng.uniform(*spec.duty, n)
    highlights = rng.random() < spec.highlight_prob
    noise = rng.random() < spec.noise_prob
    jpeg = rng.random() < spec.jpeg_prob
    degradation = Degradation.random(rng)

    ph, pw = photo.shape[:2]
    scene = lut[photo]
    if highlights:
        scene = _highlights(scene, rng)
    # View pixel (x, y) shows scene pixel (x + ox, y + oy) at rest.
    ox, oy = (pw - w) / 2.0, (ph - h) / 2.0
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    trans, rot, zoom, focus, stillness = _camera_path(level, n, duty, profile,
                                                      float(min(h, w)), spec, rng)
    tremor = None
    if profile == "handheld" and rng.random() < 0.5:
        amp = rng.uniform(0.0, 0.15) * level * rng.uniform(0.5, 1.0, 2)
        per_frame = stillness if spec.tremor_follows_speed else np.ones_like(stillness)
        omega = 2.0 * np.pi * rng.uniform(*spec.tremor_hz, 2) / spec.frame_rate
        tremor = (amp * rng.choice([-1.0, 1.0], 2), omega, per_frame)
    objects = []
    if source is not None and rng.random() < spec.object_prob:
        for _ in range(int(rng.integers(1, spec.max_objects + 1))):
            objects.append(_random_object(source, h, w, n, level, duty, spec, rng, lut))

    # Scene -> view at rest: the inverse of the view's offset into the photo.
    from_scene = np.array([[1.0, 0.0, -ox], [0.0, 1.0, -oy], [0.0, 0.0, 1.0]])
    blurry = np.empty((n, h, w, 3), np.float32)
    sharp = np.empty_like(blurry)
    streaks = []
    for i in range(n):
        mid = i + 0.5
        half = 0.5 * duty[i]
        # Path length over the exposure decides how densely to sample it.
        probe = np.linspace(mid - half, mid + half, 9)
        cams = _homographies(trans, rot, zoom, focus, probe, centre, tremor)
        corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1],
                            [centre[0], centre[1], 1]], np.float64)
        pts = np.einsum("tij,cj->tci", cams, corners)
        length = np.linalg.norm(np.diff(pts, axis=0), axis=2).sum(0)
        streaks.append(float(length[-1]))
        k = int(min(_MAX_SUBFRAMES, max(3, math.ceil(_SUBFRAMES_PER_PX * length.max()))))
        k += 1 - k % 2  # odd: the middle sub-frame is exactly the exposure's centre
        times = np.linspace(mid - half, mid + half, k)
        cams = _homographies(trans, rot, zoom, focus, times, centre, tremor)
        acc = np.zeros((h, w, 3), np.float32)
        for j, t in enumerate(times):
            view_from_scene = np.vstack([cams[j], [0, 0, 1]]) @ from_scene
            frame = cv2.warpAffine(scene, view_from_scene[:2], (w, h), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT)
            for obj in objects:
                _paint(frame, obj, t, cams[j])
            acc += frame
            if j == k // 2:
                sharp[i] = np.minimum(frame, 1.0)
        mean = np.minimum(acc / np.float32(k), 1.0)
        if noise:
            mean = add_sensor_noise(mean, degradation.shot, degradation.read, rng)
        blurry[i] = mean
    blurry = linear_to_srgb(blurry)
    sharp = linear_to_srgb(sharp)
    if jpeg:
        for i in range(n):
            blurry[i] = jpeg_roundtrip(blurry[i], degradation.jpeg_quality)
    info = {"profile": profile, "level": level, "streaks": streaks, "objects": len(objects),
            "highlights": highlights, "noise": noise, "jpeg": jpeg}
    return blurry, sharp, info


# Validation levels: (name, streak level in px at 128x128 crops of 500 px photos, profile).
# "handheld" and "vehicle" look like real hand-held and dashcam footage at 640x360.
VALIDATION_LEVELS: tuple[tuple[str, float, str], ...] = (
    ("mild", 4.0, "handheld"),
    ("handheld", 12.0, "handheld"),
    ("vehicle", 20.0, "vehicle"),
    ("strong", 32.0, "handheld"),
)


def render_motion_validation(photos: Sequence[np.ndarray], seed: int, n_frames: int = 7,
                             size: int = 128, source: PhotoSource | None = None
                             ) -> list[dict]:
    """Fixed clips: every photo at every level, identical on every call.

    Each clip has its own generator keyed by (seed, photo, level), so appending photos or
    levels leaves earlier clips unchanged.
    """
    clips = []
    for i, photo in enumerate(photos):
        for j, (name, level, profile) in enumerate(VALIDATION_LEVELS):
            rng = np.random.default_rng([seed, i, j])
            spec = MotionSpec(n_frames=n_frames, height=size, width=size, profile=profile)
            blurry, sharp, info = render_motion_clip(photo, spec, rng, source, level=level)
            clips.append({"blurry": blurry, "sharp": sharp, "level": name,
                          "streak_px": float(np.mean(info["streaks"])), "photo_index": i,
                          "profile": profile})
    return clips
