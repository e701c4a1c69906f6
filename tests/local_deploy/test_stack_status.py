"""The local answer to ``cloudformation:DescribeStacks``: a fold of the stack events, read by a real boto3 client."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from managed_things_local.deploy.stack_events import StackEvent, StackStatus
from managed_things_local.deploy.stack_status import StackStatuses, StackStatusServer

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
