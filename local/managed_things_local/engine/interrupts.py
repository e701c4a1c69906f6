"""Ctrl-C during a deploy or destroy, as the CDK CLI and a well-behaved Unix tool take it.

The first Ctrl-C (SIGINT) stops new work from starting: what is in flight
finishes, then the stack rolls back. The second stops waiting: ``StopWaiting``
(a ``KeyboardInterrupt``) is raised in the main thread, the scheduler stops
without waiting for its workers, the runtime's processes are stopped and the
command exits 130. The workers left behind (a stack deployed beside others
runs in one) start nothing more: the executor raises ``StopWaiting`` in them
at their next request or event, so no rollback runs after the command gave
up. The journal stays consistent: it has each request before it is sent and
each answer once it came; a request cut off has no successful answer, so it
replays as not done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl-C
FIRST_MESSAGE = "Interrupted: finishing what is in progress (Ctrl-C again to stop waiting for it)"


class StopWaiting(KeyboardInterrupt):
    """A second Ctrl-C: stop waiting for what is in flight."""


class Interrupts:
    """Whether the run was interrupted; ``handled()`` installs the SIGINT handler for the run."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        self.interrupted = False
        self.stopped_waiting = False  # a second Ctrl-C: what was left in flight must start nothing more
        self._notify = notify

    def interrupt(self) -> None:
        """Stop starting new work (once): what is in flight finishes, then the stack rolls back."""
        if not self.interrupted:
            self.interrupted = True
            self._notify(FIRST_MESSAGE)

    @contextlib.contextmanager
    def handled(self) -> Iterator[None]:
        """While in this block, a first Ctrl-C interrupts, a second raises ``StopWaiting`` in the main thread."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(signum: int, frame: object) -> None:
            if self.interrupted:
                self.stopped_waiting = True
                raise StopWaiting
            self.interrupted = True
            # Told from another thread: the main thread may hold the lock of the stream the message goes to.
            threading.Thread(target=self._notify, args=(FIRST_MESSAGE,), name="interrupt", daemon=True).start()

        previous = signal.signal(signal.SIGINT, handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


class Stopping:
    """How a command stops once it stopped waiting: its two blocks wrap what it started (the runtime, say).

    ``reporting(listener)``, the innermost block: ``listener`` until a Ctrl-C leaves the block; from then on
    what was abandoned is not reported as it ends, and further Ctrl-Cs are ignored so that they cannot cut
    short the stopping of what was started. ``restoring()``, the outermost: Ctrl-C works again once all is left.
    """

    def __init__(self) -> None:
        self.stopped = False
        self._ignoring = False
        self._previous: Any = None

    @contextlib.contextmanager
    def restoring(self) -> Iterator[None]:
        try:
            yield
        finally:
            if self._ignoring:  # (None: a handler not set from Python, which cannot be put back)
                signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
                self._ignoring = False

    @contextlib.contextmanager
    def reporting(self, listener: Callable[[T], None]) -> Iterator[Callable[[T], None]]:
        def forward(item: T) -> None:
            if not self.stopped:
                listener(item)

        try:
            yield forward
        except KeyboardInterrupt:
            self.stopped = True
            if threading.current_thread() is threading.main_thread() and not self._ignoring:
                self._previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
                self._ignoring = True
            raise
