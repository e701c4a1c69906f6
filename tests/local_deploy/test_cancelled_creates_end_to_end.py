"""Cancelled Creates through the real provider on the local engine (issue 14): a sibling fails while two Creates
are in flight; the engine cancels them and sends their Deletes, by made-up ids, while the Creates still run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aws_cdk as cdk
import pytest
from deploy_support import device, synth
from proof_support import Harness, harness, live_things

from managed_things_local.cloudformation.requests import CustomResourceRequest, RequestType
from managed_things_local.cloudformation.service_timeout import CREATION_CANCELLED
from managed_things_local.emulator.faults import EmulatorOptions, FaultInjector
from managed_things_local.lambda_runtime.invoker import FunctionSpec, Outcome
from managed_things_local.lambda_runtime.runtime import Runtime

HOLD_SECONDS = 30.0  # how long a committed Create waits for the test at most (the old engine waited that long)


class HeldAfterCommit(FaultInjector):
    """Every Create is committed at once, then answered only when ``release`` is set."""

    def __init__(self) -> None:
        super().__init__(EmulatorOptions())
        self.release = threading.Event()

    def after_commit(self) -> None:
        self.release.wait(HOLD_SECONDS)


class Timeline:
    """A runtime that notes when each request is sent to the function and when its invocation ends."""

    def __init__(self, inner: Runtime) -> None:
        self.inner = inner
        self.entries: list[tuple[str, str, str, str]] = []  # (sent/ended, type, logical id, physical id)
        self._lock = threading.Lock()

    def invoke(self, function: FunctionSpec, request: CustomResourceRequest, log_name: str) -> Outcome:
        self._note("sent", request)
        outcome = self.inner.invoke(function, request, log_name)
        self._note("ended", request)
        return outcome

    def _note(self, what: str, request: CustomResourceRequest) -> None:
        with self._lock:
            self.entries.append((what, str(request.request_type), request.logical_id, request.physical_id or ""))

    def close(self) -> None:
        self.inner.close()

    def index(self, what: str, request_type: RequestType, construct_id: str) -> int:
        """Where the first such entry of the resource whose logical id starts with ``construct_id`` is."""
        for i, (w, t, logical_id, _) in enumerate(self.entries):
            if (w, t) == (what, request_type) and logical_id.startswith(construct_id):
                return i
        raise AssertionError(f"no {what} {request_type} of {construct_id} in {self.entries}")

    def wait_for(self, what: str, request_type: RequestType, construct_id: str) -> None:
        """Until such an entry is there (a liveness guard, not a timing assertion)."""
        give_up = time.monotonic() + HOLD_SECONDS
        while not any(
            (w, t) == (what, request_type) and lid.startswith(construct_id) for w, t, lid, _ in list(self.entries)
        ):
            assert time.monotonic() < give_up, f"no {what} {request_type} of {construct_id}"
            time.sleep(0.05)


def plugs_and_a_failing_sibling(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Fleet")
    device(stack, "Plug0", 0, name="plug-0")
    device(stack, "Plug1", 1, name="plug-1")
    sibling_name = cdk.CfnParameter(stack, "SiblingName", default="sibling").value_as_string
    device(stack, "Sibling", 90, name=sibling_name)  # "bad!name" is refused by the provider before any call


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[Harness, Timeline, HeldAfterCommit, str]]:
    cdk_out = synth(tmp_path / "cdk.out", plugs_and_a_failing_sibling)
    with harness(cdk_out, concurrency=3) as running:
        faults = HeldAfterCommit()
        running.server.responses.faults = faults
        timeline = Timeline(running.runtime)
        running.runtime = timeline  # type: ignore[assignment]
        try:
            deployment = running.deploy({"Fleet": {"SiblingName": "bad!name"}})
        finally:
            faults.release.set()
        yield running, timeline, faults, deployment.status("Fleet")


def test_a_failing_sibling_cancels_the_two_creates_in_flight_and_deletes_them_by_made_up_ids(
    deployed: tuple[Harness, Timeline, HeldAfterCommit, str],
) -> None:
    running, timeline, _, status = deployed
    output = running.outputs[-1]
    # THEN the two plugs are CREATE_FAILED "Resource creation cancelled" and the stack rolled back
    assert status == "ROLLBACK_COMPLETE", output
    for plug in ("Plug0", "Plug1"):
        assert any(plug in line and CREATION_CANCELLED in line for line in output.splitlines()), output
        # AND each got a Delete with an id made up as CloudFormation does, sent before its Create ended
        timeline.wait_for("ended", RequestType.CREATE, plug)
        delete = timeline.index("sent", RequestType.DELETE, plug)
        assert timeline.entries[delete][3].startswith(f"Fleet-{plug}")
        assert delete < timeline.index("ended", RequestType.CREATE, plug)


def test_a_cancelled_create_leaves_no_thing_behind(deployed: tuple[Harness, Timeline, HeldAfterCommit, str]) -> None:
    running, timeline, _, _ = deployed
    # WHEN the cancelled Creates end (their answers ignored)
    for plug in ("Plug0", "Plug1"):
        timeline.wait_for("ended", RequestType.CREATE, plug)
    # THEN no thing is left: what they committed was found by the made-up-id Deletes, or refused
    assert live_things(running.server) == {}
