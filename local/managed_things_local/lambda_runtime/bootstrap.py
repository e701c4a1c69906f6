"""The program inside an execution environment, and the channel it shares with the runtime.

It stands in for Lambda's Python runtime interface client: INIT imports the
handler named by ``_HANDLER`` once (the code directory is first on the path),
then each request on the channel is one invocation, one at a time, with a
context whose remaining time counts down to the invocation's deadline. Module
state carries over between invocations, as it does in a warm Lambda.

The channel is a pipe pair the runtime passes by descriptor, never the
handler's stdout/stderr (those are its logs). A message is a 4-byte big-endian
length and that many bytes of UTF-8 JSON. Only the standard library is used
here: this module runs in the function's process, beside the function's code.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import struct
import sys
import time
import traceback
from typing import Any, BinaryIO

CHANNEL_VARIABLE = "_LOCAL_LAMBDA_CHANNEL"
_HEADER = struct.Struct(">I")


HEADER_SIZE = _HEADER.size


def encode(message: dict[str, Any]) -> bytes:
    """One message on the wire: its length, then its JSON."""
    body = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body


def decode_header(header: bytes) -> int:
    """The length of the body that follows ``header``."""
    (length,) = _HEADER.unpack(header)
    return int(length)


def decode_body(body: bytes) -> dict[str, Any] | None:
    message = json.loads(body)
    return message if isinstance(message, dict) else None


def send(stream: BinaryIO, message: dict[str, Any]) -> None:
    """Write one message in one write, so the reader never waits on half of one from a live writer."""
    stream.write(encode(message))
    stream.flush()


def _receive(stream: BinaryIO) -> dict[str, Any] | None:
    header = stream.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        return None  # the runtime closed the channel: the environment is shut down
    return decode_body(stream.read(decode_header(header)))


def max_memory_used_mb() -> int:
    """This process's peak resident memory. VmHWM, not ``ru_maxrss``: Linux carries ``ru_maxrss`` across
    exec, so a process started from a large one (a test run, say) would report its parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024  # kB
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)  # KiB on Linux


class LambdaContext:
    """The attributes and the one method of Lambda's Python context object."""

    def __init__(self, details: dict[str, Any]) -> None:
        self.function_name = details["function_name"]
        self.function_version = details["function_version"]
        self.invoked_function_arn = details["invoked_function_arn"]
        self.memory_limit_in_mb = details["memory_limit_in_mb"]
        self.aws_request_id = details["aws_request_id"]
        self.log_group_name = details["log_group_name"]
        self.log_stream_name = details["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = float(details["deadline_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _error(error_type: str, message: str, error: BaseException, logged_as: str) -> dict[str, Any]:
    """Log an error as Lambda's runtime does (``[ERROR] what`` and the function's frames) and describe it."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if not _is_runtime_frame(frame.filename)]
    stack = traceback.format_list(frames)
    sys.stdout.flush()
    trace = "".join(stack)
    print(f"[ERROR] {logged_as}\nTraceback (most recent call last):\n{trace}", end="", file=sys.stderr, flush=True)
    return {"errorType": error_type, "errorMessage": message, "stackTrace": stack}


def _is_runtime_frame(filename: str) -> bool:
    return filename == __file__ or filename.startswith("<frozen importlib") or filename == importlib.__file__


def _load_handler(name: str) -> Any:
    """The handler ``module.function``; a failure as the runtime classifies it (raised as ``_InitError``)."""
    module_name, _, function_name = name.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except SyntaxError as error:
        raise _InitError("Runtime.UserCodeSyntaxError", error) from error
    except Exception as error:  # an ImportError, or anything the module raised while it ran
        raise _InitError("Runtime.ImportModuleError", error) from error
    try:
        return getattr(module, function_name)
    except AttributeError as error:
        raise _InitError("Runtime.HandlerNotFound", error) from error


class _InitError(Exception):
    def __init__(self, error_type: str, cause: Exception) -> None:
        super().__init__(error_type)
        self.error_type = error_type
        self.cause = cause


def main() -> None:
    requests_fd, answers_fd = (int(fd) for fd in os.environ.pop(CHANNEL_VARIABLE).split(","))
    requests = open(requests_fd, "rb")  # noqa: SIM115 - open for the life of the process
    answers = open(answers_fd, "wb")  # noqa: SIM115
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except _InitError as failure:
        cause = failure.cause
        module = os.environ["_HANDLER"].rpartition(".")[0]
        logged_as = f"{failure.error_type}: Unable to import module '{module}': {cause}"
        error = _error(failure.error_type, f"{type(cause).__name__}: {cause}", cause, logged_as)
        send(answers, {"init": "error", "error": error, "maxMemoryUsedMb": max_memory_used_mb()})
        return  # Lambda discards an environment whose INIT failed and tries INIT again on the next event
    send(answers, {"init": "done", "maxMemoryUsedMb": max_memory_used_mb()})
    while (request := _receive(requests)) is not None:
        outcome: dict[str, Any] = {"invoke": "done"}
        try:
            handler(request["event"], LambdaContext(request["context"]))
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            outcome = {"invoke": "error", "error": _error("Runtime.HandlerError", message, error, message)}
        sys.stdout.flush()
        sys.stderr.flush()
        outcome["maxMemoryUsedMb"] = max_memory_used_mb()
        send(answers, outcome)


if __name__ == "__main__":
    main()
