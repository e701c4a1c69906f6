"""Which execution environment serves an invocation: Lambda's scaling, for one machine.

Per function (by ARN) at most its reserved concurrency of environments exist
at once, else the runtime's concurrency. An idle environment is reused (warm);
with none idle and room for one more, a new one is made (cold, started by the
caller); with no room the caller waits for one to be given back. A function
whose configuration changed gets new environments, as after an update on Lambda.
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
    idle: list[ExecutionEnvironment] = field(default_factory=list)
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
                    environments = self._functions.setdefault(
                        function.arn, _FunctionEnvironments(function.configuration)
                    )
                    if environments.configuration != function.configuration:
                        discarded += environments.idle
                        environments.count -= len(environments.idle)
                        environments.idle.clear()
                        environments.configuration = function.configuration
                    while environments.idle:
                        environment = environments.idle.pop()  # the most recently used, as Lambda tends to
                        if environment.usable:
                            self._lent[environment] = environments.configuration
                            return environment
                        environments.count -= 1
                        discarded.append(environment)
                    if environments.count < self._limit(function):
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

    def _limit(self, function: FunctionSpec) -> int:
        if function.reserved_concurrency is not None:
            return function.reserved_concurrency
        return self._concurrency
