"""The live model's dead zone: how much of its correction counts as noise.

On still footage the network's residual (output minus input) is low-level noise, not
deblurring, and it costs PSNR where the input is already clean. Soft-thresholding the
residual by a grey level or so removes that and leaves real corrections (tens of grey
levels at edges) nearly whole. How much noise a network adds depends on the network, so
a checkpoint may record its own measured value (``metadata["deadzone"]``); entry points
use that unless told otherwise. Kept free of torch so command lines can check the value
without loading a model.
"""

from __future__ import annotations

import math
from typing import Any

DEFAULT_DEADZONE = 0.5
"""Grey levels (of 255) for a checkpoint that records no value of its own. Measured on
the lite model (models/MODELS.md): the still X4K clip TEST06 goes from -0.58 to +0.15 dB
at 11 ms, so no real clip ends below its input, and the X4K mean from +1.56 to +1.68 dB,
for -0.01 dB on the validation renders."""

MAX_DEADZONE = 32.0
"""Beyond this the threshold would erase real deblurring, not noise."""


def check_deadzone(value: float) -> float:
    """``value`` as a float, or a ValueError naming it and the allowed range."""
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= MAX_DEADZONE):
        raise ValueError(f"deadzone must be 0..{MAX_DEADZONE:g} grey levels of 255 "
                         f"(got {value:g}); 0 turns it off")
    return value


def resolve_deadzone(requested: float | None, metadata: dict[str, Any]) -> float:
    """What to apply: ``requested`` when given (>= 0), else the checkpoint's own measured
    value, else :data:`DEFAULT_DEADZONE`. ``None`` or a negative number mean "auto"."""
    if requested is not None and requested >= 0:
        return check_deadzone(requested)
    recorded = metadata.get("deadzone")
    return DEFAULT_DEADZONE if recorded is None else check_deadzone(recorded)
