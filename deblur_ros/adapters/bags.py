"""rosbag2 in and out through the ``rosbags`` library: no ROS install, no rclpy.

What this layer promises the bag job: every error a user's bag can cause (missing,
truncated, corrupt, unknown storage) arrives as one :class:`BagError` line; an output
mirrors the input's storage, metadata version, compression and custom data unless told
otherwise; a copied connection keeps its message definition, type hash and offered QoS
profiles, so the output is the input's twin apart from the frames the job replaces.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rosbags.interfaces import Connection, MessageDefinitionFormat
from rosbags.rosbag2 import (
    CompressionFormat,
    CompressionMode,
    Reader,
    ReaderError,
    StoragePlugin,
    Writer,
    WriterError,
)
from rosbags.typesys import Stores, get_typestore

from deblur_ros.adapters.pixels import PackedImage

__all__ = ["COMPRESSED", "IMAGE", "IMAGE_TYPES", "BagError", "BagLayout", "BagWriter",
           "bag_size", "open_bag", "read_layout", "typestore"]

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (IMAGE, COMPRESSED)
STORAGES = ("sqlite3", "mcap")
VERSIONS = (8, 9)

# What rosbags and the storage libraries raise on a damaged bag, beside ReaderError.
_READ_ERRORS = (ReaderError, OSError, sqlite3.Error, struct.error, EOFError, ValueError,
                KeyError, IndexError, AssertionError, yaml.YAMLError)


class BagError(Exception):
    """A bag problem, said in one line with what to do about it."""


_TYPESTORE = None


def typestore() -> Any:
    """Message classes and CDR (de)serialisation for the image types (the same in every
    ROS 2 distribution); built once, it takes a noticeable fraction of a second."""
    global _TYPESTORE
    if _TYPESTORE is None:
        _TYPESTORE = get_typestore(Stores.LATEST)
    return _TYPESTORE


def standard_definition(msgtype: str) -> tuple[str, str]:
    """(message definition, RIHS01 type hash) of a standard ROS 2 type."""
    store = typestore()
    return store.generate_msgdef(msgtype, ros_version=2)[0], store.hash_rihs01(msgtype)


@dataclass(frozen=True)
class BagLayout:
    """How a bag is stored: what an output mirrors by default."""

    storage: str = "mcap"
    version: int = 9
    compression_mode: str = ""  # "", "file" or "message"
    compression_format: str = ""  # "zstd" when compressed
    custom_data: dict[str, str] = field(default_factory=dict)

    def but(self, storage: str | None = None, version: int | None = None,
            custom_data: dict[str, str] | None = None) -> BagLayout:
        """This layout with the user's overrides."""
        return BagLayout(storage or self.storage, version or self.version,
                         self.compression_mode, self.compression_format,
                         self.custom_data if custom_data is None else custom_data)


def _bad(path: Path, why: object) -> BagError:
    text = " ".join(str(why).split()) or type(why).__name__
    return BagError(f"cannot read bag {str(path)!r}: {text}; the bag is truncated or corrupt "
                    "(a bag recorded until a crash may need `ros2 bag reindex` first)")


def read_layout(path: str | Path) -> BagLayout:
    """The storage layout of a rosbag2 folder (or a bare .mcap/.db3 file)."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"input bag {str(path)!r} does not exist")
    if path.is_file():
        storage = {".mcap": "mcap", ".db3": "sqlite3"}.get(path.suffix)
        if storage is None:
            raise BagError(f"{str(path)!r} is not a rosbag2 folder, .mcap or .db3 file")
        return BagLayout(storage, 9)
    meta = path / "metadata.yaml"
    if not meta.is_file():
        raise BagError(f"{str(path)!r} is not a rosbag2 bag: it has no metadata.yaml "
                       "(give the bag's folder; `ros2 bag reindex` rebuilds a lost one)")
    try:
        info = yaml.safe_load(meta.read_text())["rosbag2_bagfile_information"]
        storage = str(info["storage_identifier"])
        version = int(info["version"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise _bad(path, f"metadata.yaml is unreadable ({exc})") from None
    if storage not in STORAGES:
        raise BagError(f"bag {str(path)!r} uses storage {storage!r}; deblur_ros reads "
                       f"{' and '.join(STORAGES)}")
    mode = str(info.get("compression_mode") or "").lower()
    mode = "" if mode == "none" else mode
    custom = {str(k): str(v) for k, v in (info.get("custom_data") or {}).items()}
    # rosbags writes versions 8 and 9 only; 8 is what Humble (the oldest reader) takes.
    return BagLayout(storage, version if version in VERSIONS else 8, mode,
                     str(info.get("compression_format") or "") if mode else "", custom)


def bag_size(path: str | Path) -> int:
    """Bytes on disk of a bag folder or file."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@contextmanager
def open_bag(path: str | Path) -> Iterator[Reader]:
    """An open :class:`rosbags.rosbag2.Reader`; every way it can fail is a BagError."""
    path = Path(path)
    read_layout(path)  # the friendlier checks first
    reader = Reader(path)
    try:
        reader.open()
    except _READ_ERRORS as exc:
        raise _bad(path, exc) from None
    try:
        yield reader
    finally:
        try:
            reader.close()
        except Exception:  # noqa: BLE001 - closing a damaged bag must not hide the error
            pass


def messages(reader: Reader, path: Path, connections: list[Connection] | None = None,
             start: int | None = None, stop: int | None = None
             ) -> Iterator[tuple[Connection, int, bytes]]:
    """Messages in bag order (``start`` <= bag time < ``stop`` when given); a storage error
    partway is a BagError, not a traceback."""
    it = reader.messages(connections or [], start, stop)
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except _READ_ERRORS as exc:
            raise _bad(path, exc) from None
        yield item


class BagWriter:
    """A rosbags Writer set up like a given layout, with connections copied exactly."""

    def __init__(self, path: Path, layout: BagLayout) -> None:
        if layout.storage not in STORAGES:
            raise BagError(f"unknown storage {layout.storage!r}: use {' or '.join(STORAGES)}")
        if layout.version not in VERSIONS:
            raise BagError(f"metadata version {layout.version} cannot be written: use 8 "
                           "(Humble and later) or 9 (Jazzy and later)")
        plugin = StoragePlugin.MCAP if layout.storage == "mcap" else StoragePlugin.SQLITE3
        self.path = path
        self.writer = Writer(path, version=layout.version, storage_plugin=plugin)
        if layout.compression_mode in ("file", "message"):
            self.writer.set_compression(CompressionMode[layout.compression_mode.upper()],
                                        CompressionFormat.ZSTD)
        for key, value in layout.custom_data.items():
            self.writer.set_custom_data(key, value)
        self.writer.open()
        self.counts: dict[str, int] = {}

    def add_like(self, conn: Connection, topic: str | None = None) -> Connection:
        """A connection with ``conn``'s type, definition, hash and QoS (on ``topic``)."""
        msgdef, digest = conn.msgdef.data, conn.digest
        if conn.msgdef.format == MessageDefinitionFormat.NONE or not msgdef or not digest:
            # Older bags carry no definitions: the typestore knows the standard types.
            if conn.msgtype not in typestore().types:
                raise BagError(f"topic {conn.topic!r} ({conn.msgtype}) has no message "
                               "definition in the bag and is not a standard type; "
                               "re-record it with a newer rosbag2")
            standard_def, standard_digest = standard_definition(conn.msgtype)
            msgdef, digest = msgdef or standard_def, digest or standard_digest
        try:
            return self.writer.add_connection(
                topic or conn.topic, conn.msgtype, msgdef=msgdef, rihs01=digest,
                serialization_format=conn.ext.serialization_format,
                offered_qos_profiles=conn.ext.offered_qos_profiles)
        except WriterError as exc:
            raise BagError(f"cannot add topic {topic or conn.topic!r}: {exc}") from None

    def add_standard(self, topic: str, msgtype: str) -> Connection:
        """A connection for a standard ROS 2 type (definition and hash from the typestore)."""
        msgdef, digest = standard_definition(msgtype)
        return self.writer.add_connection(topic, msgtype, msgdef=msgdef, rihs01=digest)

    def write(self, conn: Connection, timestamp: int, data: bytes | memoryview) -> None:
        self.writer.write(conn, timestamp, data)
        self.counts[conn.topic] = self.counts.get(conn.topic, 0) + 1

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        try:
            self.writer.abort()
        except Exception:  # noqa: BLE001 - the folder is removed next anyway
            pass


def deserialize(data: bytes | memoryview, msgtype: str) -> Any:
    return typestore().deserialize_cdr(data, msgtype)


def serialize(msg: Any, msgtype: str) -> bytes:
    return bytes(typestore().serialize_cdr(msg, msgtype))


def image_message(header: Any, packed: PackedImage) -> Any:
    """A rosbags sensor_msgs/Image with ``header`` (kept as it was) and ``packed`` pixels."""
    cls = typestore().types[IMAGE]
    return cls(header=header, height=packed.height, width=packed.width,
               encoding=packed.encoding, is_bigendian=packed.is_bigendian, step=packed.step,
               data=np.frombuffer(packed.data, np.uint8))


def compressed_message(header: Any, format_field: str, data: bytes) -> Any:
    cls = typestore().types[COMPRESSED]
    return cls(header=header, format=format_field, data=np.frombuffer(data, np.uint8))
