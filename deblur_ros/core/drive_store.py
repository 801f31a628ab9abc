"""What the scene sidecar keeps of a drive: the selected frames (bounded in count and
bytes) and, optionally, the whole drive spooled to disk so it can be republished.

Both are bounded because a sidecar runs for hours: the selected frames live in RAM and
are capped by count and by megabytes (the least sharp one makes room for a sharper
newcomer, so a long drive keeps its best frames, not its first or last ones); the spool
lives on disk, is capped in bytes, and says when it is full instead of dropping frames
silently. Neither knows about ROS: the node stores serialised messages as opaque blobs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deblur_ros.core.imaging import from_float01
from deblur_ros.core.sharpness import Selection


def stored_pixels(rgb: np.ndarray) -> np.ndarray:
    """A frame as selections keep it: 8-bit HxWx3 or HxW, a quarter of float32's bytes."""
    frame = from_float01(rgb, np.uint8)
    return frame[:, :, 0] if frame.ndim == 3 and frame.shape[2] == 1 else frame


class SelectedFrames:
    """The frames a scene fit learns from, within ``max_frames`` and ``max_bytes``."""

    def __init__(self, max_frames: int = 60, max_bytes: int = 256 * 2**20) -> None:
        if max_frames < 1:
            raise ValueError(f"max selected frames must be at least 1 (got {max_frames})")
        if max_bytes < 1:
            raise ValueError(f"selected-frame memory cap must be positive (got {max_bytes})")
        self.max_frames = int(max_frames)
        self.max_bytes = int(max_bytes)
        self.frames: list[Selection] = []
        self.added = 0  # selections offered over the drive
        self.evicted = 0  # kept ones pushed out by sharper ones, or refused as too big

    @property
    def nbytes(self) -> int:
        return sum(s.frame.nbytes for s in self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    def add(self, selection: Selection) -> bool:
        """Keep a selection if there is room or it is sharper than the least sharp kept
        frame; returns whether it was kept."""
        self.added += 1
        if selection.frame.nbytes > self.max_bytes:
            self.evicted += 1
            return False
        self.frames.append(selection)
        while len(self.frames) > self.max_frames or self.nbytes > self.max_bytes:
            worst = min(range(len(self.frames)), key=lambda i: self.frames[i].score)
            dropped = self.frames.pop(worst)
            self.evicted += 1
            if dropped is selection:
                return False
        self.frames.sort(key=lambda s: s.index)
        return True

    def clear(self) -> None:
        self.frames = []


@dataclass(frozen=True)
class _Entry:
    offset: int
    size: int


class SpoolFullError(RuntimeError):
    pass


class DriveSpool:
    """An append-only file of blobs (serialised image messages) with an index in RAM.

    The index costs 16 bytes a frame (10,000 frames: 160 KB). ``max_bytes`` bounds the
    file; :meth:`append` raises :class:`SpoolFullError` once it would be exceeded, so the
    caller counts (and reports) the frames that could not be kept for republishing.
    The file is removed by :meth:`close` unless ``keep`` was asked for.
    """

    def __init__(self, folder: str | os.PathLike | None = None,
                 max_bytes: int = 8 * 2**30, keep: bool = False) -> None:
        if max_bytes < 1:
            raise ValueError(f"spool size cap must be positive (got {max_bytes})")
        root = Path(folder) if folder else None
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix="drive-", dir=root))
        self.path = self._dir / "drive.spool"
        self._file = open(self.path, "w+b")  # noqa: SIM115 - lives as long as the spool
        self.max_bytes = int(max_bytes)
        self.keep = keep
        self._index: list[_Entry] = []
        self._size = 0
        self.refused = 0

    def __len__(self) -> int:
        return len(self._index)

    @property
    def nbytes(self) -> int:
        return self._size

    def append(self, blob: bytes) -> int:
        if self._size + len(blob) > self.max_bytes:
            self.refused += 1
            raise SpoolFullError(
                f"drive spool full ({self._size / 2**20:.0f} MB of "
                f"{self.max_bytes / 2**20:.0f} MB): raise spool_max_mb or free disk")
        self._file.seek(self._size)
        self._file.write(blob)
        self._index.append(_Entry(self._size, len(blob)))
        self._size += len(blob)
        return len(self._index) - 1

    def read(self, i: int) -> bytes:
        entry = self._index[i]
        self._file.flush()
        return os.pread(self._file.fileno(), entry.size, entry.offset)

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self._index)):
            yield self.read(i)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        if not self.keep:
            shutil.rmtree(self._dir, ignore_errors=True)
