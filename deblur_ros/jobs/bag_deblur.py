"""Bag in, bag out: a recorded drive deblurred, everything else in it left exactly as it was.

One function, :func:`deblur_bag`, serves ``deblur-ros bag`` and every task of ``deblur-ros
fleet``, so a fleet run and a single run give the same bytes. It reads with
:mod:`adapters.bags`, deblurs through the same push/flush streaming interface as the live
node (one stream per image topic, flushed at the end so no frame is lost to the
look-ahead) and writes messages in the input's order: a message that follows a frame
still in the look-ahead waits for it, so the output's order is the input's.

Safety: the output is written inside ``OUT.incomplete/`` and moved to ``OUT`` only when
complete, so an interrupted run leaves nothing that looks like a finished bag (and a re-run
cleans up after it); the input is only ever opened for reading.
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import numpy as np

from deblur_ros.adapters.bags import (
    COMPRESSED,
    IMAGE,
    IMAGE_TYPES,
    BagError,
    BagLayout,
    BagWriter,
    bag_size,
    compressed_message,
    deserialize,
    image_message,
    messages,
    open_bag,
    read_layout,
    serialize,
)
from deblur_ros.adapters.compressed import (
    CompressedFrame,
    CorruptCompressedImageError,
    UnsupportedCompressionError,
    decode_compressed,
    encode_compressed,
)
from deblur_ros.adapters.pixels import (
    MalformedImageError,
    UnsupportedEncodingError,
    decode_image,
    encode_pixels,
)
from deblur_ros.core.imaging import stamp_ns

MODES = ("live", "scene")
INCOMPLETE = ".incomplete"
# A frame that waits this long in bag time for its look-ahead (its camera stopped while
# the bag went on) is flushed, so the messages queued behind it cannot pile up.
MAX_HOLD_NS = 2_000_000_000


class Bar(Protocol):
    def update(self, n: int = 1) -> Any: ...
    def close(self) -> Any: ...


# (description, total) -> a progress bar; the CLI passes tqdm, the fleet nothing.
ProgressFactory = Callable[[str, int], Bar]


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class BagOptions:
    """What ``deblur-ros bag`` takes; the fleet sends the same to every task."""

    topics: tuple[str, ...] = ()  # empty: every image topic in the bag
    mode: str = "live"
    model: str | None = None  # live: name or path (None: auto); scene: a fitted model
    backend: str = "auto"
    precision: str = "auto"
    device: str = "auto"
    threads: int = 0  # 0: all cores
    deadzone: float | None = None  # live mode; None: the model's own (core.inference.deadzone)
    mirror: int = 1  # live mode: mirrored copies of each stream averaged (core.inference.streaming)
    scene_cuts: bool = True  # live mode: restart a topic's stream where its scene changes
    suffix: str = "/deblurred"
    replace: bool = False
    storage: str | None = None  # None: the input's
    version: int | None = None  # None: the input's
    overwrite: bool = False
    # scene mode: the sidecar's selection and fit budget
    window: int = 20
    max_selected: int = 60
    max_selected_mb: float = 256.0
    fit_seconds: float | None = None
    fit_iterations: int | None = None
    scene_init: str = "auto"
    sharpness_gate: bool = True  # over ``window``: see SharpnessGate

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise BagError(f"unknown mode {self.mode!r}: use {' or '.join(MODES)}")
        if self.mode == "scene" and self.mirror != 1:
            raise BagError("--mirror goes with the live model (--mode live); a scene model is "
                           "applied once a frame")
        if not self.replace and not self.suffix.strip("/"):
            raise BagError("--suffix must add something to the topic name, e.g. /deblurred "
                           "(or use --replace)")
        if not self.replace and not self.suffix.startswith(("/", "_")):
            raise BagError(f"--suffix {self.suffix!r} must start with '/' or '_'")


@dataclass(frozen=True)
class Span:
    """One part of a long bag, for one fleet task: messages at ``start_ns`` <= bag time <
    ``stop_ns`` are written. Frames up to ``warmup_ns`` before the part prime the recurrent
    state and frames up to ``after_ns`` after it give its last frames their real
    look-ahead; neither is written (the neighbouring parts write them)."""

    start_ns: int
    stop_ns: int
    warmup_ns: int = 1_000_000_000
    after_ns: int = 500_000_000


@dataclass
class TopicSummary:
    topic: str
    out_topic: str
    msgtype: str
    frames: int = 0  # image messages read
    deblurred: int = 0
    passed_through: int = 0  # frames that did not decode, copied unchanged
    scene_cuts: int = 0  # live mode: where the stream restarted (core.inference.scene_cuts)

    @property
    def dropped(self) -> int:
        return self.frames - self.deblurred - self.passed_through


@dataclass
class BagSummary:
    input: str
    output: str
    mode: str
    model: str
    topics: list[TopicSummary] = field(default_factory=list)
    copied: int = 0  # messages of other topics, copied byte for byte
    seconds: float = 0.0  # the deblurring pass
    fit_seconds: float = 0.0
    scene_models: list[str] = field(default_factory=list)
    storage: str = ""
    version: int = 0

    @property
    def frames(self) -> int:
        return sum(t.frames for t in self.topics)

    @property
    def dropped(self) -> int:
        return sum(t.dropped for t in self.topics)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"frames": self.frames, "dropped": self.dropped,
                               "fps": round(self.fps, 2)}


def incomplete_path(output: Path) -> Path:
    """The folder a run works in; the bag inside it has the output's own name, so the
    storage file is named as the finished bag's is."""
    return output.with_name(output.name + INCOMPLETE)


def scene_folder(output: Path) -> Path:
    """Where scene mode saves the fitted models: beside the output bag, not inside it."""
    return output.with_name(output.name + ".scene")


def out_topic_name(topic: str, options: BagOptions) -> str:
    """``/cam/image_raw`` + ``/deblurred``; a transport suffix stays last, so
    ``/cam/image_raw/compressed`` becomes ``/cam/image_raw/deblurred/compressed``."""
    if options.replace:
        return topic
    base, transport = topic, ""
    for name in ("/compressed", "/theora", "/zstd"):
        if topic.endswith(name):
            base, transport = topic[: -len(name)], name
    return base + options.suffix + transport


def info_topic_of(image_topic: str) -> str:
    """image_transport's rule: the camera_info beside an image topic (transport part off)."""
    base = image_topic[: -len("/compressed")] if image_topic.endswith("/compressed") \
        else image_topic
    return str(PurePosixPath(base).parent / "camera_info")


# ---------------------------------------------------------------------------------------
# checks before any work


def _check_paths(input: Path, output: Path, options: BagOptions) -> None:
    src, dst = input.resolve(), output.resolve()
    if src == dst or src in dst.parents or dst in src.parents:
        raise BagError(f"output {str(output)!r} overlaps the input bag {str(input)!r}; "
                       "write the output somewhere else (inputs are never modified)")
    if output.exists() or output.is_symlink():
        if not options.overwrite:
            raise BagError(f"output {str(output)!r} already exists; pass --overwrite to "
                           "replace it, or choose another name")
        if not (output / "metadata.yaml").is_file():
            raise BagError(f"output {str(output)!r} exists and is not a rosbag2 bag; "
                           "refusing to replace it even with --overwrite")
    parent = dst.parent
    if parent.exists() and not parent.is_dir():
        raise BagError(f"output {str(output)!r}: {str(parent)!r} is not a folder")


def _check_space(input: Path, output: Path, options: BagOptions) -> None:
    """Refuse early rather than fail late: the output is about the input's size, twice
    the image part with --suffix (both copies kept); we assume the worst, all images."""
    need = bag_size(input) * (1 if options.replace else 2)
    need = int(need * 1.05) + 16 * 2**20
    probe = output.parent.resolve()
    while not probe.exists():
        probe = probe.parent
    free = disk_free(probe)
    if free < need:
        raise BagError(f"not enough disk space for {str(output)!r}: about {need / 2**20:.0f} "
                       f"MB needed, {free / 2**20:.0f} MB free on {str(probe)!r}; free some "
                       "space or write elsewhere")


def disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


def _image_topics(reader: Any, input: Path, options: BagOptions) -> dict[str, Any]:
    """topic -> input connection for the topics to deblur, or one line saying why not."""
    by_topic = {c.topic: c for c in reader.connections}
    images = sorted(t for t, c in by_topic.items() if c.msgtype in IMAGE_TYPES)

    def listing() -> str:
        return ", ".join(images) if images else "none"

    wanted = options.topics or tuple(images)
    if not wanted:
        raise BagError(f"bag {str(input)!r} has no sensor_msgs/Image or CompressedImage "
                       f"topic (topics: {', '.join(sorted(by_topic)) or 'none'})")
    chosen = {}
    for topic in wanted:
        conn = by_topic.get(topic)
        if conn is None:
            raise BagError(f"topic {topic!r} is not in bag {str(input)!r}; image topics "
                           f"there: {listing()}")
        if conn.msgtype not in IMAGE_TYPES:
            raise BagError(f"topic {topic!r} is {conn.msgtype}, not an image; image topics "
                           f"there: {listing()}")
        chosen[topic] = conn
    if not options.replace:
        for topic in chosen:
            new = out_topic_name(topic, options)
            if new in by_topic:
                raise BagError(f"output topic {new!r} is already in the bag; choose another "
                               "--suffix or use --replace")
    return chosen


# ---------------------------------------------------------------------------------------
# frames in and out


@dataclass
class _Frame:
    """What re-encoding a deblurred frame needs from its input message."""

    msgtype: str
    header: Any
    encoding: str = ""
    alpha: np.ndarray | None = None
    compressed: CompressedFrame | None = None
    format: str = ""


def _decode(msgtype: str, raw: bytes) -> tuple[np.ndarray, _Frame]:
    msg = deserialize(raw, msgtype)
    if msgtype == IMAGE:
        decoded = decode_image(msg)
        return decoded.rgb, _Frame(msgtype, msg.header, decoded.encoding, decoded.alpha)
    frame = decode_compressed(msg.format, msg.data)
    return frame.rgb, _Frame(msgtype, msg.header, compressed=frame, format=msg.format)


def _encode(rgb: np.ndarray, frame: _Frame) -> bytes:
    if frame.msgtype == IMAGE:
        packed = encode_pixels(rgb, frame.alpha, frame.encoding)
        return serialize(image_message(frame.header, packed), IMAGE)
    data = encode_compressed(rgb, frame.compressed)
    return serialize(compressed_message(frame.header, frame.format, data), COMPRESSED)


class _Slot:
    """One message of the output, in input order; ``data`` is None while its frame is
    still in a stream's look-ahead."""

    __slots__ = ("conn", "timestamp", "data", "topic")

    def __init__(self, conn: Any, timestamp: int, data: bytes | memoryview | None,
                 topic: str | None = None) -> None:
        self.conn, self.timestamp, self.data, self.topic = conn, timestamp, data, topic


_END = object()
PREFETCH = 8  # messages read and frames decoded ahead of the model


def _prefetched(input: Path, topics: set[str], only: list[Any] | None = None,
                first: int | None = None, last: int | None = None
                ) -> Iterator[tuple[Any, int, bytes, Any]]:
    """The bag's messages with image frames already decoded, from a reader thread.

    On 2 cores the model takes one and reading, deserialising and decoding the next
    frames take the other (the heavy parts release the GIL). The thread opens its own
    reader: a sqlite3 connection may only be used by the thread that opened it. Items are
    (connection, timestamp, raw, decoded): decoded is (rgb, _Frame), an exception to
    classify, or None for other topics.
    """
    items: queue.Queue = queue.Queue(maxsize=PREFETCH)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with open_bag(input) as reader:
                wanted = [c for c in reader.connections
                          if only is None or c.topic in {o.topic for o in only}]
                for conn, timestamp, raw in messages(reader, input, wanted, first, last):
                    decoded = None
                    if conn.topic in topics:
                        try:
                            decoded = _decode(conn.msgtype, raw)
                        except Exception as exc:  # noqa: BLE001 - classified by the consumer
                            decoded = exc
                    if not put((conn, timestamp, raw, decoded)):
                        return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer to raise
            put(exc)
            return
        put(_END)

    thread = threading.Thread(target=produce, name="bag_reader", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)


def _frame_or_raise(conn: Any, decoded: Any) -> tuple[np.ndarray, _Frame] | None:
    """The decoded frame; None for one that does not decode (it goes through as it came);
    a BagError for a topic whose encoding cannot be deblurred at all."""
    if isinstance(decoded, (MalformedImageError, CorruptCompressedImageError)):
        return None
    if isinstance(decoded, (UnsupportedEncodingError, UnsupportedCompressionError)):
        raise BagError(f"topic {conn.topic!r}: {decoded}") from None
    if isinstance(decoded, BaseException):
        raise decoded
    return decoded


class _Encode:
    """A deblurred frame waiting to be encoded by the writer thread."""

    __slots__ = ("rgb", "frame")

    def __init__(self, rgb: np.ndarray, frame: _Frame) -> None:
        self.rgb, self.frame = rgb, frame


class _BackgroundWriter:
    """Opens the output, encodes deblurred frames and writes every message, in the order
    given, on a thread of its own, so the model's thread only deblurs (measured: encoding
    and MCAP chunk writing were ~11% of a VGA pass on the model's thread). The writer
    lives and dies on that thread: a sqlite3 connection may only be used by the thread
    that opened it. ``setup`` adds the connections there and returns what it made."""

    def __init__(self, path: Path, layout: BagLayout, setup: Callable[[BagWriter], Any],
                 depth: int = 16) -> None:
        self.items: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.made: Any = None
        self.stop = threading.Event()
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(path, layout, setup),
                                       name="bag_writer", daemon=True)
        self.thread.start()
        self.opened.wait()
        if self.error is not None:
            self.thread.join()
            raise self.error

    def put(self, conn: Any, timestamp: int, data: Any) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.items.put((conn, timestamp, data), timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Write what is queued and close the bag; raises what went wrong on the thread."""
        self.put(None, 0, None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """Stop without writing the rest (the run failed or was interrupted)."""
        self.stop.set()
        self.thread.join(timeout=30)

    def _run(self, path: Path, layout: BagLayout, setup: Callable[[BagWriter], Any]) -> None:
        writer = None
        try:
            writer = BagWriter(path, layout)
            self.made = setup(writer)
            self.opened.set()
            while not self.stop.is_set():
                try:
                    conn, timestamp, data = self.items.get(timeout=0.1)
                except queue.Empty:
                    continue
                if conn is None:
                    writer.close()
                    return
                if isinstance(data, _Encode):
                    data = _encode(data.rgb, data.frame)
                writer.write(conn, timestamp, data)
            writer.abort()
        except BaseException as exc:  # noqa: BLE001 - raised again on the job's thread
            self.error = exc
            if writer is not None:
                writer.abort()
        finally:
            self.opened.set()


# ---------------------------------------------------------------------------------------
# the job


def deblur_bag(input: str | Path, output: str | Path, options: BagOptions | None = None,
               progress: ProgressFactory | None = None,
               log: Callable[[str], None] | None = None, span: Span | None = None
               ) -> BagSummary:
    """Write a deblurred copy of ``input`` (or of one ``span`` of it) to ``output``; a
    BagError says why it cannot."""
    options = options or BagOptions()
    if span is not None and options.mode == "scene" and not options.model:
        raise BagError("a part of a bag cannot fit its own scene model: fit first, then "
                       "give the parts the fitted model (--model)")
    input, output = Path(input).expanduser(), Path(output).expanduser()
    bars = progress or (lambda desc, total: _NoBar())
    say = log or (lambda text: None)
    layout = read_layout(input).but(options.storage, options.version)
    _check_paths(input, output, options)
    tmp = incomplete_path(output)
    scene_tmp = incomplete_path(scene_folder(output))
    for stale in (tmp, scene_tmp):  # left by an interrupted run: never a finished bag
        if stale.exists():
            say(f"removing {stale} left by an interrupted run")
            shutil.rmtree(stale)
    _check_space(input, output, options)
    with open_bag(input) as reader:
        chosen = _image_topics(reader, input, options)
        summary = BagSummary(str(input), str(output), options.mode, "",
                             [TopicSummary(t, out_topic_name(t, options), c.msgtype)
                              for t, c in chosen.items()],
                             storage=layout.storage, version=layout.version)
        streams = _make_streams(reader, input, chosen, options, summary, scene_tmp, bars, say)
        layout = layout.but(custom_data=layout.custom_data | {"deblur_ros": json.dumps(
            {"mode": options.mode, "model": summary.model, "topics": sorted(chosen),
             "suffix": None if options.replace else options.suffix})})
        try:
            tmp.mkdir(parents=True)
            start = time.monotonic()
            _copy(reader, input, tmp / output.name, layout, chosen, streams, options,
                  summary, bars, span)
            summary.seconds = time.monotonic() - start
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(scene_tmp, ignore_errors=True)
            raise
    publish_output(tmp / output.name, output)
    tmp.rmdir()
    if scene_tmp.exists():
        publish_output(scene_tmp, scene_folder(output))
        summary.scene_models = [str(scene_folder(output) / Path(p).name)
                                for p in summary.scene_models]
    if summary.dropped:  # a bug, never a user's doing: say it loudly
        raise BagError(f"internal error: {summary.dropped} frame(s) not written; "
                       "please report this with the bag's `ros2 bag info`")
    return summary


def publish_output(tmp: Path, final: Path) -> None:
    """Rename the finished output into place; an old output (--overwrite) goes only
    after the new one is complete."""
    if final.exists():
        old = final.with_name(final.name + ".replaced")
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)


def _make_streams(reader: Any, input: Path, chosen: dict[str, Any], options: BagOptions,
                  summary: BagSummary, scene_dir: Path, bars: ProgressFactory,
                  say: Callable[[str], None]) -> dict[str, Any]:
    """One deblurrer per topic (a camera's recurrent state is its own)."""
    from deblur_ros.core.inference.runners import BackendUnavailableError, default_threads
    from deblur_ros.core.models.checkpoint import CheckpointError

    threads = options.threads or default_threads()
    try:
        if options.mode == "live":
            from deblur_ros.core.inference.scene_cuts import DEFAULT_CUT_THRESHOLD
            from deblur_ros.core.inference.streaming import StreamingDeblurrer
            from deblur_ros.core.models.checkpoint import resolve_model

            path = resolve_model(options.model, options.device)
            streams = {t: StreamingDeblurrer.from_checkpoint(
                path, options.device, options.backend, options.precision, threads,
                deadzone=options.deadzone, mirror=options.mirror,
                cut_threshold=DEFAULT_CUT_THRESHOLD if options.scene_cuts else 0.0)
                for t in chosen}
            first = next(iter(streams.values()))
            summary.model = f"{first.name} ({first.runner.name} {first.runner.precision})"
            return streams
        from deblur_ros.core.inference.scene import SceneDeblurrer, sharpness_gate

        if options.model:
            gate = sharpness_gate(options.sharpness_gate, options.window)
            streams = {t: SceneDeblurrer.from_checkpoint(options.model, threads, gate)
                       for t in chosen}
            summary.model = next(iter(streams.values())).name
            return streams
    except (CheckpointError, BackendUnavailableError, ValueError, FileNotFoundError) as exc:
        raise BagError(" ".join(str(exc).split())) from None
    return _fit_scenes(reader, input, chosen, options, summary, scene_dir, bars, say, threads)


def _fit_scenes(reader: Any, input: Path, chosen: dict[str, Any], options: BagOptions,
                summary: BagSummary, scene_dir: Path, bars: ProgressFactory,
                say: Callable[[str], None], threads: int) -> dict[str, Any]:
    """Scene mode's first pass: the sharpest frame of every window of each topic, then a
    fit per topic, saved beside the output."""
    from deblur_ros.core.drive_store import SelectedFrames, stored_pixels
    from deblur_ros.core.inference.scene import SceneDeblurrer, sharpness_gate
    from deblur_ros.core.sharpness import SharpFrameSelector
    from deblur_ros.core.training.scene_fitter import (
        DEFAULT_BUDGET,
        FitBudget,
        SceneFitter,
        resolve_scene_init,
    )

    selectors = {t: SharpFrameSelector(options.window) for t in chosen}
    kept = {t: SelectedFrames(options.max_selected, int(options.max_selected_mb * 2**20))
            for t in chosen}
    total = sum(c.msgcount for c in chosen.values())
    bar = bars("select", total)
    try:
        for conn, _, _, decoded in _prefetched(input, set(chosen), list(chosen.values())):
            got = _frame_or_raise(conn, decoded)
            if got is None:
                continue
            rgb, frame = got
            stamp = stamp_ns(frame.header.stamp.sec, frame.header.stamp.nanosec)
            chosen_frame = selectors[conn.topic].push(stored_pixels(rgb), stamp)
            if chosen_frame is not None:
                kept[conn.topic].add(chosen_frame)
            bar.update(1)
    finally:
        bar.close()
    budget = FitBudget(iterations=options.fit_iterations,
                       seconds=options.fit_seconds if options.fit_seconds else
                       (None if options.fit_iterations else DEFAULT_BUDGET.seconds))
    init = resolve_scene_init(options.scene_init)
    streams: dict[str, Any] = {}
    start = time.monotonic()
    for topic in chosen:
        last = selectors[topic].flush()
        if last is not None:
            kept[topic].add(last)
        frames = kept[topic].frames
        if not frames:
            raise BagError(f"topic {topic!r}: no frame decoded, nothing to fit a scene to")
        say(f"fitting a scene model to {len(frames)} sharp frames of {topic}")
        fitter = SceneFitter([s.frame for s in frames], init=init, frame_info=[
            {"index": s.index, "stamp_ns": s.stamp_ns, "sharpness": round(s.score, 1)}
            for s in frames])
        bar = bars(f"fit {topic}", 100)

        def update(p: Any, bar: Bar = bar) -> None:
            bar.update(round(100 * p.fraction) - getattr(bar, "n", 0))

        try:
            result = fitter.fit(budget, progress=update, threads=threads)
        finally:
            bar.close()
        slug = topic.strip("/").replace("/", "_") or "image"
        saved = fitter.save(scene_dir / f"{slug}.pt", result, {"bag": str(input),
                                                               "topic": topic})
        summary.scene_models.append(str(saved))
        streams[topic] = SceneDeblurrer(
            fitter.model, name=f"scene:{slug}", threads=threads,
            gate=sharpness_gate(options.sharpness_gate, options.window))
        say(f"{topic}: probe {result.probe_input_psnr:.2f} -> {result.probe_output_psnr:.2f} "
            f"dB after {result.iterations} steps ({result.stopped})")
    summary.fit_seconds = time.monotonic() - start
    summary.model = f"scene fit ({Path(str(init)).stem if init else 'random init'})"
    return streams


def _add_connections(writer: BagWriter, connections: list[Any], chosen: dict[str, Any],
                     options: BagOptions) -> tuple[dict, dict, dict]:
    """The output's connections: every input one as it was, the deblurred topics, and the
    camera_info copies beside them. Returns (input id -> output connection, image topic
    -> deblurred connection, camera_info id -> its copy's connection)."""
    out_conns: dict[int, Any] = {}
    new_conns: dict[str, Any] = {}
    info_copies: dict[int, Any] = {}
    for conn in connections:
        out_conns[conn.id] = writer.add_like(conn)
        if conn.topic in chosen:
            new_conns[conn.topic] = out_conns[conn.id] if options.replace else \
                writer.add_like(conn, out_topic_name(conn.topic, options))
    if not options.replace:
        infos = {info_topic_of(t): t for t in chosen}
        names = {c.topic for c in connections}
        for conn in connections:
            image_topic = infos.get(conn.topic)
            if image_topic is None or conn.msgtype != "sensor_msgs/msg/CameraInfo":
                continue
            copy_topic = info_topic_of(out_topic_name(image_topic, options))
            if copy_topic != conn.topic and copy_topic not in names:
                info_copies[conn.id] = writer.add_like(conn, copy_topic)
                names.add(copy_topic)
    return out_conns, new_conns, info_copies


def _copy(reader: Any, input: Path, path: Path, layout: BagLayout, chosen: dict[str, Any],
          streams: dict[str, Any], options: BagOptions, summary: BagSummary,
          bars: ProgressFactory, span: Span | None = None) -> None:
    """The one pass that writes the output, in the input's message order."""
    tops = {t.topic: t for t in summary.topics}
    connections = list(reader.connections)
    background = _BackgroundWriter(path, layout, lambda writer: _add_connections(
        writer, connections, chosen, options))
    out_conns, new_conns, info_copies = background.made
    queue: deque[_Slot] = deque()

    def drain() -> None:
        while queue and queue[0].data is not None:
            slot = queue.popleft()
            background.put(slot.conn, slot.timestamp, slot.data)

    def fill(outputs: list) -> None:
        for out in outputs:
            if out.payload is None:  # a frame outside the span: context only
                continue
            slot, frame = out.payload
            slot.data = _Encode(out.frame, frame)
            tops[slot.topic].deblurred += 1

    bar = bars("deblur", sum(c.msgcount for c in chosen.values()))
    first, last = (None, None) if span is None else \
        (max(0, span.start_ns - span.warmup_ns), span.stop_ns + span.after_ns)
    finished = False
    try:
        for conn, timestamp, raw, decoded in _prefetched(input, set(chosen), None, first,
                                                         last):
            if span is not None and not span.start_ns <= timestamp < span.stop_ns:
                got = _frame_or_raise(conn, decoded) if conn.topic in chosen else None
                if got is not None:
                    rgb, frame = got
                    fill(streams[conn.topic].push(rgb, stamp_ns(
                        frame.header.stamp.sec, frame.header.stamp.nanosec), None))
                continue
            if conn.topic in chosen:
                top = tops[conn.topic]
                top.frames += 1
                if not options.replace:
                    queue.append(_Slot(out_conns[conn.id], timestamp, raw))
                slot = _Slot(new_conns[conn.topic], timestamp, None, conn.topic)
                queue.append(slot)
                got = _frame_or_raise(conn, decoded)
                if got is None:
                    slot.data = raw  # never lost: the frame goes through as it came
                    top.passed_through += 1
                else:
                    rgb, frame = got
                    stamp = stamp_ns(frame.header.stamp.sec, frame.header.stamp.nanosec)
                    fill(streams[conn.topic].push(rgb, stamp, (slot, frame)))
                bar.update(1)
            else:
                summary.copied += 1
                queue.append(_Slot(out_conns[conn.id], timestamp, raw))
                if conn.id in info_copies:
                    queue.append(_Slot(info_copies[conn.id], timestamp, raw))
            while queue[0].data is None and timestamp - queue[0].timestamp > MAX_HOLD_NS:
                held = streams[queue[0].topic].flush()
                if not held:
                    break
                fill(held)
            drain()
        for topic, stream in streams.items():
            fill(stream.flush())
            tops[topic].scene_cuts = getattr(stream, "cuts", 0)
        drain()
        background.close()
        finished = True
    finally:
        if not finished:
            background.abandon()
        bar.close()
    if queue:
        raise BagError(f"internal error: {len(queue)} message(s) left unwritten; please "
                       "report this")


@contextmanager
def progress_bars(enabled: bool | None = None) -> Iterator[ProgressFactory]:
    """tqdm bars with frames/s and ETA (off when not a terminal unless ``enabled``)."""
    from tqdm import tqdm

    made: list[Any] = []

    def factory(desc: str, total: int) -> Bar:
        unit = "%" if desc.startswith("fit") else "frame"
        bar = tqdm(total=total, desc=desc, unit=unit, disable=None if enabled is None
                   else not enabled, dynamic_ncols=True, leave=False)
        made.append(bar)
        return bar

    try:
        yield factory
    finally:
        for bar in made:
            bar.close()
