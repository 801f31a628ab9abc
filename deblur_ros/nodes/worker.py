"""A one-slot mailbox drained by one long-lived worker thread; the newest item wins.

Why one slot: a model slower than the camera must drop (and count) stale frames
instead of building a queue, so latency stays bounded and memory flat. Why one
thread for the node's whole configured life: PyTorch's CPU thread pool belongs to the
thread that first ran the model, and the same model later run from a new thread got
about a third of the throughput on CPU, so every model call (the flush included)
runs here. Why :meth:`stop` never waits on anything but the current item: Ctrl-C
must end the process even while a deactivate waits for a flush. Why ``on_idle`` runs
here too: a look-ahead model holds its newest frame until the next one comes, and when
the camera stops, what releases that frame is a model call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")
_log = logging.getLogger(__name__)


class Offer(Enum):
    """What :meth:`MailboxWorker.offer` did with an item."""

    REFUSED = 0   # closed: not taken
    TAKEN = 1     # the slot was empty
    REPLACED = 2  # an unprocessed item was dropped for this one


class MailboxWorker(Generic[T]):
    """Runs ``handle(item)`` on one thread for the newest offered item.

    ``on_flush`` runs on the same thread when :meth:`close` asks for it, after the
    item already in the slot. ``on_idle`` runs there once when ``idle_after`` seconds
    pass after an item was handled with no new item offered (0: never). ``on_error``
    gets what ``handle``/``on_flush``/``on_idle`` raised, and the thread carries on
    (default: Python's logging, with the traceback).
    """

    def __init__(self, handle: Callable[[T], None], *, name: str = "mailbox_worker",
                 on_flush: Callable[[], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 on_idle: Callable[[], None] | None = None,
                 idle_after: float = 0.0) -> None:
        self._handle = handle
        self._on_flush = on_flush
        self._on_error = on_error
        self._on_idle = on_idle if idle_after > 0 else None
        self._idle_after = idle_after
        self._idle_due: float | None = None  # monotonic time on_idle is due, if armed
        self._name = name
        self._cond = threading.Condition()
        self._slot: tuple[T] | None = None
        self._flush_requests: list[threading.Event] = []
        self._open = False
        self._stop = False
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.handled = 0

    # -- life --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (closed: offers are refused until :meth:`open`)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stop = False
            self._thread = threading.Thread(target=self._run, name=self._name)
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> bool:
        """Discard the slot, finish the current item, end the thread; True once it ended.

        Pending flush requests are released (their waiters return) so nothing waits
        on a thread that is gone. Safe to call twice, from any thread, the worker too.
        """
        with self._cond:
            self._stop = True
            self._open = False
            self._slot = None
            for done in self._flush_requests:
                done.set()
            self._flush_requests.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        if thread.is_alive():
            return False
        with self._cond:
            if self._thread is thread:
                self._thread = None
        return True

    # -- intake ------------------------------------------------------------------------

    def open(self) -> None:
        """Accept offers from now on."""
        with self._cond:
            self._open = True

    def close(self, flush: bool = True, timeout: float | None = None) -> bool:
        """Refuse further offers; with ``flush`` wait until the slot's item and
        ``on_flush`` ran on the worker. True when done (False: timed out or stopped).

        Closing under the slot's lock orders every accepted item before the flush.
        """
        with self._cond:
            self._open = False
            if not flush:
                return True
            if self._thread is None or self._stop:
                return False
            done = threading.Event()
            self._flush_requests.append(done)
            self._cond.notify_all()
        finished = done.wait(timeout)
        with self._cond:
            return finished and not self._stop

    def offer(self, item: T, before: Callable[[], None] | None = None) -> Offer:
        """Put ``item`` in the slot if open, replacing (and counting) an unprocessed one.

        ``before`` runs under the slot's lock once the item is known to be taken, so a
        caller's own counters stay ordered with :meth:`close`.
        """
        with self._cond:
            if not self._open or self._stop:
                return Offer.REFUSED
            if before is not None:
                before()
            replaced = self._slot is not None
            if replaced:
                self.dropped += 1
            self._slot = (item,)
            self._cond.notify_all()
        return Offer.REPLACED if replaced else Offer.TAKEN

    # -- the thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            flush: threading.Event | None = None
            idle = False
            with self._cond:
                while self._slot is None and not self._flush_requests and not self._stop:
                    if self._idle_due is None:
                        self._cond.wait()
                        continue
                    left = self._idle_due - time.monotonic()
                    if left <= 0.0:
                        idle = True
                        break
                    self._cond.wait(left)
                if self._stop:
                    return
                # Disarmed by whatever runs next: an item re-arms it, a flush ends the stream.
                self._idle_due = None
                if idle:
                    pass
                elif self._slot is not None:
                    (item,), self._slot = self._slot, None
                else:
                    flush = self._flush_requests.pop(0)
            try:
                if idle:
                    self._on_idle()
                elif flush is None:
                    try:
                        self._handle(item)
                        self.handled += 1
                    finally:
                        if self._on_idle is not None:
                            with self._cond:
                                self._idle_due = time.monotonic() + self._idle_after
                elif self._on_flush is not None:
                    self._on_flush()
            except Exception as exc:  # noqa: BLE001 - one bad item must not end the thread
                if self._on_error is None:
                    _log.exception("%s: %s", self._name, exc)
                else:
                    self._on_error(exc)
            finally:
                if flush is not None:
                    flush.set()
