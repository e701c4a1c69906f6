"""Which execution environment serves an invocation: Lambda's scaling, for one machine.

Concurrency counts busy environments, as Lambda's concurrency counts
executions in flight: a function with ReservedConcurrentExecutions runs at
most that many invocations at once; every other function shares the
runtime's concurrency (the account's unreserved concurrency), so at most that
many of their invocations run at once, whichever functions they are. With no
room, the caller waits for an invocation to end.

An idle environment does not count against concurrency and is not given up
because another function scales (on Lambda it waits, warm, for its function's
next event). An invocation takes its function's most recently used idle
environment (warm); with none, a new one (cold, started by the caller).
Locally what bounds idle environments is memory, each being a process
(about 60 MB for the provider): they are kept while the peak RSS they
reported sums to at most ``IDLE_MEMORY_BUDGET_MB``, the least recently used
stopped beyond it, though never the last one. A function whose configuration
changed gets new environments, as after an update on Lambda.

Which of the invocations waiting for room goes first is the pool's choice
(Lambda would not queue them): one whose function has an idle environment
goes before one that would start cold. A deploy of nested stacks has one
provider function per stack and more workers than the shared concurrency, and
a cold start costs a few hundred milliseconds of CPU, a warm event a few tens.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from .function import FunctionSpec
from .process import ExecutionEnvironment

# Each environment mostly waits on the emulator and the ResponseURL: two per core keep the cores busy, and
# the cap bounds memory (an environment is a Python process of about 100 MB).
DEFAULT_CONCURRENCY = min(16, 2 * (os.cpu_count() or 1))


# What idle environments may hold: 8 provider environments (~60 MB each). With the busy ones (at most
# --concurrency, 4 on a 2-core machine) a 2,000-thing deploy stays well under its 1 GB budget.
IDLE_MEMORY_BUDGET_MB = 512


class PoolClosed(Exception):
    """The runtime is shutting down: no more invocations."""


@dataclass
class _FunctionEnvironments:
    configuration: str
    reserved: int | None
    idle: list[ExecutionEnvironment] = field(default_factory=list)  # least recently used first
    busy: int = 0  # lent to an invocation


@dataclass(frozen=True)
class _Loan:
    arn: str
    configuration: str  # the one the environment was started for


class EnvironmentPool:
    def __init__(
        self,
        new_environment: Callable[[FunctionSpec], ExecutionEnvironment],
        *,
        concurrency: int,
        reuse: bool,
        idle_memory_mb: int = IDLE_MEMORY_BUDGET_MB,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._new_environment = new_environment
        self._concurrency = concurrency
        self._reuse = reuse
        self._idle_memory_mb = idle_memory_mb
        self._functions: dict[str, _FunctionEnvironments] = {}
        self._lent: dict[ExecutionEnvironment, _Loan] = {}
        # Every idle environment, least recently used first -> the arn of its function.
        self._idle: OrderedDict[ExecutionEnvironment, str] = OrderedDict()
        self._waiting: Counter[str] = Counter()  # the arns of invocations waiting for room
        self._condition = threading.Condition()
        self._closed = False

    def acquire(self, function: FunctionSpec) -> ExecutionEnvironment:
        """An environment for one invocation of ``function``: idle (warm), else new (not started yet)."""
        discarded: list[ExecutionEnvironment] = []
        try:
            with self._condition:
                while True:
                    if self._closed:
                        raise PoolClosed()
                    environments = self._current(function, discarded)
                    if self._may_run(environments) and not self._warm_one_first(function.arn, environments):
                        environment = self._take_idle(environments, discarded)
                        if environment is None:
                            environment = self._new_environment(function)
                        environments.busy += 1
                        self._lent[environment] = _Loan(function.arn, environments.configuration)
                        return environment
                    self._waiting[function.arn] += 1
                    try:
                        self._condition.wait()
                    finally:
                        self._waiting[function.arn] -= 1
        finally:
            for environment in discarded:
                environment.stop()

    def release(self, function: FunctionSpec, environment: ExecutionEnvironment, *, reusable: bool) -> None:
        """Give back an environment after its invocation; it is kept for the next one only if ``reusable``."""
        with self._condition:
            loan = self._lent.pop(environment)
            environments = self._functions[loan.arn]
            environments.busy -= 1
            keep = (
                reusable
                and self._reuse
                and not self._closed
                and loan.configuration == environments.configuration
                and environment.usable
            )
            evicted = [] if keep else [environment]
            if keep:
                environments.idle.append(environment)
                self._idle[environment] = loan.arn
                evicted += self._evict_beyond_budget()
            self._condition.notify_all()
        for stopped in evicted:
            stopped.stop()

    def close(self, grace_seconds: float) -> None:
        """Refuse new invocations, wait up to ``grace_seconds`` for those running, then stop every environment."""
        try:
            with self._condition:
                self._closed = True
                self._condition.notify_all()
                give_up = time.monotonic() + grace_seconds
                while self._lent and (remaining := give_up - time.monotonic()) > 0:
                    self._condition.wait(remaining)
        finally:
            with self._condition:
                self._closed = True
                idle = list(self._idle)
                self._idle.clear()
                for environments in self._functions.values():
                    environments.idle.clear()
                still_lent = list(self._lent)
            for environment in idle:
                environment.stop()
            for environment in still_lent:  # its invocation sees the process end, and gives it back to be stopped
                environment.stop_process()

    def _current(self, function: FunctionSpec, discarded: list[ExecutionEnvironment]) -> _FunctionEnvironments:
        """The function's environments, its idle ones of an older configuration discarded."""
        environments = self._functions.setdefault(
            function.arn, _FunctionEnvironments(function.configuration, function.reserved_concurrency)
        )
        if environments.configuration != function.configuration:
            for environment in environments.idle:
                del self._idle[environment]
            discarded += environments.idle
            environments.idle.clear()
            environments.configuration = function.configuration
            environments.reserved = function.reserved_concurrency
        return environments

    def _may_run(self, environments: _FunctionEnvironments) -> bool:
        """Whether one more invocation fits: in the function's reserved concurrency, else in the shared one."""
        if environments.reserved is not None:
            return environments.busy < environments.reserved
        return self._unreserved_busy() < self._concurrency

    def _unreserved_busy(self) -> int:
        return sum(e.busy for e in self._functions.values() if e.reserved is None)

    @property
    def waiting(self) -> int:
        """How many invocations wait for room."""
        with self._condition:
            return self._waiting.total()

    def _warm_one_first(self, arn: str, environments: _FunctionEnvironments) -> bool:
        """Whether this invocation, which would start cold in the shared concurrency, leaves the room to warm ones.

        Only to those that wait, as many as there is room for: the release that made it woke them, and they take it.
        """
        if environments.reserved is not None or environments.idle:
            return False
        warm_waiting = sum(
            min(count, len(self._functions[other].idle))
            for other, count in self._waiting.items()
            if other != arn and self._functions[other].reserved is None
        )
        return warm_waiting >= self._concurrency - self._unreserved_busy()

    def _take_idle(
        self, environments: _FunctionEnvironments, discarded: list[ExecutionEnvironment]
    ) -> ExecutionEnvironment | None:
        """The function's most recently used idle environment that still runs; those that ended are discarded."""
        while environments.idle:
            environment = environments.idle.pop()  # the most recently used, as Lambda tends to
            del self._idle[environment]
            if environment.usable:
                return environment
            discarded.append(environment)
        return None

    def _evict_beyond_budget(self) -> list[ExecutionEnvironment]:
        """Take the least recently used idle environments out until the rest fit the budget (one always stays)."""
        evicted: list[ExecutionEnvironment] = []
        held = sum(environment.max_memory_used_mb for environment in self._idle)
        while held > self._idle_memory_mb and len(self._idle) > 1:
            environment, arn = self._idle.popitem(last=False)
            self._functions[arn].idle.remove(environment)
            held -= environment.max_memory_used_mb
            evicted.append(environment)
        return evicted
