"""A long bag split by time into parts that fleet tasks deblur side by side, and the parts
stitched back into one bag, message for message.

Lossless: every message belongs to exactly one part (start <= bag time < stop), the
stitch copies each part's messages byte for byte in part order, and it checks the count
against the input's. Only the deblurred pixels near a part's start can differ from a
single pass: the recurrent state there is primed by :attr:`Span.warmup_ns` of frames
instead of the whole drive before it (the test measures by how much).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from deblur_ros.adapters.bags import BagError, BagWriter, messages, open_bag, read_layout
from deblur_ros.jobs.bag_deblur import Span, incomplete_path, publish_output

__all__ = ["plan_spans", "stitch_parts"]


def plan_spans(input: Path, part_seconds: float) -> list[Span]:
    """Equal time spans of about ``part_seconds`` covering the bag (one span for a bag
    shorter than 1.5 parts: splitting it would cost more than it gains)."""
    with open_bag(input) as reader:
        start, end = reader.start_time, reader.end_time  # end is last message + 1 ns
        count = reader.message_count
    duration = max(0, end - start)
    parts = math.ceil(duration / (part_seconds * 1e9)) if part_seconds > 0 else 1
    if count == 0 or duration < 1.5 * part_seconds * 1e9 or parts < 2:
        return [Span(start, end)]
    edges = [start + round(i * duration / parts) for i in range(parts)] + [end]
    return [Span(a, b) for a, b in zip(edges, edges[1:])]


def stitch_parts(parts: list[Path], output: Path) -> int:
    """Concatenate finished part bags into ``output`` (same layout, connections and custom
    data as the first part), built in ``OUT.incomplete`` and moved when complete; returns
    the message count, checked against the parts' own counts before anything is
    published."""
    if not parts:
        raise BagError("nothing to stitch: no parts")
    expected = 0
    for part in parts:
        with open_bag(part) as reader:
            expected += reader.message_count
    layout = read_layout(parts[0])
    tmp = incomplete_path(output)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    writer = BagWriter(tmp / output.name, layout)
    written = 0
    try:
        conns: dict[tuple[str, str], object] = {}
        with open_bag(parts[0]) as reader:
            for conn in reader.connections:
                conns[conn.topic, conn.msgtype] = writer.add_like(conn)
        for part in parts:
            with open_bag(part) as reader:
                for conn, timestamp, raw in messages(reader, part):
                    target = conns.get((conn.topic, conn.msgtype))
                    if target is None:
                        raise BagError(f"part {str(part)!r} has topic {conn.topic!r} that the "
                                       "first part lacks; the parts are not of one bag")
                    writer.write(target, timestamp, raw)
                    written += 1
        if written != expected:
            raise BagError(f"stitched {written} messages but the parts should hold "
                           f"{expected}; nothing written")
        writer.close()
    except BaseException:
        writer.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish_output(tmp / output.name, output)
    tmp.rmdir()
    return written
