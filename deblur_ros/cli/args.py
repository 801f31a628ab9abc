"""Argument types and checks the commands share, so that a bad value is refused by
argparse in one line before any work starts."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def deadzone(text: str) -> float | None:
    """``--deadzone``: ``auto`` (None: the model's own value) or grey levels of 255."""
    from deblur_ros.core.inference.deadzone import check_deadzone

    if text.strip().lower() == "auto":
        return None
    try:
        return check_deadzone(float(text))
    except ValueError as exc:
        why = str(exc) if "deadzone" in str(exc) else f"not a number: {text!r}"
        raise argparse.ArgumentTypeError(f"{why} (auto: the model's own value)") from None


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def writable_file(path: Path, flag: str, make_parents: bool = False) -> str | None:
    """Why ``path`` cannot be written as a file (None if it can): checked before a long
    job, so a typo costs seconds, not a finished evaluation. ``make_parents``: missing
    folders on the way will be created."""
    path = Path(path).expanduser()
    if path.is_dir():
        return f"{flag} {str(path)!r} is a folder; give a file name"
    if make_parents:
        return _blocked_parent(path, flag)
    if not path.parent.is_dir():
        return f"{flag} {str(path)!r}: folder {str(path.parent)!r} does not exist"
    return None


def _blocked_parent(path: Path, flag: str) -> str | None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{flag} {str(path)!r}: {str(parent)!r} is a file, not a folder"
            break
    return None


def writable_folder(path: Path, flag: str) -> str | None:
    """Why ``path`` cannot be (created as) an output folder, or None."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        return f"{flag} {str(path)!r} is an existing file; give a folder"
    return _blocked_parent(path, flag)


def stop_on_signals() -> None:
    """SIGTERM (a service manager, ``kill``) and SIGINT (Ctrl-C, also when started in the
    background, where a shell ignores it) both raise KeyboardInterrupt in the main
    thread, so a job stops the way Ctrl-C stops it: through its own clean-up."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
