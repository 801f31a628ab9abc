"""The demo's before/after picture: the enlarged detail must be where the model acted."""

from __future__ import annotations

import numpy as np

from deblur_ros.core.imaging import most_changed_window, with_detail


def test_most_changed_window_finds_the_changed_patch():
    rng = np.random.default_rng(0)
    before = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    after = before.copy()
    after[40:52, 10:22] = 255 - after[40:52, 10:22]  # the only change
    y, x, h, w = most_changed_window(before, after, fraction=0.5)
    assert (h, w) == (30, 40)
    assert y <= 40 and y + h >= 52 and x <= 10 and x + w >= 22


def test_with_detail_enlarges_that_window_of_both_frames():
    before = np.zeros((48, 64), np.uint8)  # grey frames come out RGB too
    after = before.copy()
    after[30:34, 44:48] = 200
    picture = with_detail(before, after, ["in", "out"])
    assert picture.shape == (48 + 4 + 48, 64 + 4 + 64, 3)
    y, x, h, w = most_changed_window(before, after)
    detail = picture[52:, 68:]  # the output's enlarged window, 2x nearest neighbour
    ys, xs = np.nonzero(detail[24:, :, 0] == 200)  # below its label
    assert ys.size and (ys.min() + 24) // 2 + y == 30 and xs.min() // 2 + x == 44
    assert not (picture[52 + 24:, :64] == 200).any()  # the input's detail has no patch
