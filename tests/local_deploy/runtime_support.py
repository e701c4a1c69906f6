"""Shared by the Lambda runtime tests: the ResponseURL receiver, handlers written to a code directory, requests."""

from __future__ import annotations

import os
import signal
import textwrap
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from managed_things_local.cloudformation.requests import CustomResourceRequest, RequestType
from managed_things_local.lambda_runtime.invoker import FunctionSpec
from managed_things_local.lambda_runtime.variables import DirectEndpoint
from managed_things_local.services.front_door import FrontDoor
from managed_things_local.services.responses import ResponseReceiver

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/Stack/5b918d10-b9b1-11ef-9c0e-0a8f1c2d3e4f"
LOG_NAME = "Stack.log"
# Where the AWS calls of test handlers that make none go: port 9 (discard), where nothing listens.
NOWHERE = DirectEndpoint("http://127.0.0.1:9")


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ResponseReceiver]:
    with ResponseReceiver(tmp_path / "state") as started:
        yield started


def front_door_to(receiver: ResponseReceiver, emulator_url: str) -> FrontDoor:
    """A front door to the emulator at ``emulator_url``, with nothing behind Secrets Manager and CloudFormation."""
    return FrontDoor(
        receiver, managed_integrations=emulator_url, secrets_manager=NOWHERE.url, cloudformation=NOWHERE.url
    )


def write_code(directory: Path, source: str, module: str = "provider") -> Path:
    """A code directory holding ``module``.py with ``source``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{module}.py").write_text(textwrap.dedent(source))
    return directory


def function_spec(code_dir: Path, **overrides: Any) -> FunctionSpec:
    values: dict[str, Any] = {
        "logical_id": "Provider",
        "function_name": "Stack-Provider",
        "arn": "arn:aws:lambda:eu-west-1:123456789012:function:Stack-Provider",
        "code_dir": str(code_dir),
        "handler": "provider.handler",
        "timeout": 30,
        "region": "eu-west-1",
    }
    values.update(overrides)
    return FunctionSpec(**values)


def create_request(properties: Mapping[str, Any] | None = None, logical_id: str = "Thing") -> CustomResourceRequest:
    return CustomResourceRequest(
        RequestType.CREATE,
        stack_id=STACK_ID,
        logical_id=logical_id,
        resource_type="Custom::Thing",
        service_token="arn:aws:lambda:eu-west-1:123456789012:function:Stack-Provider",
        properties=dict(properties or {}),
    )


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie not yet reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def log_text(log_dir: Path) -> str:
    path = log_dir / LOG_NAME
    return path.read_text() if path.exists() else ""


def kill_and_wait(pid: int) -> None:
    """SIGKILL ``pid`` and return once it is dead (a signal is delivered asynchronously)."""
    os.kill(pid, signal.SIGKILL)
    give_up = time.monotonic() + 10
    while is_running(pid) and time.monotonic() < give_up:
        time.sleep(0.01)
