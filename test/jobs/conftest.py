"""The live model the bag tests stream with."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def live_model() -> Path:
    """The shipped lite live model, loaded as users load it (real trained weights, so the
    frames change; at 64x48 it is fast)."""
    from deblur_ros.core.models.checkpoint import resolve_model

    return resolve_model("strcnn-w16-m1")
