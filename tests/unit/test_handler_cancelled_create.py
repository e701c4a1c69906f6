"""A cancelled or late Create leaves no thing behind (issue 14).

CloudFormation cancels the Creates in flight when a sibling fails: it marks them CREATE_FAILED and sends a Delete
whose PhysicalResourceId it made up; Lambda's queue can deliver a Create after that Delete. The Create checks
``DescribeStackResource`` once its thing is committed; the Delete finds the thing by the marker every thing carries.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import THING_ARN, THING_ID, load_event

from unit.support import (
    NEW_THING_ARN,
    NEW_THING_ID,
    RESOURCE_TAG,
    SEED,
    SEED_MARKER,
    Throttler,
    create_request,
    created,
    properties,
    request,
)

STACK_ID = SEED["StackId"]
LOGICAL_ID = SEED["LogicalResourceId"]
MADE_UP_ID = f"HomeFleet-{LOGICAL_ID}-1A2B3C4D5E6F"  # CloudFormation's id for a cancelled Create
DELETE_REQUEST_ID = "c0ffee00-5555-4c3d-9e8f-0123456789ab"
OTHER_ID = "0ther0ther01"


def token(event: dict[str, Any]) -> str:
    from managed_thing_provider.lifecycle import client_token

    return client_token(event["StackId"], event["LogicalResourceId"], event["RequestId"])


def resource_status(cloudformation: Any, status: str) -> None:
    cloudformation.stubber.add_response(
        "describe_stack_resource",
        {
            "StackResourceDetail": {
                "StackName": "HomeFleet",
                "StackId": STACK_ID,
                "LogicalResourceId": LOGICAL_ID,
                "ResourceType": "Custom::ManagedThing",
                "LastUpdatedTimestamp": "2026-11-26T08:00:00Z",
                "ResourceStatus": status,
            }
        },
        {"StackName": STACK_ID, "LogicalResourceId": LOGICAL_ID},
    )


def a_create_committing_the_thing(provider: Any) -> dict[str, Any]:
    event = load_event("create")
    provider.stubber.add_response("create_managed_thing", created(), create_request(token(event)))
    return event


# --- The Create asks, once its thing is committed --------------------------------------------------------------


@pytest.mark.parametrize("status", ["CREATE_FAILED", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"])
def test_a_create_that_cloudformation_cancelled_deletes_its_thing_and_fails(
    provider: Any, api_calls: Any, cloudformation: Any, status: str
) -> None:
    # GIVEN a Create whose thing the service commits, while CloudFormation has cancelled the resource
    event = a_create_committing_the_thing(provider)
    resource_status(cloudformation, status)
    provider.stubber.add_response("delete_managed_thing", {}, {"Identifier": THING_ID})
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN it deletes what it made and answers FAILED, naming the resource and its status
    assert api_calls.operations == ["CreateManagedThing", "DeleteManagedThing"]
    assert cloudformation.calls.calls == [
        ("DescribeStackResource", {"StackName": STACK_ID, "LogicalResourceId": LOGICAL_ID})
    ]
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(f"{LOGICAL_ID}: the resource is {status}")
    assert THING_ID in response["Reason"] and len(response["Reason"]) <= 256


@pytest.mark.parametrize(
    "message",
    [f"Stack with id {STACK_ID} does not exist", f"Resource {LOGICAL_ID} does not exist for stack HomeFleet"],
    ids=["stack gone", "resource gone"],
)
def test_a_create_delivered_after_its_stack_or_resource_is_gone_deletes_its_thing(
    provider: Any, api_calls: Any, cloudformation: Any, message: str
) -> None:
    # GIVEN a Create run late (Lambda's queue): CloudFormation answers that the stack or the resource does not exist
    event = a_create_committing_the_thing(provider)
    cloudformation.stubber.add_client_error("describe_stack_resource", "ValidationError", message, http_status_code=400)
    provider.stubber.add_response("delete_managed_thing", {}, {"Identifier": THING_ID})
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN nothing of it remains, and CloudFormation (if it still listens) hears FAILED
    assert api_calls.operations == ["CreateManagedThing", "DeleteManagedThing"]
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(f"{LOGICAL_ID}: the resource does not exist")


@pytest.mark.parametrize("status", ["CREATE_IN_PROGRESS", "CREATE_COMPLETE", "UPDATE_COMPLETE"])
def test_a_create_that_cloudformation_still_wants_keeps_its_thing(
    provider: Any, api_calls: Any, cloudformation: Any, status: str
) -> None:
    # GIVEN a Create (or a re-delivery of one already answered) of a resource CloudFormation still has
    event = a_create_committing_the_thing(provider)
    resource_status(cloudformation, status)
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the thing stays and CloudFormation hears SUCCESS
    assert api_calls.operations == ["CreateManagedThing"]
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", THING_ID)


def test_a_create_whose_resource_status_is_unknown_keeps_its_thing_with_a_warning(
    provider: Any, api_calls: Any, cloudformation: Any, caplog: Any
) -> None:
    # GIVEN CloudFormation refusing the question (no permission)
    event = a_create_committing_the_thing(provider)
    cloudformation.stubber.add_client_error("describe_stack_resource", "AccessDenied", http_status_code=403)
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the thing is kept (a cancelled Create's Delete still finds it by its marker), and a warning says why
    assert api_calls.operations == ["CreateManagedThing"]
    assert response["Status"] == "SUCCESS"
    assert any(r.levelname == "WARNING" and "DescribeStackResource" in r.getMessage() for r in caplog.records)


def test_a_create_whose_resource_status_stays_throttled_keeps_its_thing(
    provider: Any, api_calls: Any, cloudformation: Any, retry_waits: list[float]
) -> None:
    # GIVEN CloudFormation throttling every DescribeStackResource (a fleet-wide rollback)
    from managed_thing_provider import clients

    event = a_create_committing_the_thing(provider)
    # WHEN the handler runs
    with Throttler(clients._cloudformation, "DescribeStackResource", cloudformation.stubber) as throttled:
        response = provider.invoke(event)
    # THEN the status is given up within its short budget, and the thing is kept
    assert throttled.calls >= 1 and sum(retry_waits) <= clients.STACK_STATUS_SECONDS
    assert api_calls.operations == ["CreateManagedThing"]
    assert response["Status"] == "SUCCESS"


# --- The Delete of a made-up id finds it by its marker -----------------------------------------------------------


def summary(thing_id: str, **members: Any) -> dict[str, Any]:
    return {
        "Id": thing_id,
        "Arn": THING_ARN.replace(THING_ID, thing_id),
        "Role": "CONTROLLER",
        "SerialNumber": "SN-SECRET-0001",
        "Name": "Living room hub",
        "ProvisioningStatus": "UNASSOCIATED",
        **members,
    }


def tagged(thing_id: str, marker: str) -> dict[str, Any]:
    arn = THING_ARN.replace(THING_ID, thing_id)
    return {**created(thing_id, arn), "Tags": {**request()["Tags"], RESOURCE_TAG: marker}}


def made_up_delete(physical_id: str = MADE_UP_ID, **overrides: Any) -> dict[str, Any]:
    return load_event(
        "create", RequestType="Delete", RequestId=DELETE_REQUEST_ID, PhysicalResourceId=physical_id, **overrides
    )


@pytest.mark.parametrize("physical_id", [MADE_UP_ID, f"HomeFleet_{LOGICAL_ID}_AB12CD34"], ids=["cfn", "crhelper"])
def test_a_delete_of_a_made_up_id_deletes_the_thing_with_its_marker_and_only_it(
    provider: Any, api_calls: Any, physical_id: str
) -> None:
    # GIVEN things with the Delete's serial number: the one its cancelled Create made, one of another resource with
    # the same properties (another marker), one being deleted, and one whose name differs (never read)
    provider.stubber.add_response(
        "list_managed_things",
        {
            "Items": [
                summary(OTHER_ID),
                summary("g0ne00000000", ProvisioningStatus="DELETE_IN_PROGRESS"),
                summary("renamed00000", Name="Kitchen hub"),
                summary(NEW_THING_ID, Arn=NEW_THING_ARN),
            ]
        },
        {"SerialNumberFilter": "SN-SECRET-0001", "MaxResults": 1000},
    )
    provider.stubber.add_response("get_managed_thing", tagged(OTHER_ID, "f" * 32), {"Identifier": OTHER_ID})
    provider.stubber.add_response("get_managed_thing", tagged(NEW_THING_ID, SEED_MARKER), {"Identifier": NEW_THING_ID})
    provider.stubber.add_response("delete_managed_thing", {}, {"Identifier": NEW_THING_ID})
    # WHEN the Delete CloudFormation sends after cancelling the Create runs
    response = provider.invoke(made_up_delete(physical_id))
    # THEN only the thing carrying this resource's marker is deleted
    assert api_calls.operations == ["ListManagedThings", "GetManagedThing", "GetManagedThing", "DeleteManagedThing"]
    assert api_calls.params("DeleteManagedThing") == [{"Identifier": NEW_THING_ID}]
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", physical_id)


def test_the_search_reads_every_page(provider: Any, api_calls: Any) -> None:
    # GIVEN the marked thing on the second page of the listing
    provider.stubber.add_response("list_managed_things", {"Items": [], "NextToken": "page2"})
    provider.stubber.add_response(
        "list_managed_things",
        {"Items": [summary(NEW_THING_ID)]},
        {"SerialNumberFilter": "SN-SECRET-0001", "MaxResults": 1000, "NextToken": "page2"},
    )
    provider.stubber.add_response("get_managed_thing", tagged(NEW_THING_ID, SEED_MARKER), {"Identifier": NEW_THING_ID})
    provider.stubber.add_response("delete_managed_thing", {}, {"Identifier": NEW_THING_ID})
    # WHEN the made-up-id Delete runs
    response = provider.invoke(made_up_delete())
    # THEN it is found and deleted
    assert api_calls.params("DeleteManagedThing") == [{"Identifier": NEW_THING_ID}]
    assert response["Status"] == "SUCCESS"


def test_without_a_serial_number_the_search_filters_by_role(provider: Any, api_calls: Any) -> None:
    # GIVEN a Delete whose properties set neither SerialNumber, Owner nor CredentialLockerId
    props = properties(SerialNumber=None, Owner=None, CredentialLockerId=None)
    provider.stubber.add_response(
        "list_managed_things", {"Items": []}, {"RoleFilter": "CONTROLLER", "MaxResults": 1000}
    )
    # WHEN the made-up-id Delete runs
    response = provider.invoke(made_up_delete(ResourceProperties=props))
    # THEN the search is by the one filter the properties still allow
    assert api_calls.operations == ["ListManagedThings"]
    assert response["Status"] == "SUCCESS"


def test_a_delete_of_invalid_properties_searches_nothing(provider: Any, api_calls: Any) -> None:
    # GIVEN a made-up-id Delete whose properties fail validation (so its Create never called the API)
    response = provider.invoke(made_up_delete(ResourceProperties=properties(Role="KING")))
    # THEN no call, SUCCESS
    assert api_calls.calls == []
    assert response["Status"] == "SUCCESS"


# --- The marker: set on every Create, never removed, never the template's ----------------------------------------


def test_the_marker_depends_on_the_stack_and_the_resource_only(provider: Any, api_calls: Any) -> None:
    # GIVEN two deliveries of a Create with different RequestIds, and a Create of another resource
    events = [load_event("create"), load_event("create", RequestId="99999999-2222-4c3d-9e8f-0123456789ab")]
    events.append(load_event("create", LogicalResourceId="Hub2ABCDEF12"))
    for _ in events:
        provider.stubber.add_response("create_managed_thing", created())
    # WHEN each is handled
    for event in events:
        provider.invoke(event)
    # THEN the first two carry the same marker, the third another
    markers = [params["Tags"][RESOURCE_TAG] for params in api_calls.params("CreateManagedThing")]
    assert markers[0] == markers[1] == SEED_MARKER != markers[2]


def test_an_update_removing_every_template_tag_keeps_the_marker(provider: Any, api_calls: Any) -> None:
    from conftest import update_event

    # GIVEN an Update that removes the template's tags
    event = update_event(properties(), properties(Tags=None))
    provider.stubber.add_response(
        "get_managed_thing", {**tagged(THING_ID, SEED_MARKER), "Role": "CONTROLLER", "ProvisioningStatus": "ACTIVATED"}
    )
    provider.stubber.add_response("untag_resource", {})
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN only the template's keys are removed
    assert api_calls.params("UntagResource") == [{"ResourceArn": THING_ARN, "TagKeys": ["fleet", "secret-tag"]}]
    assert response["Status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({RESOURCE_TAG: "x"}, "Tags keys starting with cdk-managed-things: are reserved for the provider"),
        ({f"k{i}": "v" for i in range(50)}, "Tags must have at most 49 entries (the provider adds"),
    ],
    ids=["reserved key", "50 tags"],
)
def test_a_template_cannot_set_the_marker_nor_leave_it_no_room(
    provider: Any, api_calls: Any, tags: dict[str, str], expected: str
) -> None:
    # GIVEN a Create whose template sets a reserved key, or the API's 50 tags
    response = provider.invoke(load_event("create", ResourceProperties=properties(Tags=tags)))
    # THEN it is refused before any call, in words that name the field
    assert api_calls.calls == []
    assert response["Status"] == "FAILED"
    assert expected in response["Reason"]
