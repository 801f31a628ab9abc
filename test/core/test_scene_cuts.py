"""Scene cuts: camera motion, blur and exposure are not cuts, another scene is, and the
stream restarts at a cut exactly as if the clips had been run apart."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from deblur_ros.core.inference.scene_cuts import (
    DEFAULT_CUT_THRESHOLD,
    check_cut_threshold,
    distance,
    signature,
)
from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb
from deblur_ros.core.synthesis.procedural import dead_leaves


def _scene(seed: int, height: int = 240, width: int = 320) -> np.ndarray:
    return (dead_leaves(height, width, np.random.default_rng(seed)) / 255.0).astype(np.float32)


def _moved(image: np.ndarray, shift: float, zoom: float = 1.0, turn: float = 0.0,
           streak: int = 1, gain: float = 1.0) -> np.ndarray:
    """The same scene after camera motion (shift as a share of the width), a horizontal
    motion-blur streak of ``streak`` px and an exposure change."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), turn, zoom)
    m[0, 2] += shift * w
    out = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    if streak > 1:
        out = cv2.blur(out, (streak, 1))
    return np.clip(out * gain, 0.0, 1.0)


def test_camera_motion_blur_and_exposure_are_not_cuts():
    for seed in range(4):
        scene = _scene(seed)
        still = signature(scene)
        for moved in (_moved(scene, 0.08, streak=31), _moved(scene, 0.04, 1.05, 2.0, 15),
                      _moved(scene, 0.0, gain=0.5), _moved(scene, -0.1, streak=41, gain=1.3)):
            assert distance(still, signature(moved)) < DEFAULT_CUT_THRESHOLD


def test_another_scene_is_a_cut():
    signatures = [signature(_scene(seed)) for seed in range(6)]
    for i, a in enumerate(signatures):
        assert distance(a, a) < 1e-6
        for b in signatures[i + 1:]:
            assert distance(a, b) > DEFAULT_CUT_THRESHOLD


def test_signature_reads_every_layout_and_depth_alike():
    scene = _scene(7)
    reference = signature(scene)
    u8 = (scene * 255 + 0.5).astype(np.uint8)
    u16 = (scene * 65535 + 0.5).astype(np.uint16)
    for frame in (u8, u16, u8[:, :, ::-1].copy()):
        assert distance(reference, signature(frame)) < 0.05
    grey = cv2.cvtColor(u8, cv2.COLOR_RGB2GRAY)
    assert distance(signature(grey), signature(grey[:, :, None])) < 1e-6


def test_flat_dark_frames_are_not_cuts():
    rng = np.random.default_rng(0)
    dark = [np.clip(0.02 + rng.normal(0, 2 / 255, (240, 320, 3)), 0, 1) for _ in range(2)]
    assert distance(signature(dark[0]), signature(dark[1])) < DEFAULT_CUT_THRESHOLD


def test_threshold_is_checked():
    assert check_cut_threshold(0) == 0.0
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="scene-cut threshold"):
            check_cut_threshold(bad)


def _stream(cut_threshold: float = DEFAULT_CUT_THRESHOLD) -> StreamingDeblurrer:
    torch.manual_seed(0)
    model = StrcnnDtb(StrcnnConfig(width=8))
    torch.nn.init.normal_(model.to_image.weight, std=0.05)  # an output that uses the state
    return StreamingDeblurrer(model, "cpu", cut_threshold=cut_threshold)


def _clip(seed: int, n: int = 4) -> list[np.ndarray]:
    scene = _scene(seed, 96, 128)
    return [_moved(scene, 0.02 * i, streak=5) for i in range(n)]


def test_stream_restarts_at_a_cut_as_if_the_clips_ran_apart():
    first, second = _clip(1), _clip(2, n=3)
    stream = _stream()
    outputs = []
    for i, frame in enumerate(first + second):
        outputs += stream.push(frame, i)
    outputs += stream.flush()
    assert [o.stamp for o in outputs] == list(range(7))
    assert stream.cuts == stream.resets == 1
    assert [o.starts_segment for o in outputs] == [True, False, False, False, True, False, False]
    apart = _stream().process(first) + _stream().process(second)
    for out, expected in zip(outputs, apart, strict=True):
        np.testing.assert_array_equal(out.frame, expected)
    # Without detection the second clip starts from the first one's state and neighbours.
    blind = _stream(cut_threshold=0.0).process(first + second)
    assert np.abs(blind[3] - apart[3]).max() > 1e-3  # its look-ahead is another scene
    assert np.abs(blind[5] - apart[5]).max() > 1e-4  # its window is not: the state is
