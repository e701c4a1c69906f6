"""One execution environment: a process that ran INIT for one function and then serves its invocations in turn.

The runtime talks to it over a private pipe pair (``bootstrap``'s framing);
the process's stdout and stderr go to a file of its own, read back after each
invocation, so the handler's output stays its logs and never mixes with the
channel.
"""

from __future__ import annotations

import enum
import math
import os
import select
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bootstrap

# Lambda gives INIT 10 seconds (on-demand); past that the environment is not used.
INIT_TIMEOUT_SECONDS = 10.0
# `python -c`, so the code directory (the working directory) is first on sys.path and the bootstrap's is not on it.
_LAUNCH = f"import runpy; runpy.run_path({str(Path(bootstrap.__file__).resolve())!r}, run_name='__main__')"


class Status(enum.Enum):
    """How a phase (INIT or one invocation) of an environment ended."""

    SUCCESS = "success"
    ERROR = "error"  # the runtime reported an error (import failure, the handler raised); the process lives on
    TIMEOUT = "timeout"  # it ran past its deadline and the environment was killed
    EXIT = "exit"  # the process ended (or was killed) on its own


@dataclass(frozen=True)
class PhaseResult:
    """What came of INIT or of one invocation."""

    status: Status
    duration_ms: float
    error: dict[str, Any] | None = None
    exit_status: int | None = None  # negative: killed by that signal


class ExecutionEnvironment:
    """A function's process, run by ``interpreter``; not thread-safe (lent to one invocation at a time).

    The interpreter plays the part of Lambda's Python runtime: its standard library and site-packages are what
    the handler finds beside its code.
    """

    def __init__(self, code_dir: str, variables: dict[str, str], log_stream: str, interpreter: str) -> None:
        self.code_dir = code_dir
        self.interpreter = interpreter
        self.log_stream = log_stream
        self.max_memory_used_mb = 0
        self._variables = variables
        self._process: subprocess.Popen[bytes] | None = None
        self._requests = -1
        self._answers = -1
        self._logs = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._logs_read = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def started(self) -> bool:
        return self._process is not None

    @property
    def usable(self) -> bool:
        """Started, INIT done, and the process still running."""
        return self._process is not None and self._process.poll() is None and self._requests >= 0

    def start(self) -> PhaseResult:
        """Start the process and wait for its INIT (the handler's import); once only."""
        if self._process is not None:
            raise RuntimeError("an execution environment starts once")
        started = time.perf_counter()
        requests_read, self._requests = os.pipe()
        self._answers, answers_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                [self.interpreter, "-c", _LAUNCH],
                cwd=self.code_dir,
                env={**self._variables, bootstrap.CHANNEL_VARIABLE: f"{requests_read},{answers_write}"},
                stdin=subprocess.DEVNULL,
                stdout=self._logs,
                stderr=subprocess.STDOUT,
                pass_fds=(requests_read, answers_write),
                # Its own session: a Ctrl-C at the terminal stops the deploy (which then rolls back), not the
                # environments in the middle of an invocation, just as it would not stop a Lambda function.
                start_new_session=True,
            )
        finally:
            os.close(requests_read)
            os.close(answers_write)
        message = self._receive(time.monotonic() + INIT_TIMEOUT_SECONDS)
        return self._phase_result(message, started, "init")

    def invoke(self, request: dict[str, Any], deadline: float) -> PhaseResult:
        """Run one invocation; ``deadline`` is wall-clock time (``time.time()``), as the context counts it."""
        started = time.perf_counter()
        try:
            _write_all(self._requests, bootstrap.encode(request))
        except OSError:
            return self._ended(started)
        message = self._receive(time.monotonic() + max(0.0, deadline - time.time()))
        return self._phase_result(message, started, "invoke")

    def take_logs(self) -> str:
        """What the process wrote since the last call."""
        size = os.fstat(self._logs.fileno()).st_size
        data = os.pread(self._logs.fileno(), max(0, size - self._logs_read), self._logs_read)
        self._logs_read += len(data)
        return data.decode(errors="replace")

    def stop(self) -> None:
        """Kill the process (and anything it started) and release what it held."""
        self.stop_process()
        for descriptor in (self._requests, self._answers):
            if descriptor >= 0:
                os.close(descriptor)
        self._requests = self._answers = -1
        self._logs.close()

    def _phase_result(self, message: dict[str, Any] | None | _TimedOut, started: float, phase: str) -> PhaseResult:
        if isinstance(message, _TimedOut):
            self._record_peak_memory()
            self.stop_process()
            return PhaseResult(Status.TIMEOUT, _elapsed_ms(started))
        if message is None:
            return self._ended(started)
        self.max_memory_used_mb = max(self.max_memory_used_mb, int(message.get("maxMemoryUsedMb") or 0))
        if message.get(phase) == "done":
            return PhaseResult(Status.SUCCESS, _elapsed_ms(started))
        if phase == "init":  # the bootstrap ends after a failed INIT
            self.stop_process()
        return PhaseResult(Status.ERROR, _elapsed_ms(started), error=message.get("error"))

    def _ended(self, started: float) -> PhaseResult:
        assert self._process is not None
        return PhaseResult(Status.EXIT, _elapsed_ms(started), exit_status=self._process.wait())

    def stop_process(self) -> None:
        """Kill the process and whatever it started (its process group, even once it ended), keeping its logs."""
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except OSError:
            pass  # the group is empty: nothing is left of it
        self._process.wait()

    def _record_peak_memory(self) -> None:
        """The peak RSS of a process about to be killed (it cannot report it any more)."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.max_memory_used_mb = max(self.max_memory_used_mb, int(line.split()[1]) // 1024)

    def _receive(self, deadline: float) -> dict[str, Any] | None | _TimedOut:
        """The next message; None when the process closed the channel (it ended); _TIMED_OUT past ``deadline``."""
        header = self._read(bootstrap.HEADER_SIZE, deadline)
        if not isinstance(header, bytes):
            return header
        body = self._read(bootstrap.decode_header(header), deadline)
        if not isinstance(body, bytes):
            return body
        return bootstrap.decode_body(body)

    def _read(self, size: int, deadline: float) -> bytes | None | _TimedOut:
        chunks: list[bytes] = []
        remaining = size
        poller = select.poll()  # not select(): a fleet's deploy may hold more than FD_SETSIZE descriptors
        poller.register(self._answers, select.POLLIN)
        while remaining:
            if not poller.poll(max(0, math.ceil((deadline - time.monotonic()) * 1000))):
                return _TIMED_OUT
            chunk = os.read(self._answers, remaining)
            if not chunk:
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


class _TimedOut:
    pass


_TIMED_OUT = _TimedOut()


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
