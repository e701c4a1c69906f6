"""A cancelled Create leaves no thing behind, whichever of it and its Delete runs first (issue 14).

The real handler against the emulator and the local CloudFormation (``stack_status``), events in the order
CloudFormation and Lambda's queue can deliver them: the resource marked CREATE_FAILED ("Resource creation
cancelled"), a Delete with the id CloudFormation made up, and the Create before or after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from conftest import FakeLambdaContext, load_event

from emulator.support import make_client
from managed_things_local.cloudformation.stack_events import (
    Action,
    Phase,
    ResourceEvent,
    ResourceStatus,
    StackEvent,
    StackStatus,
)
from managed_things_local.emulator.server import EmulatorServer
from managed_things_local.services.stack_status import StackStatuses, StackStatusServer

SEED = load_event("create")
STACK_ID, LOGICAL_ID = SEED["StackId"], SEED["LogicalResourceId"]
MADE_UP_ID = f"HomeFleet-{LOGICAL_ID}-1A2B3C4D5E6F"


@dataclass
class LocalCloudFormation:
    """The real handler, reaching the emulator and the local CloudFormation; what it answered."""

    module: Any
    statuses: StackStatuses
    responses: list[dict[str, Any]] = field(default_factory=list)

    def resource(self, status: ResourceStatus, reason: str = "") -> None:
        self.statuses(
            ResourceEvent("HomeFleet", LOGICAL_ID, "Custom::ManagedThing", LOGICAL_ID, status, Action.CREATE,
                          Phase.DEPLOY, reason=reason)
        )  # fmt: skip

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.module.handler(event, FakeLambdaContext())
        return self.responses[-1]


@pytest.fixture
def local(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCloudFormation]:
    import managed_thing_provider.index as index
    from managed_thing_provider import clients

    statuses = StackStatuses()
    statuses(StackEvent("HomeFleet", StackStatus.CREATE_IN_PROGRESS, STACK_ID))
    with StackStatusServer(statuses) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", server.url)
        cloudformation = boto3.client(
            "cloudformation",
            endpoint_url=server.url,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=clients.STACK_STATUS_CONFIG,
        )
        monkeypatch.setattr(clients, "_cloudformation", cloudformation)
        monkeypatch.setattr(index, "client", make_client(emulator.url))
        recorder = LocalCloudFormation(index, statuses)
        send = index.helper._send

        def capture(status: str | None = None, reason: str = "", send_response: Any = None) -> None:
            send(status, reason, send_response=lambda _url, body, _verify: recorder.responses.append(body))

        monkeypatch.setattr(index.helper, "_send", capture)
        yield recorder


def live_things(emulator: EmulatorServer) -> list[str]:
    things = make_client(emulator.url).list_managed_things()["Items"]
    return [t["Id"] for t in things if t.get("ProvisioningStatus") not in ("DELETE_IN_PROGRESS", "DELETED")]


def made_up_delete() -> dict[str, Any]:
    return load_event("create", RequestType="Delete", RequestId="c0ffee00-6666-4c3d-9e8f-0123456789ab",
                      PhysicalResourceId=MADE_UP_ID)  # fmt: skip


def test_a_create_run_after_the_delete_that_cancelled_it_leaves_no_thing(
    local: LocalCloudFormation, emulator: EmulatorServer
) -> None:
    # GIVEN CloudFormation cancelled the Create (CREATE_FAILED) and its Delete, with a made-up id, ran first
    local.resource(ResourceStatus.CREATE_IN_PROGRESS)
    local.resource(ResourceStatus.CREATE_FAILED, "Resource creation cancelled")
    assert local.invoke(made_up_delete())["Status"] == "SUCCESS"
    local.resource(ResourceStatus.DELETE_COMPLETE)
    # WHEN the Create, queued in Lambda meanwhile, runs at last
    answer = local.invoke(load_event("create"))
    # THEN what it made is deleted again, and it answers FAILED
    assert answer["Status"] == "FAILED" and answer["Reason"].startswith(
        f"{LOGICAL_ID}: the resource is DELETE_COMPLETE"
    )
    assert live_things(emulator) == []


def test_a_create_cancelled_while_it_ran_is_found_by_its_delete(
    local: LocalCloudFormation, emulator: EmulatorServer
) -> None:
    # GIVEN a Create that committed its thing while CloudFormation still waited (its answer then ignored), and
    # another resource's thing with the same properties in another stack
    other = make_client(emulator.url)
    other.create_managed_thing(Role="CONTROLLER", SerialNumber="SN-SECRET-0001",
                               AuthenticationMaterial="x", AuthenticationMaterialType="ZWAVE_QR_BAR_CODE")  # fmt: skip
    local.resource(ResourceStatus.CREATE_IN_PROGRESS)
    created = local.invoke(load_event("create"))
    assert created["Status"] == "SUCCESS"
    # WHEN CloudFormation cancels it and sends the Delete with an id it made up
    local.resource(ResourceStatus.CREATE_FAILED, "Resource creation cancelled")
    answer = local.invoke(made_up_delete())
    # THEN the Delete finds the thing by its marker and deletes it, and only it
    assert answer["Status"] == "SUCCESS"
    assert created["PhysicalResourceId"] not in live_things(emulator)
    assert len(live_things(emulator)) == 1
