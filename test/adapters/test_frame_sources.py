"""File and synthetic frame sources."""

from __future__ import annotations

import itertools
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from deblur_ros.adapters.frame_sources import (
    FolderSource,
    FrameSource,
    FrameSourceError,
    SyntheticSource,
    VideoSource,
    open_source,
    pairs_dataset,
    write_frames_folder,
)

H, W = 24, 32


def _rgb_frame(index: int) -> np.ndarray:
    """A frame whose red channel encodes its index and whose blue is 0, so order
    and channel swaps are both detectable."""
    frame = np.zeros((H, W, 3), np.uint8)
    frame[..., 0] = 40 * (index + 1)
    frame[..., 1] = 7
    return frame


def _write_bgr(path: Path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for index in range(3):
        _write_bgr(tmp_path / f"frame_{index}.png", _rgb_frame(index))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_folder_yields_rgb_frames_in_order(folder: Path) -> None:
    source = FolderSource(folder)
    assert isinstance(source, FrameSource)
    assert (source.width, source.height, source.fps) == (W, H, None)
    frames = list(source)
    assert len(frames) == 3
    for index, frame in enumerate(frames):
        assert frame.dtype == np.uint8 and frame.shape == (H, W, 3)
        np.testing.assert_array_equal(frame, _rgb_frame(index))


def test_folder_natural_sort(tmp_path: Path) -> None:
    for index, name in enumerate(["1.png", "2.png", "10.png"]):
        _write_bgr(tmp_path / name, _rgb_frame(index))
    source = FolderSource(tmp_path)
    assert [p.name for p in source.paths] == ["1.png", "2.png", "10.png"]
    reds = [int(frame[0, 0, 0]) for frame in source]
    assert reds == [40, 80, 120]


def test_folder_accepts_all_listed_extensions(tmp_path: Path) -> None:
    for index, ext in enumerate(["png", "JPG", "jpeg", "bmp", "tif", "tiff"]):
        _write_bgr(tmp_path / f"{index}.{ext}", _rgb_frame(0))
    assert len(list(FolderSource(tmp_path))) == 6


def test_folder_size_mismatch_names_the_file(folder: Path) -> None:
    small = np.zeros((H // 2, W, 3), np.uint8)
    _write_bgr(folder / "frame_5.png", small)
    source = FolderSource(folder)
    with pytest.raises(FrameSourceError, match="frame_5.png") as info:
        list(source)
    assert "same size" in str(info.value)


def test_folder_loop_repeats(folder: Path) -> None:
    frames = list(itertools.islice(FolderSource(folder, loop=True), 7))
    reds = [int(frame[0, 0, 0]) for frame in frames]
    assert reds == [40, 80, 120, 40, 80, 120, 40]


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FrameSourceError, match="does not exist"):
        FolderSource(tmp_path / "missing")
    with pytest.raises(FrameSourceError, match="no png"):
        FolderSource(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not really a png")
    with pytest.raises(FrameSourceError, match="broken.png"):
        FolderSource(tmp_path)


def _write_video(path: Path, count: int, fps: float = 12.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    assert writer.isOpened()
    for index in range(count):
        writer.write(cv2.cvtColor(_rgb_frame(index), cv2.COLOR_RGB2BGR))
    writer.release()


def test_video_count_size_fps_and_colour(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    _write_video(path, 5)
    source = VideoSource(path)
    assert (source.width, source.height) == (W, H)
    assert source.fps == pytest.approx(12.0)
    frames = list(source)
    assert len(frames) == 5
    for index, frame in enumerate(frames):
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
        # MJPG is lossy: compare the flat colour approximately, in RGB order.
        mean = frame.reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(mean, [40 * (index + 1), 7, 0], atol=6)


def test_video_loop(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    _write_video(path, 3)
    frames = list(itertools.islice(VideoSource(path, loop=True), 8))
    assert len(frames) == 8
    np.testing.assert_allclose(frames[3], frames[0], atol=0)


def test_video_errors(tmp_path: Path) -> None:
    with pytest.raises(FrameSourceError, match="does not exist"):
        VideoSource(tmp_path / "missing.avi")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(FrameSourceError, match="junk.avi"):
        VideoSource(junk)


def test_open_source_dispatch(folder: Path, tmp_path: Path) -> None:
    assert isinstance(open_source(str(folder)), FolderSource)
    video = tmp_path / "clip.avi"
    _write_video(video, 2)
    source = open_source(str(video), loop=True)
    assert isinstance(source, VideoSource) and source.loop
    synthetic = open_source("synthetic", width=64, height=48, seed=9)
    assert isinstance(synthetic, SyntheticSource)
    assert (synthetic.width, synthetic.height, synthetic.seed) == (64, 48, 9)
    assert isinstance(open_source(""), SyntheticSource)


def test_open_source_unknown_spec(tmp_path: Path) -> None:
    spec = str(tmp_path / "nothing_here.mp4")
    with pytest.raises(FrameSourceError, match="unknown source") as info:
        open_source(spec)
    message = str(info.value)
    assert spec in message and "synthetic" in message and "folder" in message


def test_synthetic_source_yields_blurry_frames() -> None:
    # The package's own generator: an import error here is a failure, not a skip.
    import deblur_ros.core.synthesis.shaky_camera  # noqa: F401

    source = SyntheticSource(width=64, height=48, seed=3)
    frames = list(itertools.islice(source, 2))
    assert len(frames) == 2
    for frame in frames:
        assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8


def test_synthetic_source_passes_arguments_and_drops_sharp(monkeypatch) -> None:
    """Checked against a stand-in generator so it runs before/without the real one."""
    calls = []

    def fake_stream(width, height, seed=0):
        calls.append((width, height, seed))
        for index in itertools.count():
            blurry = np.full((height, width, 3), index, np.uint8)
            yield blurry, np.full_like(blurry, 255)

    fake = types.ModuleType("deblur_ros.core.synthesis.shaky_camera")
    fake.synthetic_shaky_stream = fake_stream
    monkeypatch.setitem(sys.modules, "deblur_ros.core.synthesis.shaky_camera", fake)
    frames = list(itertools.islice(SyntheticSource(width=8, height=6, seed=5), 3))
    assert calls == [(8, 6, 5)]
    assert [int(frame[0, 0, 0]) for frame in frames] == [0, 1, 2]


def test_synthetic_source_validates_size() -> None:
    with pytest.raises(FrameSourceError, match="positive"):
        SyntheticSource(width=0)


def test_write_frames_folder_round_trip(tmp_path: Path) -> None:
    frames = [_rgb_frame(index) for index in range(3)]
    out = tmp_path / "out" / "nested"
    written = write_frames_folder(iter(frames), out)
    assert [p.name for p in written] == ["000000.png", "000001.png", "000002.png"]
    # Stored as a normal (BGR on disk) PNG, so other tools see the right colours.
    np.testing.assert_array_equal(cv2.imread(str(written[0]))[0, 0], [0, 7, 40])
    for frame, expected in zip(FolderSource(out), frames):
        np.testing.assert_array_equal(frame, expected)


def test_write_frames_folder_rejects_float(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        write_frames_folder([np.zeros((2, 2, 3), np.float32)], tmp_path)


def test_folder_source_skips_and_reports_bad_frames_when_asked(tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    frames = [_rgb_frame(index) for index in range(4)]
    for index, frame in enumerate(frames):
        _write_bgr(folder / f"{index}.png", frame)
    (folder / "0.png").write_bytes(b"not a png at all")  # the first one, too
    (folder / "2.png").write_bytes(b"\x89PNG garbage")
    _write_bgr(folder / "5.png", np.zeros((H + 2, W, 3), np.uint8))  # another size

    with pytest.raises(FrameSourceError, match="0.png"):
        list(FolderSource(folder))  # without a callback: strict, as before

    bad: list[tuple[str, str]] = []
    source = open_source(str(folder), loop=True,
                         on_bad_frame=lambda path, exc: bad.append((path.name, str(exc))))
    assert (source.width, source.height) == (W, H)
    got = list(itertools.islice(source, 4))  # two passes of the two good frames
    for frame, expected in zip(got, [frames[1], frames[3]] * 2):
        np.testing.assert_array_equal(frame, expected)
    names = [name for name, _ in bad]
    assert names[:3] == ["0.png", "2.png", "5.png"] and names.count("0.png") == 2
    assert "corrupt" in bad[0][1] and "same size" in bad[2][1]


def test_folder_source_with_nothing_readable(tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "0.png").write_bytes(b"junk")
    with pytest.raises(FrameSourceError, match="no readable image"):
        FolderSource(folder, on_bad_frame=lambda path, exc: None)


def test_pairs_dataset_walks_sequences_in_order_and_refuses_a_short_sharp_folder(
        tmp_path: Path) -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    for name, n_blur, n_sharp in (("seq10", 2, 2), ("seq2", 3, None), ("notes", 0, 0)):
        if n_blur:
            write_frames_folder([img] * n_blur, tmp_path / name / "blur")
        if n_sharp:
            write_frames_folder([img] * n_sharp, tmp_path / name / "sharp")
    (tmp_path / "notes").mkdir()
    got = [(name, len(blur.paths), sharp and len(sharp.paths))
           for name, blur, sharp in pairs_dataset(tmp_path)]
    assert got == [("seq10", 2, 2), ("seq2", 3, None)]
    write_frames_folder([img], tmp_path / "seq2" / "sharp")
    with pytest.raises(FrameSourceError, match="seq2: 3 blurry frames but 1 sharp"):
        list(pairs_dataset(tmp_path))
    with pytest.raises(FrameSourceError, match="not a folder"):
        list(pairs_dataset(tmp_path / "none"))
