"""Update events: in place when UpdateManagedThing can, a replacement when the model says it cannot."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import THING_ARN, THING_ID, update_event

from managed_thing_provider.lifecycle import client_token
from managed_things_model.service_model import replacement_members
from unit.support import (
    CREATED_AT,
    NEW_THING_ARN,
    NEW_THING_ID,
    REPLACEMENT_OPERATIONS,
    SEED_SECRETS,
    create_request,
    created,
    leaked,
    properties,
    request,
    same_json,
    stub_replacement,
)

THING_DATA = {"Id": THING_ID, "Arn": THING_ARN, "CreatedAt": CREATED_AT.isoformat()}
NEW_THING_DATA = {"Id": NEW_THING_ID, "Arn": NEW_THING_ARN, "CreatedAt": CREATED_AT.isoformat()}


def token(event: dict[str, Any]) -> str:
    return client_token(event["StackId"], event["LogicalResourceId"], event["RequestId"])


def existing_thing(provider: Any) -> None:
    provider.stubber.add_response(
        "get_managed_thing",
        {**created(), "Role": "CONTROLLER", "ProvisioningStatus": "ACTIVATED"},
        {"Identifier": THING_ID},
    )


def stack_updating(cloudformation: Any) -> None:
    """DescribeStacks of the event's stack: a forward update, not a rollback."""
    cloudformation.stubber.add_response(
        "describe_stacks",
        {"Stacks": [{"StackName": "HomeFleet", "CreationTime": CREATED_AT, "StackStatus": "UPDATE_IN_PROGRESS"}]},
    )


def test_the_model_decides_which_members_replace_the_thing() -> None:
    # GIVEN the CreateManagedThing members UpdateManagedThing does not take
    # WHEN the provider derives them
    # THEN they are the role and the authentication material (Tags go through TagResource)
    assert replacement_members() == {"Role", "AuthenticationMaterial", "AuthenticationMaterialType"}
    # AND the API tells the role of a thing, not its material
    from managed_things_model.service_model import operation

    returned = set(operation("GetManagedThing").output_shape.members)
    assert "Role" in returned and not returned & {"AuthenticationMaterial", "AuthenticationMaterialType"}


@pytest.mark.parametrize(
    ("changes", "sent"),
    [
        ({"Name": "Kitchen hub"}, {"Name": "Kitchen hub"}),
        ({"Brand": "OtherBrand", "Model": "OtherModel"}, {"Brand": "OtherBrand", "Model": "OtherModel"}),
        (
            {
                "WiFiSimpleSetupConfiguration": {
                    "EnableAsProvisioner": "false",
                    "EnableAsProvisionee": "true",
                    "TimeoutInMinutes": "15",
                }
            },
            {
                "WiFiSimpleSetupConfiguration": {
                    "EnableAsProvisioner": False,
                    "EnableAsProvisionee": True,
                    "TimeoutInMinutes": 15,
                }
            },
        ),
        ({"MetaData": {"floor": "2", "room": "kitchen"}}, {"MetaData": {"floor": "2", "room": "kitchen"}}),
        ({"Owner": "home-team", "Classification": "Other"}, {"Owner": "home-team", "Classification": "Other"}),
    ],
)
def test_an_updatable_change_is_applied_in_place_with_only_the_changed_members(
    provider: Any, api_calls: Any, changes: dict[str, Any], sent: dict[str, Any]
) -> None:
    # GIVEN an Update changing members UpdateManagedThing takes
    event = update_event(properties(), properties(**changes))
    existing_thing(provider)
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": THING_ID, **sent})
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the thing is read and updated with just those members, typed, and kept
    assert api_calls.operations == ["GetManagedThing", "UpdateManagedThing"]
    assert same_json(api_calls.params("UpdateManagedThing")[0], {"Identifier": THING_ID, **sent})
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == THING_ID
    assert response["Data"] == THING_DATA


def test_stringified_but_equal_values_are_not_changes(provider: Any, api_calls: Any) -> None:
    # GIVEN old properties that wrote the timeout as "10" and new ones that write " 10" (same value), and a new Name
    old = properties()
    new = properties(
        Name="Kitchen hub",
        WiFiSimpleSetupConfiguration={**old["WiFiSimpleSetupConfiguration"], "TimeoutInMinutes": " 10"},
    )
    existing_thing(provider)
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": THING_ID, "Name": "Kitchen hub"})
    # WHEN the handler runs
    response = provider.invoke(update_event(old, new))
    # THEN only the Name is sent
    assert api_calls.params("UpdateManagedThing") == [{"Identifier": THING_ID, "Name": "Kitchen hub"}]
    assert response["Status"] == "SUCCESS"


def test_an_update_without_changes_only_reads_the_thing(provider: Any, api_calls: Any) -> None:
    # GIVEN an Update where only the ServiceToken changed (a new provider function)
    event = update_event(properties(), properties(ServiceToken="arn:aws:lambda:eu-west-1:123456789012:function:Other"))
    existing_thing(provider)
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN nothing is written, and the attributes are answered again
    assert api_calls.operations == ["GetManagedThing"]
    assert (response["Status"], response["PhysicalResourceId"], response["Data"]) == ("SUCCESS", THING_ID, THING_DATA)


@pytest.mark.parametrize(
    "changes",
    [
        {"Role": "DEVICE"},
        {"AuthenticationMaterial": "WIFI:S:other-hub;T:WPA;P:hunter33;;"},
        {"AuthenticationMaterialType": "CUSTOM_PROTOCOL_QR_BAR_CODE"},
        {"Role": "DEVICE", "Name": "Kitchen hub", "Tags": {"fleet": "office"}},
    ],
    ids=["Role", "AuthenticationMaterial", "AuthenticationMaterialType", "Role+Name+Tags"],
)
def test_a_change_update_cannot_make_creates_a_replacement(
    provider: Any, api_calls: Any, cloudformation: Any, changes: dict[str, Any]
) -> None:
    # GIVEN an Update changing a member UpdateManagedThing does not take (the stack updating, if asked)
    event = update_event(properties(), properties(**changes))
    existing_thing(provider)
    if "Role" not in changes:
        stack_updating(cloudformation)
    typed = {name: value for name, value in changes.items() if name not in ("Tags",)}
    expected = create_request(token(event), **typed, **({"Tags": changes["Tags"]} if "Tags" in changes else {}))
    stub_replacement(provider, token(event), expected=expected)
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the thing is read, then a new thing is created with all the new properties (the old one carrying the
    # replacement's token meanwhile), and nothing else is called
    assert api_calls.operations == REPLACEMENT_OPERATIONS
    assert same_json(api_calls.params("CreateManagedThing")[0], expected)
    # AND CloudFormation hears a new PhysicalResourceId (it deletes the old thing during cleanup)
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == NEW_THING_ID
    assert response["Data"] == NEW_THING_DATA


def test_a_replacement_token_is_that_of_the_update_request(provider: Any, api_calls: Any) -> None:
    # GIVEN the same replacing Update delivered twice, and once more with another RequestId
    old, new = properties(), properties(Role="DEVICE")
    events = [
        update_event(old, new),
        update_event(old, new),
        update_event(old, new, RequestId="77777777-2222-4c3d-9e8f-0123456789ab"),
    ]
    for _ in events:
        existing_thing(provider)
        provider.stubber.add_response("create_managed_thing", created(NEW_THING_ID, NEW_THING_ARN))
    # WHEN they are handled
    for event in events:
        provider.invoke(event)
    # THEN the redelivery reuses the token (no second replacement), a new request does not
    first, again, other = (params["ClientToken"] for params in api_calls.params("CreateManagedThing"))
    assert first == again == token(events[0])
    assert other != first


def test_changing_only_tags_tags_and_untags_in_place(provider: Any, api_calls: Any) -> None:
    # GIVEN an Update that changes one tag's value, adds one tag and removes one
    old = properties(Tags={"fleet": "home", "secret-tag": "tag-value-secret", "keep": "same"})
    new = properties(Tags={"fleet": "office", "keep": "same", "added": "new-value"})
    existing_thing(provider)
    provider.stubber.add_response("untag_resource", {}, {"ResourceArn": THING_ARN, "TagKeys": ["secret-tag"]})
    provider.stubber.add_response(
        "tag_resource", {}, {"ResourceArn": THING_ARN, "Tags": {"fleet": "office", "added": "new-value"}}
    )
    # WHEN the handler runs
    response = provider.invoke(update_event(old, new))
    # THEN only the tag diff is applied, on the thing's ARN; no UpdateManagedThing, no replacement
    assert api_calls.operations == ["GetManagedThing", "UntagResource", "TagResource"]
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == THING_ID
    assert response["Data"] == THING_DATA


@pytest.mark.parametrize(
    ("old_tags", "new_tags", "calls"),
    [
        (None, {"fleet": "home"}, ["GetManagedThing", "TagResource"]),
        ({"fleet": "home"}, None, ["GetManagedThing", "UntagResource"]),
    ],
    ids=["first tags", "all tags removed"],
)
def test_adding_the_first_tags_or_removing_all_of_them_is_in_place(
    provider: Any, api_calls: Any, old_tags: Any, new_tags: Any, calls: list[str]
) -> None:
    # GIVEN an Update that adds tags to an untagged thing, or removes every tag
    existing_thing(provider)
    if "TagResource" in calls:
        provider.stubber.add_response("tag_resource", {}, {"ResourceArn": THING_ARN, "Tags": new_tags})
    else:
        provider.stubber.add_response("untag_resource", {}, {"ResourceArn": THING_ARN, "TagKeys": list(old_tags)})
    # WHEN the handler runs
    response = provider.invoke(update_event(properties(Tags=old_tags), properties(Tags=new_tags)))
    # THEN only the tagging call is made, on the same thing
    assert api_calls.operations == calls
    assert response["PhysicalResourceId"] == THING_ID


def test_members_and_tags_changed_together_are_all_applied_in_place(provider: Any, api_calls: Any) -> None:
    # GIVEN an Update of the Name and of a tag
    existing_thing(provider)
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": THING_ID, "Name": "Kitchen hub"})
    provider.stubber.add_response("tag_resource", {}, {"ResourceArn": THING_ARN, "Tags": {"fleet": "office"}})
    new = properties(Name="Kitchen hub", Tags={"fleet": "office", "secret-tag": "tag-value-secret"})
    # WHEN the handler runs
    response = provider.invoke(update_event(properties(), new))
    # THEN both are applied to the same thing
    assert api_calls.operations == ["GetManagedThing", "UpdateManagedThing", "TagResource"]
    assert response["PhysicalResourceId"] == THING_ID


@pytest.mark.parametrize(
    ("before", "after"),
    [({"default": False}, {"default": 0}), ({"default": True}, {"default": 1}), ({"scale": 1}, {"scale": 1.0})],
    ids=["false to 0", "true to 1", "1 to 1.0"],
)
def test_a_schema_change_python_calls_equal_is_still_a_change(
    provider: Any, api_calls: Any, before: dict[str, Any], after: dict[str, Any]
) -> None:
    # GIVEN an Update whose Schema document changes between JSON types that Python's == confuses
    item = properties()["CapabilitySchemas"][0]
    old = properties(CapabilitySchemas=[{**item, "Schema": json.dumps(before)}])
    new = properties(CapabilitySchemas=[{**item, "Schema": json.dumps(after)}])
    expected = [{**request()["CapabilitySchemas"][0], "Schema": after}]
    existing_thing(provider)
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": THING_ID, "CapabilitySchemas": expected})
    # WHEN the handler runs
    response = provider.invoke(update_event(old, new))
    # THEN the new document is sent, with its own types
    assert api_calls.operations == ["GetManagedThing", "UpdateManagedThing"]
    assert same_json(api_calls.params("UpdateManagedThing")[0], {"Identifier": THING_ID, "CapabilitySchemas": expected})
    assert response["Status"] == "SUCCESS"


def test_removing_capability_schemas_clears_them_in_place(provider: Any, api_calls: Any) -> None:
    # GIVEN an Update that drops CapabilitySchemas (a list the model lets be empty)
    existing_thing(provider)
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": THING_ID, "CapabilitySchemas": []})
    # WHEN the handler runs
    response = provider.invoke(update_event(properties(), properties(CapabilitySchemas=None)))
    # THEN UpdateManagedThing is sent an empty list, on the same thing
    assert api_calls.params("UpdateManagedThing") == [{"Identifier": THING_ID, "CapabilitySchemas": []}]
    assert "CreateManagedThing" not in api_calls.operations
    assert response["PhysicalResourceId"] == THING_ID


@pytest.mark.parametrize("removed", ["Brand", "Name", "MetaData", "WiFiSimpleSetupConfiguration", "CapabilityReport"])
def test_removing_a_member_update_cannot_clear_keeps_the_thing_and_its_value(
    provider: Any, api_calls: Any, removed: str, caplog: Any
) -> None:
    # GIVEN an Update that drops a member UpdateManagedThing has no empty value for
    event = update_event(properties(), properties(**{removed: None}))
    existing_thing(provider)
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the thing is kept, with its value of the member (nothing can clear it), and a warning names the member
    assert api_calls.operations == ["GetManagedThing"]
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", THING_ID)
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "cannot clear" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].Members == [removed]


def test_the_rollback_of_an_in_place_update_is_in_place(provider: Any, api_calls: Any) -> None:
    # GIVEN the Update CloudFormation sends on rollback: the old and new properties of an in-place update swapped
    forward_new = properties(Name="Kitchen hub", Tags={"fleet": "office"}, CapabilitySchemas=None)
    rollback = update_event(forward_new, properties(), RequestId="0b6f7c1e-3333-4c3d-9e8f-0123456789ab")
    existing_thing(provider)
    provider.stubber.add_response(
        "update_managed_thing",
        {},
        {"Identifier": THING_ID, "Name": "Living room hub", "CapabilitySchemas": request()["CapabilitySchemas"]},
    )
    provider.stubber.add_response(
        "tag_resource", {}, {"ResourceArn": THING_ARN, "Tags": {"fleet": "home", "secret-tag": "tag-value-secret"}}
    )
    # WHEN the handler runs
    response = provider.invoke(rollback)
    # THEN the old values are restored on the same thing, typed (the Schema decoded again)
    assert api_calls.operations == ["GetManagedThing", "UpdateManagedThing", "TagResource"]
    assert same_json(
        api_calls.params("UpdateManagedThing")[0],
        {"Identifier": THING_ID, "Name": "Living room hub", "CapabilitySchemas": request()["CapabilitySchemas"]},
    )
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", THING_ID)


@pytest.mark.parametrize(
    "physical_id",
    ["HomeFleet_HubC5CB2B3F_AB12CD34", "HomeFleet_HubC5CB2B3F_ZZZZZZZZ", ""],
    ids=["crhelper id", "crhelper id 2", "empty"],
)
def test_an_update_of_a_resource_whose_create_failed_creates_the_thing(
    provider: Any, api_calls: Any, physical_id: str
) -> None:
    # GIVEN an Update whose PhysicalResourceId is the one crhelper made up when the Create failed,
    # changing only what could otherwise be updated in place
    event = update_event(properties(Name="bad*name"), properties(), PhysicalResourceId=physical_id)
    provider.stubber.add_response(
        "create_managed_thing", created(NEW_THING_ID, NEW_THING_ARN), create_request(token(event))
    )
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the thing is created (nothing is read or updated under a made-up id) and named
    assert api_calls.operations == ["CreateManagedThing"]
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == NEW_THING_ID
    assert response["Data"] == NEW_THING_DATA


def test_an_invalid_update_fails_without_a_call_and_keeps_the_physical_id(provider: Any, api_calls: Any) -> None:
    # GIVEN an Update to invalid properties
    event = update_event(
        properties(), properties(WiFiSimpleSetupConfiguration={"TimeoutInMinutes": "3"}, SerialNumber="SN*SECRET")
    )
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN FAILED, no call, and the same PhysicalResourceId (a changed one would mean a replacement)
    assert api_calls.calls == []
    assert response["Status"] == "FAILED"
    assert response["PhysicalResourceId"] == THING_ID
    assert (
        "WiFiSimpleSetupConfiguration.TimeoutInMinutes" in response["Reason"] and "SerialNumber" in response["Reason"]
    )
    assert leaked(response["Reason"], ["SN*SECRET", *SEED_SECRETS]) == []


@pytest.mark.parametrize(
    ("operation", "method"),
    [("GetManagedThing", "get_managed_thing"), ("UpdateManagedThing", "update_managed_thing")],
)
def test_an_api_error_during_an_in_place_update_fails_and_redacts(
    provider: Any, api_calls: Any, operation: str, method: str
) -> None:
    # GIVEN an in-place Update where the API refuses a call, quoting a new value
    if method == "update_managed_thing":
        existing_thing(provider)
    provider.stubber.add_client_error(
        method, service_error_code="ValidationException", service_message="Brand NewSecretBrand is not allowed"
    )
    # WHEN the handler runs
    response = provider.invoke(update_event(properties(), properties(Brand="NewSecretBrand")))
    # THEN FAILED names the operation and code, not the value, and keeps the PhysicalResourceId
    assert response["Status"] == "FAILED"
    assert response["Reason"] == f"{operation} failed: ValidationException: Brand *** is not allowed"
    assert response["PhysicalResourceId"] == THING_ID


def test_an_untag_error_quoting_a_removed_tag_key_is_redacted(provider: Any, api_calls: Any) -> None:
    # GIVEN an Update removing a tag, and UntagResource refusing with a message quoting the removed key
    existing_thing(provider)
    provider.stubber.add_client_error(
        "untag_resource", service_error_code="ValidationException", service_message="Tag key secret-tag is reserved"
    )
    old = properties()
    new = properties(Tags={"fleet": "home"})
    # WHEN the handler runs
    response = provider.invoke(update_event(old, new))
    # THEN the removed key (present only in the old properties) is redacted too
    assert response["Reason"] == "UntagResource failed: ValidationException: Tag key *** is reserved"


def test_a_failed_replacement_keeps_the_old_physical_id(provider: Any, api_calls: Any) -> None:
    # GIVEN a replacing Update whose CreateManagedThing fails
    existing_thing(provider)
    provider.stubber.add_client_error(
        "create_managed_thing", service_error_code="AccessDeniedException", http_status_code=403
    )
    # WHEN the handler runs
    response = provider.invoke(update_event(properties(), properties(Role="DEVICE")))
    # THEN FAILED with the old id: CloudFormation keeps the old thing
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("CreateManagedThing failed: AccessDeniedException")
    assert response["PhysicalResourceId"] == THING_ID
