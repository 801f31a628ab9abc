"""Frames from files or from the synthetic generator, as uint8 RGB arrays.

Kept free of ROS imports so the offline CLI and evaluation code can read the
same inputs as the camera_source node.  OpenCV works in BGR; every source
converts to RGB here so no caller has to remember which library it used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from deblur_ros.core.imaging import IMAGE_EXTENSIONS, natural_key

__all__ = [
    "IMAGE_EXTENSIONS",
    "FolderSource",
    "FrameSource",
    "FrameSourceError",
    "SyntheticSource",
    "VideoSource",
    "open_source",
    "write_frames_folder",
]



class FrameSourceError(ValueError):
    """A source spec or file that cannot produce frames."""


@runtime_checkable
class FrameSource(Protocol):
    """An iterable of uint8 HxWx3 RGB frames of a fixed size.

    No ``__len__``: looping and synthetic sources never end.  ``fps`` is None
    when the source has no natural rate and the consumer must pick one.
    """

    width: int
    height: int
    fps: float | None

    def __iter__(self) -> Iterator[np.ndarray]: ...


def _read_rgb(path: Path) -> np.ndarray:
    # imdecode of the bytes rather than imread: imread cannot open non-ASCII
    # paths on some platforms, and both fail silently by returning None.
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise FrameSourceError(f"cannot read image {str(path)!r}: {exc.strerror}") from exc
    bgr = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
    if bgr is None:
        raise FrameSourceError(
            f"cannot decode image {str(path)!r}; it is corrupt or not a "
            f"{'/'.join(ext[1:] for ext in IMAGE_EXTENSIONS)} file"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _image_paths(folder: Path) -> list[Path]:
    """The image files of ``folder`` (not hidden ones) in natural order."""
    return sorted((entry for entry in folder.iterdir()
                   if entry.suffix.lower() in IMAGE_EXTENSIONS
                   and not entry.name.startswith(".") and entry.is_file()), key=natural_key)


class FolderSource:
    """The images of one folder in natural order, e.g. an extracted dataset clip.

    Sizes are checked lazily as frames are read (reading every image up front
    would make start-up as slow as a full pass), against the first image.

    ``on_bad_frame(path, error)``, when given, is told of each unreadable or misshapen
    image, which is then skipped: a camera stand-in must not die on one corrupt file
    of a long clip, while evaluation (no callback) must not silently score fewer frames.
    """

    fps: float | None = None

    def __init__(
        self,
        path: str | os.PathLike[str],
        loop: bool = False,
        on_bad_frame: Callable[[Path, FrameSourceError], None] | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise FrameSourceError(f"image folder {str(self.path)!r} does not exist")
        if not self.path.is_dir():
            raise FrameSourceError(f"{str(self.path)!r} is not a folder")
        self.paths: list[Path] = _image_paths(self.path)
        if not self.paths:
            raise FrameSourceError(
                f"image folder {str(self.path)!r} contains no "
                f"{'/'.join(ext[1:] for ext in IMAGE_EXTENSIONS)} images"
            )
        self.loop = loop
        self.on_bad_frame = on_bad_frame
        self.first = self.paths[0]
        if on_bad_frame is None:
            first = _read_rgb(self.first)
        else:
            first = self._first_readable()
        self.height, self.width = first.shape[:2]

    def _first_readable(self) -> np.ndarray:
        # Skipped files are reported when the iteration reaches them, not here.
        for path in self.paths:
            try:
                frame = _read_rgb(path)
            except FrameSourceError:
                continue
            self.first = path
            return frame
        raise FrameSourceError(f"image folder {str(self.path)!r} has no readable image")

    def _read(self, path: Path) -> np.ndarray:
        frame = _read_rgb(path)
        if frame.shape[:2] != (self.height, self.width):
            raise FrameSourceError(
                f"image {str(path)!r} is {frame.shape[1]}x{frame.shape[0]} but "
                f"{self.first.name!r} is {self.width}x{self.height}; all frames "
                "of a folder source must have the same size"
            )
        return frame

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yielded = 0
            for path in self.paths:
                try:
                    frame = self._read(path)
                except FrameSourceError as exc:
                    if self.on_bad_frame is None:
                        raise
                    self.on_bad_frame(path, exc)
                    continue
                yielded += 1
                yield frame
            # A pass with nothing readable left (files removed or broken meanwhile) ends
            # a looping source instead of spinning on it.
            if not self.loop or yielded == 0:
                return


class VideoSource:
    """A video file decoded with OpenCV, optionally restarted at the end."""

    def __init__(self, path: str | os.PathLike[str], loop: bool = False) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise FrameSourceError(f"video file {str(self.path)!r} does not exist")
        self.loop = loop
        capture = self._open()
        try:
            ok, frame = capture.read()
            fps = capture.get(cv2.CAP_PROP_FPS)
        finally:
            capture.release()
        if not ok or frame is None:
            raise FrameSourceError(
                f"video {str(self.path)!r} has no readable frames; it may be empty, "
                "truncated, or use a codec this OpenCV build lacks"
            )
        self.height, self.width = frame.shape[:2]
        # Containers without a rate report 0 or NaN; None tells the caller to choose.
        self.fps: float | None = float(fps) if fps and np.isfinite(fps) and fps > 0 else None

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise FrameSourceError(
                f"cannot open video {str(self.path)!r}; it is not a video file or "
                "its codec is not supported by OpenCV"
            )
        return capture

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            capture = self._open()
            count = 0
            try:
                while True:
                    ok, bgr = capture.read()
                    if not ok or bgr is None:
                        break
                    count += 1
                    yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            finally:
                capture.release()
            # Stop rather than spin if a looping file suddenly yields nothing.
            if not self.loop or count == 0:
                return


class SyntheticSource:
    """Endless blurry frames from the synthesis module, for demos without a camera.

    The generator is imported on first iteration so this module (and every
    CLI that imports it) loads without the synthesis dependencies.
    """

    fps: float | None = None

    def __init__(self, width: int = 640, height: int = 480, seed: int = 0) -> None:
        if width <= 0 or height <= 0:
            raise FrameSourceError(f"synthetic size must be positive, got {width}x{height}")
        self.width = int(width)
        self.height = int(height)
        self.seed = int(seed)

    def __iter__(self) -> Iterator[np.ndarray]:
        from deblur_ros.core.synthesis.shaky_camera import synthetic_shaky_stream

        for blurry, _sharp in synthetic_shaky_stream(self.width, self.height, seed=self.seed):
            yield blurry


def open_source(
    spec: str,
    loop: bool = False,
    width: int = 640,
    height: int = 480,
    *,
    seed: int = 0,
    on_bad_frame: Callable[[Path, FrameSourceError], None] | None = None,
) -> FrameSource:
    """Pick a source from a user-supplied string (a node parameter or CLI flag).

    ``width``, ``height`` and ``seed`` shape the synthetic source (which never ends, so
    ``loop`` does not apply) and are the size requested from a camera device; files keep
    their own size. ``on_bad_frame`` makes a folder source skip (and report) images it
    cannot use; see :class:`FolderSource`.
    """
    text = spec.strip()
    if text in ("", "synthetic"):
        return SyntheticSource(width, height, seed=seed)
    from deblur_ros.adapters.device_source import DeviceSource, is_device_spec

    if is_device_spec(text):
        return DeviceSource(text, width, height)
    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource(path, loop=loop, on_bad_frame=on_bad_frame)
    if path.is_file():
        return VideoSource(path, loop=loop)
    raise FrameSourceError(
        f"unknown source {spec!r}: give a video file, a folder of images, a camera "
        "(/dev/video0 or an index such as 0), or 'synthetic' "
        "(no such file or folder exists)"
    )


def pairs_dataset(root: str | os.PathLike[str]
                  ) -> Iterator[tuple[str, FolderSource, FolderSource | None]]:
    """(name, blurry frames, sharp frames or None) per ``ROOT/<sequence>/blur|sharp``.

    The layout of GoPro-style sets and of ``deblur-ros pairs``; sequences in name order.
    A sequence whose two folders differ in length is refused: scoring would pair the
    wrong frames without a word.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FrameSourceError(f"dataset root {str(root)!r} is not a folder")
    folders = sorted(p for p in root.iterdir() if (p / "blur").is_dir())
    if not folders:
        raise FrameSourceError(
            f"dataset root {str(root)!r} has no sub-folder with a 'blur/' folder "
            "(expected ROOT/<sequence>/blur and ROOT/<sequence>/sharp)")
    for folder in folders:
        blur = FolderSource(folder / "blur")
        sharp = FolderSource(folder / "sharp") if (folder / "sharp").is_dir() else None
        if sharp is not None and len(sharp.paths) != len(blur.paths):
            raise FrameSourceError(f"{folder.name}: {len(blur.paths)} blurry frames but "
                                   f"{len(sharp.paths)} sharp ones")
        yield folder.name, blur, sharp


def sequence_folders(blur_root: str | os.PathLike[str],
                     sharp_root: str | os.PathLike[str] | None = None,
                     lengths_must_match: bool = True,
                     ) -> list[tuple[str, FolderSource, FolderSource | None]] | None:
    """(name, blurry frames, sharp frames or None) per image sub-folder of ``blur_root``.

    The other common benchmark layout (``blur/<sequence>/*.png`` beside
    ``sharp/<sequence>/*.png``): ``eval --blur blur --sharp sharp`` then scores every
    sequence from a fresh recurrent state, as ``--dataset`` does, instead of failing on a
    folder without images. None when ``blur_root`` holds images itself (one sequence) or
    no image sub-folder. The sharp sequences are matched by name, and a missing one or a
    length that differs is refused before any work: scoring would pair wrong frames.
    """
    root = Path(blur_root).expanduser()
    if not root.is_dir() or _image_paths(root):
        return None
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                      and _image_paths(p)), key=natural_key)
    if not folders:
        if any((p / "blur").is_dir() for p in root.iterdir() if p.is_dir()):
            raise FrameSourceError(
                f"{str(root)!r} holds <sequence>/blur folders (the GoPro layout): "
                f"use --dataset {root} instead of --blur/--sharp")
        return None
    sharp = Path(sharp_root).expanduser() if sharp_root is not None else None
    if sharp is not None:
        if not sharp.is_dir():
            raise FrameSourceError(f"--blur {str(root)!r} holds sequence folders, so --sharp "
                                   f"must be a folder of the same ones; {str(sharp)!r} is not "
                                   "a folder")
        missing = [f.name for f in folders if not (sharp / f.name).is_dir()]
        if missing:
            raise FrameSourceError(
                f"{str(sharp)!r} has no sequence folder {missing[0]!r} to match the blurry "
                f"one in {str(root)!r} ({len(missing)} of {len(folders)} missing); give "
                "--sharp the folder holding the same sequence names")
    pairs = []
    for folder in folders:
        blurry = FolderSource(folder)
        truth = FolderSource(sharp / folder.name) if sharp is not None else None
        if truth is not None and lengths_must_match and len(truth.paths) != len(blurry.paths):
            raise FrameSourceError(f"{folder.name}: {len(blurry.paths)} blurry frames but "
                                   f"{len(truth.paths)} sharp ones")
        pairs.append((folder.name, blurry, truth))
    return pairs


def write_frames_folder(frames: Iterable[np.ndarray], path: str | os.PathLike[str]) -> list[Path]:
    """Write uint8 RGB (or grey HxW) frames as 000000.png, 000001.png, ...

    PNG keeps the frames lossless so evaluation metrics are not polluted by
    compression.  Returns the written paths in order.
    """
    folder = Path(path).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for index, frame in enumerate(frames):
        arr = np.asarray(frame)
        if arr.dtype != np.uint8:
            raise ValueError(f"frame {index} is {arr.dtype}, expected uint8")
        if arr.ndim == 3 and arr.shape[2] == 3:
            arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
        elif arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        elif arr.ndim != 2:
            raise ValueError(f"frame {index} has shape {arr.shape}, expected HxWx3 or HxW")
        target = folder / f"{index:06d}.png"
        ok, encoded = cv2.imencode(".png", arr)
        if not ok:
            raise OSError(f"OpenCV could not encode frame {index} as PNG")
        encoded.tofile(target)
        written.append(target)
    return written
