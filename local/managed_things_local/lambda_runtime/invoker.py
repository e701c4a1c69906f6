"""Run a provider function's handler like Lambda does: in warm execution environments, reported as Lambda reports.

An execution environment (``lambda_runtime.process``) is a process with the
function's code directory first on the path and Lambda's environment; it
imports the handler once (INIT) and serves later invocations of the same
function one at a time, so module state carries over as it does on Lambda.
``lambda_runtime.pool`` decides which environment serves an invocation. The
handler answers through the ResponseURL; an invocation that ends without an
answer is a failure with its reason. With ``cold=True`` every invocation gets
a fresh environment, discarded afterwards, to exercise INIT each time.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..cloudformation.requests import CustomResourceRequest
from ..services.responses import Answer, ResponseReceiver
from . import lambda_log
from .function import FunctionSpec
from .pool import EnvironmentPool, PoolClosed
from .process import INIT_TIMEOUT_SECONDS, ExecutionEnvironment, PhaseResult, Status
from .variables import Network, lambda_variables, new_log_stream

__all__ = ["FunctionSpec", "Invoker", "LambdaRuntime", "Outcome"]

# How long close() lets invocations in flight finish beyond their own deadlines.
_CLOSE_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Outcome:
    """What came of one invocation: the answer, or why there was none."""

    answer: Answer | None
    failure: str = ""
    cancelled: bool = False  # CloudFormation cancelled the resource's Create while it was in flight

    @property
    def succeeded(self) -> bool:
        return self.answer is not None and self.answer.succeeded

    @property
    def reason(self) -> str:
        if self.answer is None:
            return self.failure
        return self.answer.reason or ("" if self.answer.succeeded else "The provider answered FAILED without a reason")


@dataclass(frozen=True)
class _Invocation:
    """One invocation as it ran in its environment, for the log and the failure reason."""

    request_id: str  # Lambda's, not CloudFormation's
    init: PhaseResult | None  # only on a cold start
    invoke: PhaseResult | None  # None when INIT failed
    logs: str
    max_memory_used_mb: int

    @property
    def keeps_environment(self) -> bool:
        """A handler error leaves the environment warm; a failed INIT, a crash or a timeout does not."""
        return self.invoke is not None and self.invoke.status in (Status.SUCCESS, Status.ERROR)

    @property
    def failed_result(self) -> PhaseResult | None:
        for result in (self.init, self.invoke):
            if result is not None and result.status is not Status.SUCCESS:
                return result
        return None


class LambdaRuntime:
    """Invokes provider functions in execution environments it starts lazily and stops at ``close()``.

    ``network`` says where the environments' AWS calls go (the front door in a local deploy). ``interpreter`` is
    the Python that runs every environment (the Lambda runtime's stand-in): this one's unless told otherwise.
    """

    def __init__(
        self,
        receiver: ResponseReceiver,
        network: Network,
        log_dir: Path,
        *,
        concurrency: int,
        cold: bool = False,
        interpreter: str = sys.executable,
        identities: Callable[[FunctionSpec], None] | None = None,
    ) -> None:
        self.receiver = receiver
        self.network = network
        # Told of each function invoked, so that the local services know whose access key its environments sign
        # with (``IamAuthority.bind``).
        self.identities = identities
        self.log_dir = log_dir
        self.cold = cold
        self.interpreter = interpreter
        self._pool = EnvironmentPool(self._new_environment, concurrency=concurrency, reuse=not cold)
        self._longest_timeout = 0
        self._log_lock = threading.Lock()

    def __enter__(self) -> LambdaRuntime:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: Any) -> None:
        # Ctrl-C (a second one, while waiting): stop the invocations in flight instead of waiting for them.
        self.close(wait=not (exc_type is not None and issubclass(exc_type, KeyboardInterrupt)))

    def close(self, *, wait: bool = True) -> None:
        """Stop every environment, after the invocations in flight end (by their deadline), or at once."""
        grace = self._longest_timeout + INIT_TIMEOUT_SECONDS + _CLOSE_GRACE_SECONDS if wait else 0.0
        self._pool.close(grace)

    def invoke(self, function: FunctionSpec, request: CustomResourceRequest, log_name: str) -> Outcome:
        """Deliver ``request`` to ``function`` and wait for its answer, or for the invocation to end without one."""
        if function.reserved_concurrency == 0:
            return Outcome(None, _throttled(function))
        self._longest_timeout = max(self._longest_timeout, function.timeout)
        if self.identities is not None:
            self.identities(function)
        try:
            environment = self._pool.acquire(function)
        except PoolClosed:
            return Outcome(None, f"The function {function.function_name} was not invoked: the local deploy is ending")
        url = self.receiver.expect(request.request_id)
        invocation: _Invocation | None = None
        try:
            invocation = self._run(environment, function, request.to_event(url))
            answer = self.receiver.answer(url)
        except OSError as error:  # its process could not be started (the code directory is gone, say)
            return Outcome(None, f"Could not start the function {function.function_name}: {error}")
        finally:
            self.receiver.forget(url)
            reusable = invocation is not None and invocation.keeps_environment
            self._pool.release(function, environment, reusable=reusable)
        self._write_log(log_name, request, function, invocation)
        if answer is not None:
            return Outcome(answer)
        return Outcome(None, self._no_answer(function, invocation, log_name))

    def _new_environment(self, function: FunctionSpec) -> ExecutionEnvironment:
        log_stream = new_log_stream()
        variables = lambda_variables(function, self.network, self.receiver.ca_file, log_stream)
        return ExecutionEnvironment(function.code_dir, variables, log_stream, self.interpreter)

    def _run(self, environment: ExecutionEnvironment, function: FunctionSpec, event: dict[str, Any]) -> _Invocation:
        request_id = str(uuid.uuid4())
        init: PhaseResult | None = None
        if not environment.started:
            init = environment.start()
            if init.status is not Status.SUCCESS:
                return _Invocation(request_id, init, None, environment.take_logs(), environment.max_memory_used_mb)
        deadline = time.time() + function.timeout
        context = {
            "function_name": function.function_name,
            "function_version": "$LATEST",
            "invoked_function_arn": function.arn,
            "memory_limit_in_mb": str(function.memory_size),
            "aws_request_id": request_id,
            "log_group_name": f"/aws/lambda/{function.function_name}",
            "log_stream_name": environment.log_stream,
            "deadline_ms": deadline * 1000,
        }
        invoke = environment.invoke({"event": event, "context": context}, deadline)
        return _Invocation(request_id, init, invoke, environment.take_logs(), environment.max_memory_used_mb)

    def _write_log(
        self, log_name: str, request: CustomResourceRequest, function: FunctionSpec, invocation: _Invocation | None
    ) -> None:
        """One block per invocation, written at once so that concurrent invocations do not interleave."""
        if invocation is None:
            return
        lines = [
            f"=== {datetime.now(UTC).isoformat(timespec='seconds')} {request.request_type} {request.logical_id} "
            f"RequestId {request.request_id}"
        ]
        init, invoke, request_id = invocation.init, invocation.invoke, invocation.request_id
        if invoke is None:  # INIT failed: Lambda's INIT_REPORT, then the invocation it could not run
            assert init is not None
            error_type = _error_type(init)
            lines += [
                invocation.logs.rstrip("\n"),
                lambda_log.init_report(init.duration_ms, _status(init), error_type),
            ]
            lines += [lambda_log.start(request_id), lambda_log.end(request_id)]
            lines.append(
                lambda_log.report(
                    request_id,
                    duration_ms=0.0,
                    memory_size=function.memory_size,
                    max_memory_used_mb=invocation.max_memory_used_mb,
                    init_duration_ms=init.duration_ms,
                    status=_status(init),
                    error_type=error_type,
                )
            )
        else:
            lines.append(lambda_log.start(request_id))
            lines.append(invocation.logs.rstrip("\n"))
            if invoke.status is Status.TIMEOUT:
                lines.append(lambda_log.timed_out(request_id, function.timeout))
            elif invoke.status is Status.EXIT:
                lines.append(lambda_log.runtime_exited(request_id, invoke.exit_status or 0))
            lines.append(lambda_log.end(request_id))
            lines.append(
                lambda_log.report(
                    request_id,
                    duration_ms=invoke.duration_ms,
                    memory_size=function.memory_size,
                    max_memory_used_mb=invocation.max_memory_used_mb,
                    init_duration_ms=init.duration_ms if init is not None else None,
                    status="" if invoke.status is Status.SUCCESS else _status(invoke),
                    error_type=_error_type(invoke) if invoke.status is not Status.TIMEOUT else "",
                )
            )
        text = "\n".join(line for line in lines if line) + "\n"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self._log_lock, open(self.log_dir / log_name, "a", encoding="utf-8") as file:
            file.write(text)

    def _no_answer(self, function: FunctionSpec, invocation: _Invocation | None, log_name: str) -> str:
        where = f"(logs: {self.log_dir / log_name})"
        failed = invocation.failed_result if invocation is not None else None
        if failed is not None and failed.status is Status.TIMEOUT:
            if invocation is not None and invocation.invoke is None:
                return (
                    f"The function {function.function_name} did not finish INIT within {INIT_TIMEOUT_SECONDS:g} s "
                    f"and was stopped; CloudFormation would fail the resource when its ServiceTimeout ends {where}"
                )
            return (
                f"The function {function.function_name} did not answer within its Timeout of {function.timeout} s "
                f"and was stopped; CloudFormation would fail the resource when its ServiceTimeout ends {where}"
            )
        if failed is None:
            what = "the handler returned without answering"
        elif failed.status is Status.EXIT:
            what = (
                f"Runtime.ExitError: Runtime exited with error: {lambda_log.exit_description(failed.exit_status or 0)}"
            )
        else:
            error = failed.error or {}
            what = f"{error.get('errorType', 'Runtime.Unknown')}: {error.get('errorMessage', '')}"
        what = " ".join(what.split())  # one line, whatever the error's message holds
        return (
            f"The function {function.function_name} ended without answering ({what}); CloudFormation would "
            f"wait for its ServiceTimeout, then fail the resource {where}"
        )


# The name of one release ago.
Invoker = LambdaRuntime


def _status(result: PhaseResult) -> str:
    """The Status field of Lambda's REPORT and INIT_REPORT lines for a phase that did not succeed."""
    return "timeout" if result.status is Status.TIMEOUT else "error"


def _error_type(result: PhaseResult) -> str:
    if result.status is Status.EXIT:
        return "Runtime.ExitError"
    if result.status is Status.ERROR:
        return str((result.error or {}).get("errorType") or "Runtime.Unknown")
    return ""


def _throttled(function: FunctionSpec) -> str:
    return (
        f"The function {function.function_name} has ReservedConcurrentExecutions 0, so Lambda throttles every "
        "invocation (TooManyRequestsException: Rate Exceeded.) and CloudFormation fails the resource"
    )
