"""Smooth random camera trajectories, turned into per-sub-frame homographies.

Every motion component (3 rotation angles, 3D translation) is a sum of sinusoids with
random frequencies and phases. That choice is deliberate:

* it is smooth at the sub-frame rate, like a real camera with inertia;
* it can be evaluated at any time, so an endless stream stays continuous across frames
  without carrying integrator state;
* it is bounded, so a single still photo can supply every view without running out of
  margin, which a random walk or a steady pan would not allow.

All amplitudes are designed in *pixels* and converted to angles/translations with the
camera intrinsics, so blur lengths do not depend on the output resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROFILES = ("handheld", "walking", "vehicle")

# Component indices into the 6-vector of motion parameters.
_RX, _RY, _RZ, _TX, _TY, _TZ = range(6)

# RMS image speed in px per sub-frame at strength 1, per profile. With tau = 7..15 sub-frames
# per exposure this gives blur lengths of a few to ~30 px.
_SPEED_RANGE = {"handheld": (0.3, 0.8), "walking": (0.45, 1.0), "vehicle": (0.4, 1.0)}

# Excursion budget of the view around the rest pose, as a fraction of the short image side.
# It is an RMS-style budget (the squared term caps sum to its square): sinusoids with random
# phases rarely peak together, so a hard sum bound would waste most of the photo margin
# (render_clip's ~1.5x photos leave 0.25 per side; reflection covers the rare overshoot).
_MAX_EXCURSION = 0.15
# Forward/backward translation relative to the plane depth (1): beyond this the zoom gets
# implausible for a flat scene.
_MAX_TZ = 0.3


@dataclass
class Sinusoids:
    """Sums of sinusoids driving several motion components, amplitudes in pixels."""

    component: np.ndarray  # int, which motion component each sinusoid drives
    omega: np.ndarray  # rad per sub-frame
    amplitude: np.ndarray  # px
    phase: np.ndarray  # rad
    n_components: int = 6

    def evaluate(self, times: np.ndarray) -> np.ndarray:
        """Motion parameters in pixel units, shape [len(times), n_components]."""
        # Centred on the rest pose (not starting at it), so excursions stay within the caps.
        waves = self.amplitude * np.sin(np.outer(times, self.omega) + self.phase)
        out = np.zeros((len(times), self.n_components))
        np.add.at(out.T, self.component, waves.T)
        return out


def _band(component: int, n: int, lo: float, hi: float, weight: float,
          rng: np.random.Generator) -> list[tuple[int, float, float]]:
    """n sinusoids with log-uniform frequencies; weight is their share of image speed."""
    omegas = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    return [(component, float(w), weight / np.sqrt(n)) for w in omegas]


def _profile_terms(profile: str, rng: np.random.Generator) -> list[tuple[int, float, float]]:
    """(component, omega, speed weight) terms of a motion profile.

    Frequencies (rad per sub-frame) assume a sub-frame rate of ~240 Hz, as in
    high-speed-camera deblurring data sets: hand sway 0.5-2 Hz and tremor 4-12 Hz,
    walking steps 1.3-2.3 Hz, engine/road vibration 10-40 Hz.
    """
    if profile == "handheld":
        # Rotation dominates: a hand mostly tilts the camera rather than moving it. Slow
        # sway carries most of the speed (so consecutive frames overlap, as in real
        # footage); tremor adds small, fast wiggles that bend the blur kernels.
        return (_band(_RX, 2, 0.012, 0.05, 1.0, rng) + _band(_RY, 2, 0.012, 0.05, 1.0, rng)
                + _band(_RX, 2, 0.1, 0.3, 0.4, rng) + _band(_RY, 2, 0.1, 0.3, 0.4, rng)
                + _band(_RZ, 1, 0.012, 0.05, 0.3, rng) + _band(_RZ, 1, 0.1, 0.3, 0.1, rng)
                + _band(_TX, 1, 0.01, 0.05, 0.2, rng) + _band(_TY, 1, 0.01, 0.05, 0.2, rng)
                + _band(_TZ, 1, 0.005, 0.05, 0.1, rng))
    if profile == "walking":
        step = rng.uniform(0.035, 0.06)
        # Vertical bob at the step rate with a harmonic; sideways sway and roll at half the
        # step rate (one sway per stride); slow forward travel; a little hand jitter.
        return ([(_TY, step, 1.0), (_TY, 2 * step, 0.35), (_RX, step, 0.5),
                 (_TX, step / 2, 0.5), (_RZ, step / 2, 0.3), (_RY, step / 2, 0.3)]
                + _band(_TZ, 1, 0.003, 0.01, 0.6, rng)
                + _band(_RX, 2, 0.08, 0.3, 0.25, rng) + _band(_RY, 2, 0.08, 0.3, 0.25, rng))
    if profile == "vehicle":
        # Forward travel plus high-frequency vibration on top of slow sway.
        return (_band(_TZ, 1, 0.003, 0.012, 1.0, rng)
                + _band(_RX, 3, 0.25, 1.0, 0.5, rng) + _band(_RY, 3, 0.25, 1.0, 0.35, rng)
                + _band(_RZ, 2, 0.25, 1.0, 0.2, rng) + _band(_TY, 2, 0.25, 1.0, 0.3, rng)
                + _band(_RY, 1, 0.005, 0.03, 0.3, rng) + _band(_RZ, 1, 0.005, 0.03, 0.15, rng))
    raise ValueError(f"unknown motion profile {profile!r}; valid profiles: {', '.join(PROFILES)}")


def fit_amplitudes(sines: Sinusoids, speed: float, caps: np.ndarray) -> None:
    """Scale amplitudes (in place) to the target RMS speed while keeping each term within its cap.

    Capping a slow term loses speed, so the still-free (faster) terms are scaled up to make
    it good again; repeat until no new cap is hit. If every term is capped the speed falls
    short, which is the honest outcome for a small image with little margin.
    """
    amp, omega = sines.amplitude, sines.omega
    capped = np.zeros(len(omega), bool)
    for _ in range(len(omega) + 1):
        free = ~capped
        fixed_sq = 0.5 * np.sum((amp[capped] * omega[capped]) ** 2)
        free_sq = 0.5 * np.sum((amp[free] * omega[free]) ** 2)
        if free_sq <= 0 or speed**2 <= fixed_sq:
            return
        amp[free] *= np.sqrt((speed**2 - fixed_sq) / free_sq)
        over = free & (amp > caps)
        if not over.any():
            return
        amp[over] = caps[over]
        capped |= over


class CameraMotion:
    """A random smooth camera trajectory that can be evaluated at any sub-frame time.

    The rest pose (all parameters zero) looks straight at the centre of the source image and
    the trajectory oscillates around it, so any time window stays near the image centre.
    """

    def __init__(self, height: int, width: int, rng: np.random.Generator,
                 profile: str = "handheld", strength: float = 1.0,
                 focal: float | None = None, max_excursion: float = _MAX_EXCURSION) -> None:
        if profile not in PROFILES:
            raise ValueError(
                f"unknown motion profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
        if strength < 0:
            raise ValueError(f"strength must be >= 0, got {strength}")
        self.height, self.width = height, width
        # Focal length ~ image width: a normal-to-moderately-wide lens.
        self.focal = float(focal) if focal else width * rng.uniform(0.7, 1.4)
        self.radius = 0.5 * max(height, width)  # px per unit of roll / zoom at the border
        terms = _profile_terms(profile, rng)
        comp = np.array([t[0] for t in terms], int)
        omega = np.array([t[1] for t in terms])
        weight = np.array([t[2] for t in terms])
        self.sines = Sinusoids(comp, omega, weight / omega, rng.uniform(0, 2 * np.pi, len(terms)))
        speed = strength * rng.uniform(*_SPEED_RANGE[profile])
        # Each term's share of the squared budget is its share of the speed weights.
        caps = max_excursion * min(height, width) * np.sqrt(weight / weight.sum())
        caps[comp == _TZ] = np.minimum(caps[comp == _TZ], _MAX_TZ * self.radius)
        if speed > 0:
            fit_amplitudes(self.sines, speed, caps)
        else:
            self.sines.amplitude[:] = 0.0
        cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
        self.K = np.array([[self.focal, 0, cx], [0, self.focal, cy], [0, 0, 1.0]])
        self.K_inv = np.linalg.inv(self.K)

    def parameters(self, times: np.ndarray) -> np.ndarray:
        """[n, 6] (rx, ry, rz in rad; tx, ty, tz in units of the plane depth)."""
        px = self.sines.evaluate(np.asarray(times, np.float64))
        scale = np.array([1 / self.focal, 1 / self.focal, 1 / self.radius,
                          1 / self.focal, 1 / self.focal, 1 / self.radius])
        return px * scale

    def homographies(self, times: np.ndarray, centre: bool = False) -> np.ndarray:
        """[n, 3, 3] maps from rest-pose pixels to the view at each time.

        A plane at depth 1 facing the camera gives H = K (R - t n^T / d) K^-1, so that
        translation produces the parallax-free image motion a single photo can support.
        With centre=True the rest pose is moved to the mean pose over `times`: a clip then
        sways around the middle of its source photo, and slow terms, which only drift
        during a clip, need much less margin.
        """
        p = self.parameters(times)
        if centre and len(p):
            p = p - p.mean(axis=0)
        R = _rotations(p[:, _RX], p[:, _RY], p[:, _RZ])
        R[:, :, 2] -= p[:, _TX:_TZ + 1]  # - t n^T with n = (0, 0, 1), d = 1
        H = self.K @ R @ self.K_inv
        return H / H[:, 2:3, 2:3]


def _rotations(rx: np.ndarray, ry: np.ndarray, rz: np.ndarray) -> np.ndarray:
    """Batched Rz @ Ry @ Rx."""
    n = len(rx)
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    one, zero = np.ones(n), np.zeros(n)
    Rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).reshape(n, 3, 3)
    Ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).reshape(n, 3, 3)
    Rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).reshape(n, 3, 3)
    return Rz @ Ry @ Rx


def camera_homographies(n_sub: int, height: int, width: int, rng: np.random.Generator,
                        profile: str, strength: float = 1.0) -> np.ndarray:
    """[n_sub, 3, 3] float64 homographies from the first sub-frame's view to each sub-frame's.

    strength scales the image speed linearly; 0 gives identities.
    """
    motion = CameraMotion(height, width, rng, profile, strength)
    # Start at a random point of the (stationary) trajectory rather than at the rest pose.
    t0 = rng.uniform(0.0, 1000.0)
    H = motion.homographies(t0 + np.arange(n_sub))
    return H @ np.linalg.inv(H[0])
