"""``main()`` of every node here: help, start-up errors, spin, and a clean stop.

Why this is shared and careful: on Ctrl-C or SIGTERM (``ros2 launch`` signals every
process of the group) rclpy's own handler shuts the context down before any Python
code runs. From then on a lifecycle transition cannot start (it returns an error code
and leaves the node in ``shuttingdown``), publishing raises "context is invalid", and
destroying entities under a running worker raises ``InvalidHandle``. So the node's own
threads are stopped first, through ``shutdown_quietly()``, then the executor, then the
entities; a non-daemon worker left running would keep the process alive.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import rclpy
from rclpy.exceptions import InvalidHandle, ParameterException
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node

from deblur_ros.nodes.params import wants_help

RCLError = _rclpy.RCLError

# What a node constructor raises for a bad parameter or input: one line, exit code 2.
StartupError = (ValueError, ParameterException)


@contextmanager
def quiet_after_shutdown(node: Node) -> Iterator[None]:
    """Skip what fails only because the context is gone (a publish racing Ctrl-C).

    The same error with the context still up is a real one and is raised.
    """
    try:
        yield
    except (RCLError, InvalidHandle):
        if node.context.ok():
            raise


def run(program: str, make_node: Callable[[], Node], args: Sequence[str] | None, *,
        usage: str, executor: Callable[[], Executor],
        start: Callable[[Any], None] | None = None) -> int:
    """Run one node until Ctrl-C/SIGTERM/context shutdown; the exit code for ``main``.

    ``make_node`` runs after ``rclpy.init``; ``start`` (e.g. autostart) after the node
    joined the executor. ``--help`` prints ``usage`` without starting ROS.
    """
    argv = list(sys.argv if args is None else args)
    if wants_help(argv):
        try:
            print(usage, flush=True)
        except BrokenPipeError:  # `--help | head`: the reader left; no traceback at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    early = _sigint_without_keyboard_interrupt()
    try:
        rclpy.init(args=argv)
    except RCLError as exc:  # a malformed --ros-args rule, e.g. "-p rate" without ":="
        print(f"{program}: {_one_line(exc).split(', at /')[0]}", file=sys.stderr)
        _finish()
        return 2
    if early.is_set():  # Ctrl-C before rclpy's handler was there to see it
        _finish()
        return 0
    try:
        node = make_node()
    except Exception as exc:
        if not rclpy.ok():  # Ctrl-C/SIGTERM during start-up
            _finish()
            return 0
        if not isinstance(exc, StartupError):
            raise
        print(f"{program}: {_one_line(exc)}", file=sys.stderr)
        _finish()
        return 2
    spinner = executor()
    spinner.add_node(node)
    try:
        if start is not None:
            start(node)
        spinner.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (RCLError, InvalidHandle):
        # Ctrl-C between the executor's context check and its wait set: rclpy raises
        # "the given context is not valid" from spin(). Only then is this a clean stop.
        if rclpy.ok():
            raise
    finally:
        stop(node, spinner)
        _finish()
    return 0


def program_name(argv: Sequence[str], module: str) -> str:
    """How the user started us, for ``--help``: ``deblur-ros live``, ``live_node`` (ros2
    run, console script) or ``python -m <module>``."""
    first = argv[0] if argv else ""
    if first.startswith("deblur-ros"):
        return first
    name = Path(first).name
    if not name or name.endswith(".py") or name.startswith("python"):
        return f"python -m {module}"
    return name


def stop(node: Node, spinner: Executor) -> None:
    """The node's threads, then the executor, then the entities."""
    quietly = getattr(node, "shutdown_quietly", None)
    if quietly is not None:
        quietly()
    spinner.shutdown()
    node.destroy_node()


def _sigint_without_keyboard_interrupt() -> threading.Event:
    """Let Ctrl-C stop the node only through rclpy, never as a KeyboardInterrupt.

    rclpy's handler shuts the context down (the executor then returns) and calls the
    handler that was there before ``rclpy.init``: Python's, raising KeyboardInterrupt
    wherever the main thread happens to be. ``ros2 launch`` adds its own SIGINT to the
    terminal's, so a second one used to land inside the stop and cut it short (exit
    code -2). A handler that raises nothing, installed first, avoids both; the event it
    returns says a Ctrl-C came before rclpy's handler took over.
    """
    seen = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda signum, frame: seen.set())
    return seen


def _finish() -> None:
    """Shut rclpy down and ignore SIGINT until the process ends: interpreter shutdown
    puts Python's handlers back to the default, and a late second Ctrl-C would then
    kill the process with -2 after a clean stop."""
    rclpy.try_shutdown()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
