"""Peak resident memory of a process and all its descendants, sampled while it runs."""

from __future__ import annotations

import threading
from types import TracebackType

import psutil

SAMPLE_INTERVAL = 0.05  # seconds


class PeakRss:
    """Samples the summed RSS of ``pid`` and every descendant each ``interval`` seconds until stopped.

    Summed RSS counts pages shared between processes once per process, as ``ps`` and ``top`` do: an upper bound
    of what the tree takes. A child that lives less than one interval may be missed.
    """

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_bytes = 0
        self.processes_at_peak = 0
        self.most_processes = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stopped.wait(self.interval):
                return

    def sample(self) -> None:
        """One sample of the tree (also callable directly)."""
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:  # the root has ended
            return
        total = alive = 0
        for process in processes:
            try:
                total += process.memory_info().rss
                alive += 1
            except psutil.Error:  # ended between listing and reading
                continue
        self.most_processes = max(self.most_processes, alive)
        if total > self.peak_bytes:
            self.peak_bytes, self.processes_at_peak = total, alive
