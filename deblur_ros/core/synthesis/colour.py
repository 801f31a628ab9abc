"""sRGB transfer curves.

Motion blur is an average of photons over the exposure, so it has to be computed on
linear-light values; averaging gamma-encoded pixels makes blurred highlights too dark and
is a tell-tale sign of synthetic data that a network would learn to exploit.
"""

from __future__ import annotations

import numpy as np

# Constants of the IEC 61966-2-1 piecewise curve (not a pure 2.2 power law: the linear toe
# keeps the slope finite near black, which matters for noisy shadows).
_SRGB_KNEE = 0.04045
_LINEAR_KNEE = 0.0031308
_TOE_SLOPE = 12.92
_OFFSET = 0.055
_GAMMA = 2.4


def _as_unit_float(x: np.ndarray) -> np.ndarray:
    """Accept integer images too, so callers need not remember which scale they hold."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float32) / np.float32(np.iinfo(x.dtype).max)
    # Clipping keeps the power function defined when noise pushed values out of range.
    return np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Decode sRGB values in [0, 1] (or an integer image) to float32 linear light."""
    x = _as_unit_float(x)
    curve = np.power((x + _OFFSET) / (1.0 + _OFFSET), _GAMMA)
    return np.where(x <= _SRGB_KNEE, x / _TOE_SLOPE, curve).astype(np.float32, copy=False)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Encode float linear light in [0, 1] to float32 sRGB values in [0, 1]."""
    x = _as_unit_float(x)
    curve = (1.0 + _OFFSET) * np.power(x, 1.0 / _GAMMA) - _OFFSET
    return np.where(x <= _LINEAR_KNEE, x * _TOE_SLOPE, curve).astype(np.float32, copy=False)


def srgb_u8_to_linear_lut() -> np.ndarray:
    """256-entry float32 table, so 8-bit images decode with one lookup instead of a power."""
    return srgb_to_linear(np.arange(256, dtype=np.float32) / np.float32(255.0))
