"""Which execution environment serves an invocation: Lambda's scaling, for one machine.

As on Lambda, a function with ReservedConcurrentExecutions has that many
environments to itself; every other function shares the runtime's
concurrency (the account's unreserved concurrency), so a deploy of many
provider functions (one per nested stack, say) never has more than that many
of their processes alive. An idle environment is reused (warm); with none
idle and room for one more, a new one is made (cold, started by the caller),
evicting an idle environment of another function when the shared pool is
full; with no room at all the caller waits for an environment to be given
back. A function whose configuration changed gets new environments, as after
an update on Lambda.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .function import FunctionSpec
from .process import ExecutionEnvironment


class PoolClosed(Exception):
    """The runtime is shutting down: no more invocations."""


@dataclass
class _FunctionEnvironments:
    configuration: str
    reserved: int | None
    idle: list[ExecutionEnvironment] = field(default_factory=list)  # least recently used first
    count: int = 0  # alive: idle or lent


class EnvironmentPool:
    def __init__(
        self, new_environment: Callable[[FunctionSpec], ExecutionEnvironment], *, concurrency: int, reuse: bool
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._new_environment = new_environment
        self._concurrency = concurrency
        self._reuse = reuse
        self._functions: dict[str, _FunctionEnvironments] = {}
        self._lent: dict[ExecutionEnvironment, str] = {}  # -> the configuration it was started for
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
                    while environments.idle:
                        environment = environments.idle.pop()  # the most recently used, as Lambda tends to
                        if environment.usable:
                            self._lent[environment] = environments.configuration
                            return environment
                        environments.count -= 1
                        discarded.append(environment)
                    if self._room_for_one_more(environments, discarded):
                        environments.count += 1
                        environment = self._new_environment(function)
                        self._lent[environment] = environments.configuration
                        return environment
                    self._condition.wait()
        finally:
            for environment in discarded:
                environment.stop()

    def release(self, function: FunctionSpec, environment: ExecutionEnvironment, *, reusable: bool) -> None:
        """Give back an environment after its invocation; it is kept for the next one only if ``reusable``."""
        with self._condition:
            configuration = self._lent.pop(environment)
            environments = self._functions[function.arn]
            keep = (
                reusable
                and self._reuse
                and not self._closed
                and configuration == environments.configuration
                and environment.usable
            )
            if keep:
                environments.idle.append(environment)
            else:
                environments.count -= 1
            self._condition.notify_all()
        if not keep:
            environment.stop()

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
                idle = [e for environments in self._functions.values() for e in environments.idle]
                for environments in self._functions.values():
                    environments.count -= len(environments.idle)
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
            discarded += environments.idle
            environments.count -= len(environments.idle)
            environments.idle.clear()
            environments.configuration = function.configuration
            environments.reserved = function.reserved_concurrency
        return environments

    def _room_for_one_more(self, environments: _FunctionEnvironments, discarded: list[ExecutionEnvironment]) -> bool:
        if environments.reserved is not None:
            return environments.count < environments.reserved
        shared = [e for e in self._functions.values() if e.reserved is None]
        if sum(e.count for e in shared) < self._concurrency:
            return True
        for other in shared:  # the shared pool is full: make room by evicting another function's idle environment
            if other is not environments and other.idle:
                discarded.append(other.idle.pop(0))
                other.count -= 1
                return True
        return False
