"""The local answers to ``cloudformation:DescribeStacks`` and ``DescribeStackResource``: folds of the stack and resource
events, read by a real boto3 client."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from managed_things_local.cloudformation.stack_events import (
    Action,
    Phase,
    ResourceEvent,
    ResourceStatus,
    StackEvent,
    StackStatus,
)
from managed_things_local.services.stack_status import StackStatuses, StackStatusServer

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/Fleet/6a2c9a40-0000-4000-8000-000000000000"


@pytest.fixture
def statuses() -> StackStatuses:
    return StackStatuses()


@pytest.fixture
def cloudformation(statuses: StackStatuses) -> Iterator[object]:
    with StackStatusServer(statuses) as server:
        yield boto3.client(
            "cloudformation",
            endpoint_url=server.url,
            region_name="eu-west-1",
            aws_access_key_id="x",
            aws_secret_access_key="y",
        )


def test_describe_stacks_answers_the_latest_status_by_id_and_by_name(statuses: StackStatuses, cloudformation) -> None:
    # GIVEN a stack that started an update and is rolling it back
    statuses(StackEvent("Fleet", StackStatus.UPDATE_IN_PROGRESS, STACK_ID))
    statuses(StackEvent("Fleet", StackStatus.UPDATE_ROLLBACK_IN_PROGRESS, STACK_ID, "Thing: bad"))
    # WHEN the provider asks, by the StackId of its event (or by name)
    by_id = cloudformation.describe_stacks(StackName=STACK_ID)["Stacks"][0]
    by_name = cloudformation.describe_stacks(StackName="Fleet")["Stacks"][0]
    # THEN botocore's own parser reads the stack's current status
    assert (by_id["StackStatus"], by_id["StackId"], by_id["StackName"]) == (
        "UPDATE_ROLLBACK_IN_PROGRESS",
        STACK_ID,
        "Fleet",
    )
    assert by_name["StackStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS" and by_name["CreationTime"] is not None


def test_an_unknown_stack_is_cloudformations_validation_error(cloudformation) -> None:
    with pytest.raises(ClientError) as raised:
        cloudformation.describe_stacks(StackName="Nope")
    error = raised.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationError", "Stack with id Nope does not exist")


def test_other_actions_are_refused(cloudformation) -> None:
    with pytest.raises(ClientError) as raised:
        cloudformation.list_stacks()
    assert raised.value.response["Error"]["Code"] == "InvalidAction"


# --- DescribeStackResource: what a Create asks once its thing is committed ---------------------------------------


def resource_event(status: ResourceStatus, reason: str = "", physical_id: str = "") -> ResourceEvent:
    return ResourceEvent(
        "Fleet", "Plug1", "Custom::ManagedThing", "Fleet/Plug1", status, Action.CREATE, Phase.DEPLOY,
        physical_id=physical_id, reason=reason,
    )  # fmt: skip


def test_describe_stack_resource_answers_the_resources_latest_status(statuses: StackStatuses, cloudformation) -> None:
    # GIVEN a resource whose Create started, then was cancelled and deleted with a made-up id
    statuses(StackEvent("Fleet", StackStatus.CREATE_IN_PROGRESS, STACK_ID))
    statuses(resource_event(ResourceStatus.CREATE_IN_PROGRESS))
    statuses(resource_event(ResourceStatus.CREATE_FAILED, "Resource creation cancelled"))
    # WHEN the provider asks by the StackId and LogicalResourceId of its event
    detail = cloudformation.describe_stack_resource(StackName=STACK_ID, LogicalResourceId="Plug1")
    # THEN botocore's own parser reads the resource's current status, as StackResourceDetail
    detail = detail["StackResourceDetail"]
    assert (detail["ResourceStatus"], detail["ResourceStatusReason"], detail["ResourceType"]) == (
        "CREATE_FAILED",
        "Resource creation cancelled",
        "Custom::ManagedThing",
    )
    assert (detail["StackName"], detail["StackId"], detail["LogicalResourceId"]) == ("Fleet", STACK_ID, "Plug1")
    assert detail["LastUpdatedTimestamp"] is not None and "PhysicalResourceId" not in detail
    # AND later events move it on
    statuses(resource_event(ResourceStatus.DELETE_COMPLETE, physical_id="Fleet-Plug1-1A2B3C4D5E6F"))
    detail = cloudformation.describe_stack_resource(StackName="Fleet", LogicalResourceId="Plug1")["StackResourceDetail"]
    assert (detail["ResourceStatus"], detail["PhysicalResourceId"]) == ("DELETE_COMPLETE", "Fleet-Plug1-1A2B3C4D5E6F")


def test_an_unknown_resource_or_stack_is_cloudformations_validation_error(
    statuses: StackStatuses, cloudformation
) -> None:
    statuses(StackEvent("Fleet", StackStatus.CREATE_IN_PROGRESS, STACK_ID))
    errors = []
    for stack in (STACK_ID, "Nope"):
        with pytest.raises(ClientError) as raised:
            cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId="Plug9")
        errors.append((raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]))
    assert errors == [
        ("ValidationError", "Resource Plug9 does not exist for stack Fleet"),
        ("ValidationError", "Stack with id Nope does not exist"),
    ]


def test_a_stack_created_again_under_its_name_is_another_stack(statuses: StackStatuses, cloudformation) -> None:
    # GIVEN a stack whose creation failed (its Plug1 cancelled), then created again under the same name, another id,
    # where Plug1 is being created anew
    statuses(StackEvent("Fleet", StackStatus.CREATE_IN_PROGRESS, STACK_ID))
    statuses(resource_event(ResourceStatus.CREATE_IN_PROGRESS))
    statuses(resource_event(ResourceStatus.CREATE_FAILED, "Resource creation cancelled"))
    statuses(StackEvent("Fleet", StackStatus.ROLLBACK_COMPLETE, STACK_ID))
    again = STACK_ID.replace("6a2c9a40", "7b3d0b51")
    statuses(StackEvent("Fleet", StackStatus.CREATE_IN_PROGRESS, again))
    statuses(resource_event(ResourceStatus.CREATE_IN_PROGRESS))
    # WHEN a late Create of the first stack asks by its StackId, and one of the second by its own
    first = cloudformation.describe_stack_resource(StackName=STACK_ID, LogicalResourceId="Plug1")
    second = cloudformation.describe_stack_resource(StackName=again, LogicalResourceId="Plug1")
    # THEN each hears of its own stack's resource: the first was cancelled (so that Create deletes what it made)
    assert first["StackResourceDetail"]["ResourceStatus"] == "CREATE_FAILED"
    assert second["StackResourceDetail"]["ResourceStatus"] == "CREATE_IN_PROGRESS"
