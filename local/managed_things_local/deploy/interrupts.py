"""Ctrl-C during a deploy or destroy, as the CDK CLI and a well-behaved Unix tool take it.

The first Ctrl-C (SIGINT) stops new work from starting: what is in flight
finishes, then the stack rolls back. The second stops waiting: ``StopWaiting``
(a ``KeyboardInterrupt``) is raised in the main thread, the scheduler stops
without waiting for its workers, the runtime's processes are stopped and the
command exits 130. The journal stays consistent because it has each request
before it is sent and each answer only once it came.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl-C
FIRST_MESSAGE = "Interrupted: finishing what is in progress (Ctrl-C again to stop waiting for it)"


class StopWaiting(KeyboardInterrupt):
    """A second Ctrl-C: stop waiting for what is in flight."""


class Interrupts:
    """Whether the run was interrupted; ``handled()`` installs the SIGINT handler for the run."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        self.interrupted = False
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
                raise StopWaiting
            self.interrupted = True
            # Told from another thread: the main thread may hold the lock of the stream the message goes to.
            threading.Thread(target=self._notify, args=(FIRST_MESSAGE,), name="interrupt", daemon=True).start()

        previous = signal.signal(signal.SIGINT, handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def quiet_after_stop(listener: Callable[[T], None]) -> Iterator[Callable[[T], None]]:
    """``listener``, until ``StopWaiting`` leaves the block: what was abandoned is not reported as it ends."""
    stopped = False

    def forward(item: T) -> None:
        if not stopped:
            listener(item)

    try:
        yield forward
    except StopWaiting:
        stopped = True
        raise
