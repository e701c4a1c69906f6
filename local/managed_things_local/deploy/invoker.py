"""Run a provider function's handler like Lambda would: its own process, its code directory, a Lambda environment.

One process per invocation (every invocation is a cold start). The handler
answers through the ResponseURL; a process that ends without answering, or
runs past the function's Timeout, is a failure with its reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .requests import CustomResourceRequest
from .responses import Answer, ResponseReceiver

# Stands in for the Lambda runtime interface: loads _HANDLER from the code
# directory (first on sys.path, like /var/task) and calls it once with the event
# and a context whose remaining time counts down to the real deadline.
BOOTSTRAP = r"""
import importlib, json, os, sys, time, traceback

MARKER = "LOCAL-LAMBDA-ERROR "
payload = json.loads(sys.stdin.read())
details = payload["context"]


class LambdaContext:
    def __init__(self):
        self.function_name = details["function_name"]
        self.function_version = details["function_version"]
        self.invoked_function_arn = details["invoked_function_arn"]
        self.memory_limit_in_mb = details["memory_limit_in_mb"]
        self.aws_request_id = details["aws_request_id"]
        self.log_group_name = details["log_group_name"]
        self.log_stream_name = details["log_stream_name"]
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self):
        return max(0, int(details["deadline_ms"] - time.time() * 1000))


def fail(kind, error):
    sys.stdout.flush()
    print(MARKER + json.dumps({"errorType": kind, "errorMessage": f"{type(error).__name__}: {error}",
                               "stackTrace": traceback.format_exception(error)}), file=sys.stderr, flush=True)


module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
try:
    handler = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
except Exception as error:
    fail("Runtime.ImportModuleError", error)
    sys.exit(3)
try:
    handler(payload["event"], LambdaContext())
except Exception as error:
    fail("Runtime.HandlerError", error)
    sys.exit(2)
sys.stdout.flush()
"""
_ERROR_MARKER = "LOCAL-LAMBDA-ERROR "
# A PUT still in flight when the process ends (it should not be: crhelper sends synchronously).
_LATE_ANSWER_GRACE = 0.5


@dataclass(frozen=True)
class FunctionSpec:
    """What the local deploy needs of a Lambda function to invoke it."""

    logical_id: str
    function_name: str
    arn: str
    code_dir: str
    handler: str
    timeout: int = 3
    memory_size: int = 128
    runtime: str = "python3.11"
    region: str = "us-east-1"
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FunctionSpec:
        return cls(**data)


@dataclass(frozen=True)
class Outcome:
    """What came of one invocation: the answer, or why there was none."""

    answer: Answer | None
    failure: str = ""

    @property
    def succeeded(self) -> bool:
        return self.answer is not None and self.answer.succeeded

    @property
    def reason(self) -> str:
        if self.answer is None:
            return self.failure
        return self.answer.reason or ("" if self.answer.succeeded else "The provider answered FAILED without a reason")


class Invoker:
    def __init__(self, receiver: ResponseReceiver, endpoint_url: str, log_dir: Path, python: str | None = None) -> None:
        self.receiver = receiver
        self.endpoint_url = endpoint_url
        self.log_dir = log_dir
        self.python = python or sys.executable
        self._log_lock = threading.Lock()

    def invoke(self, function: FunctionSpec, request: CustomResourceRequest, log_name: str) -> Outcome:
        """Invoke ``function`` with ``request`` (its ResponseURL is made here) and wait for the answer or the end."""
        event = request.to_event(self.receiver.expect(request.request_id))
        request_id = str(uuid.uuid4())
        started = time.time()
        deadline = started + function.timeout
        payload = {
            "event": event,
            "context": {
                "function_name": function.function_name,
                "function_version": "$LATEST",
                "invoked_function_arn": function.arn,
                "memory_limit_in_mb": str(function.memory_size),
                "aws_request_id": request_id,
                "log_group_name": f"/aws/lambda/{function.function_name}",
                "log_stream_name": self._log_stream(),
                "deadline_ms": deadline * 1000,
            },
        }
        timed_out = False
        with tempfile.TemporaryFile() as output:
            try:
                process = subprocess.Popen(
                    [self.python, "-c", BOOTSTRAP],
                    cwd=function.code_dir,
                    env=self._environment(function),
                    stdin=subprocess.PIPE,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    # Its own session: a Ctrl-C at the terminal stops the deploy (which then rolls back), not
                    # the invocations in flight, just as it would not stop a Lambda function.
                    start_new_session=True,
                )
            except OSError as error:
                self.receiver.forget(event["ResponseURL"])
                return Outcome(None, f"Could not start the function {function.function_name}: {error}")
            try:
                assert process.stdin is not None
                process.stdin.write(json.dumps(payload).encode())
                process.stdin.close()
            except OSError:
                pass  # it died at once; its output says why
            try:
                process.wait(timeout=max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                timed_out = True
                process.kill()
                process.wait()
            answer = self.receiver.answer(event["ResponseURL"]) or (
                None if timed_out else self.receiver.wait(event["ResponseURL"], _LATE_ANSWER_GRACE)
            )
            self.receiver.forget(event["ResponseURL"])
            output.seek(0)
            logs = output.read().decode(errors="replace")
        self._append_log(log_name, event, request_id, process.returncode, timed_out, logs)
        if answer is not None:
            return Outcome(answer)
        return Outcome(None, self._no_answer(function, process.returncode, timed_out, logs, log_name))

    def close(self) -> None:
        """Nothing runs between invocations: each has its own process."""

    def _no_answer(self, function: FunctionSpec, code: int, timed_out: bool, logs: str, log_name: str) -> str:
        where = f"(logs: {self.log_dir / log_name})"
        if timed_out:
            return (
                f"The function {function.function_name} did not answer within its Timeout of {function.timeout} s "
                f"and was stopped; CloudFormation would fail the resource when its ServiceTimeout ends {where}"
            )
        error = _reported_error(logs)
        what = f"{error['errorType']}: {error['errorMessage']}" if error else f"its process exited with code {code}"
        return (
            f"The function {function.function_name} ended without answering ({what}); CloudFormation would "
            f"wait for its ServiceTimeout, then fail the resource {where}"
        )

    def _environment(self, function: FunctionSpec) -> dict[str, str]:
        env = {key: str(value) for key, value in function.environment.items()}
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "TZ": ":UTC",
                "PYTHONPATH": function.code_dir,
                "PYTHONNOUSERSITE": "1",
                "LAMBDA_TASK_ROOT": function.code_dir,
                "_HANDLER": function.handler,
                "AWS_REGION": function.region,
                "AWS_DEFAULT_REGION": function.region,
                "AWS_ACCESS_KEY_ID": "ASIALOCALDEPLOY00000",
                "AWS_SECRET_ACCESS_KEY": "local-deploy-fake-secret-access-key",
                "AWS_SESSION_TOKEN": "local-deploy-fake-session-token",
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": self._log_stream(),
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
                # Nothing the handler does may leave the machine or read the user's AWS configuration:
                # the service under test goes to the emulator, and so does any other AWS call (and fails there).
                "AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS": self.endpoint_url,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "SSL_CERT_FILE": str(self.receiver.ca_file),
            }
        )
        return env

    @staticmethod
    def _log_stream() -> str:
        return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"

    def _append_log(
        self, log_name: str, event: dict[str, Any], request_id: str, code: int, timed_out: bool, logs: str
    ) -> None:
        ending = "stopped at its Timeout" if timed_out else f"exit code {code}"
        header = (
            f"=== {datetime.now(UTC).isoformat(timespec='seconds')} {event['RequestType']} "
            f"{event['LogicalResourceId']} RequestId {event['RequestId']} (Lambda request {request_id}; {ending})\n"
        )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self._log_lock, open(self.log_dir / log_name, "a", encoding="utf-8") as file:
            file.write(header + logs + ("" if logs.endswith("\n") or not logs else "\n"))


def _reported_error(logs: str) -> dict[str, Any] | None:
    for line in reversed(logs.splitlines()):
        if line.startswith(_ERROR_MARKER):
            try:
                error = json.loads(line[len(_ERROR_MARKER) :])
            except ValueError:
                return None
            return error if isinstance(error, dict) else None
    return None
