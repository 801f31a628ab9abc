"""``deblur-ros pairs``: high-frame-rate video in, a dataset ``eval --dataset`` reads out."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from deblur_ros.adapters.frame_sources import write_frames_folder
from deblur_ros.cli.main import main as deblur_ros

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _moving_square(n: int = 15, h: int = 40, w: int = 64) -> list[np.ndarray]:
    frames = []
    for i in range(n):
        img = np.full((h, w, 3), 30, np.uint8)
        img[12:28, 4 + 2 * i:20 + 2 * i] = (250, 200, 40)
        frames.append(img)
    return frames


def test_pairs_from_a_frame_folder_feed_eval(tmp_path, identity_model, capsys):
    write_frames_folder(_moving_square(), tmp_path / "fast" / "clip1")
    out = tmp_path / "pairs"
    assert deblur_ros(["pairs", str(tmp_path / "fast" / "clip1"), str(out), "--tau", "5",
                       "--width", "32"]) == 0
    blur = sorted((out / "clip1" / "blur").iterdir())
    sharp = sorted((out / "clip1" / "sharp").iterdir())
    assert len(blur) == len(sharp) == 3  # 15 frames, tau 5, stride 5
    b = cv2.imread(str(blur[0]))
    s = cv2.imread(str(sharp[0]))
    assert b.shape == (20, 32, 3)
    assert np.abs(b.astype(int) - s.astype(int)).max() > 20  # the square moved: blurred
    capsys.readouterr()
    out_json = tmp_path / "e.json"
    assert deblur_ros(["eval", "--dataset", str(out), "--model", str(identity_model),
                       "--device", "cpu", "--per-sequence", "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "| clip1 | 3 |" in printed
    data = json.loads(out_json.read_text())
    assert data["frames"] == 3 and data["input"]["psnr"] < 40


def test_a_cycle_of_exposures_makes_a_drive_whose_blur_comes_and_goes(tmp_path):
    """tau 1,5: every other frame is the sharp frame itself, the others are averaged, and
    each frame's target is the middle of the longest exposure (one frame apart here)."""
    frames = _moving_square()
    write_frames_folder(frames, tmp_path / "fast" / "clip1")
    out = tmp_path / "drive"
    assert deblur_ros(["pairs", str(tmp_path / "fast" / "clip1"), str(out), "--tau", "1,5",
                       "--stride", "1", "--overlap-ok", "--width", "64"]) == 0
    blur = [cv2.imread(str(p)) for p in sorted((out / "clip1" / "blur").iterdir())]
    sharp = [cv2.imread(str(p)) for p in sorted((out / "clip1" / "sharp").iterdir())]
    assert len(blur) == len(sharp) == 11  # windows of 5 starting at frames 0..10
    for i, (b, s) in enumerate(zip(blur, sharp)):
        moved = np.abs(b.astype(int) - s.astype(int)).max()
        assert (moved == 0) if i % 2 == 0 else (moved > 20)
        # the target is high-speed frame i + 2, the middle of the window
        expected = cv2.cvtColor(frames[i + 2], cv2.COLOR_RGB2BGR)
        assert np.abs(s.astype(int) - expected.astype(int)).max() <= 1
    with pytest.raises(SystemExit):
        deblur_ros(["pairs", str(tmp_path / "fast" / "clip1"), str(out), "--tau", "1,x"])


def test_pairs_errors_are_one_line(tmp_path, capsys):
    assert deblur_ros(["pairs", str(tmp_path / "nothing"), str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    write_frames_folder(_moving_square(4), tmp_path / "short")
    assert deblur_ros(["pairs", str(tmp_path / "short"), str(tmp_path / "o"), "--tau", "5"]) == 2
    assert "fewer than tau" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        deblur_ros(["pairs", str(tmp_path / "short"), str(tmp_path / "o"), "--tau", "5",
                    "--stride", "2"])
    assert "overlap" in capsys.readouterr().err
    assert deblur_ros(["pairs", str(tmp_path / "short"), str(tmp_path / "o"), "--tau", "4"]) == 2
    assert "odd" in capsys.readouterr().err


def test_pairs_from_the_real_x4k_clips(tmp_path):
    src = SHARED / "real_highfps" / "x4k1000"
    if not src.is_dir():
        pytest.skip(f"real high-fps clips not found at {src} (the shared data folder)")
    assert deblur_ros(["pairs", str(src), str(tmp_path), "--tau", "11"]) == 0
    clips = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(clips) == 10
    assert all(len(list((c / "blur").iterdir())) == 3 for c in clips)
    assert cv2.imread(str(clips[0] / "blur" / "000000.png")).shape == (338, 640, 3)
