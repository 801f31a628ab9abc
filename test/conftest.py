"""Fixtures every layer's tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def identity_model(tmp_path):
    """A real checkpoint of an untrained network, which is exactly the identity."""
    from deblur_ros.core.models.checkpoint import save_checkpoint
    from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb

    return save_checkpoint(tmp_path / "strcnn-w8-m1.pt", StrcnnDtb(StrcnnConfig(width=8)))
