"""The lines Lambda writes to a function's log around each invocation (START, END, REPORT and their kin)."""

from __future__ import annotations

import math
import signal
from datetime import UTC, datetime


def start(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: $LATEST"


def end(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report(
    request_id: str,
    *,
    duration_ms: float,
    memory_size: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None = None,
    status: str = "",
    error_type: str = "",
) -> str:
    """The REPORT line; Init Duration only on a cold start, Status and Error Type only when it did not succeed."""
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms",
        f"Memory Size: {memory_size} MB",
        f"Max Memory Used: {max_memory_used_mb} MB",
    ]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status:
        fields.append(f"Status: {status}")
    if error_type:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields)


def init_report(duration_ms: float, status: str, error_type: str = "") -> str:
    """Lambda's line for an INIT that did not succeed."""
    fields = [f"INIT_REPORT Init Duration: {duration_ms:.2f} ms", "Phase: init", f"Status: {status}"]
    if error_type:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields)


def timed_out(request_id: str, timeout_seconds: float) -> str:
    return f"{_timestamp()} {request_id} Task timed out after {timeout_seconds:.2f} seconds"


def runtime_exited(request_id: str, exit_status: int) -> str:
    """Lambda's two lines for a runtime process that ended: how, then the error type."""
    return (
        f"RequestId: {request_id} Error: Runtime exited with error: {exit_description(exit_status)}\nRuntime.ExitError"
    )


def exit_description(exit_status: int) -> str:
    """``exit status 1`` or ``signal: killed``, as Lambda words it (a negative status is a signal)."""
    if exit_status >= 0:
        return f"exit status {exit_status}"
    try:
        name = signal.strsignal(-exit_status) or f"signal {-exit_status}"
    except ValueError:
        name = f"signal {-exit_status}"
    return f"signal: {name.lower()}"


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
