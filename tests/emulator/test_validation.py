"""Requests the service rejects: answered ValidationException (400) with the x-amzn-ErrorType header.

The constraints are the model's; boto3's own parameter validation is turned off
where it would catch the mistake before the emulator sees it.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulator.support import RawClient, arn_path, make_client, thing
from managed_things_local.emulator.server import EmulatorServer


@pytest.fixture
def lax(emulator: EmulatorServer) -> Any:
    """A boto3 client that sends what it is given: the emulator alone decides."""
    return make_client(emulator.url, parameter_validation=False)


@pytest.mark.parametrize(
    ("members", "path"),
    [
        ({"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": "10"}}, "WiFiSimpleSetupConfiguration.TimeoutInMinutes"),
        ({"WiFiSimpleSetupConfiguration": {"EnableAsProvisioner": "true"}}, "EnableAsProvisioner"),
        ({"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": True}}, "TimeoutInMinutes"),
        ({"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": 10.5}}, "TimeoutInMinutes"),
        ({"WiFiSimpleSetupConfiguration": "on"}, "WiFiSimpleSetupConfiguration"),
        ({"MetaData": {"floor": 1}}, "MetaData"),
        ({"Tags": ["a", "b"]}, "Tags"),
        ({"Name": 42}, "Name"),
    ],
    ids=[
        "int-as-string",
        "bool-as-string",
        "int-as-bool",
        "int-as-float",
        "struct-as-string",
        "map-value",
        "map-as-list",
        "string-as-int",
    ],
)
def test_json_keeps_its_types(raw: RawClient, emulator: EmulatorServer, members: dict, path: str) -> None:
    # GIVEN a raw JSON body whose value has the wrong JSON type for its member
    # WHEN it is sent
    response = raw.create(thing(**members))

    # THEN it is rejected with ValidationException naming the member, and nothing is stored
    assert (response.status, response.error_type) == (400, "ValidationException")
    assert path in response.json["Message"]
    assert emulator.backend.list_things() == []


@pytest.mark.parametrize(
    ("members", "path"),
    [
        ({"Role": "HUB"}, "Role"),
        ({"AuthenticationMaterialType": "NFC"}, "AuthenticationMaterialType"),
        ({"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": 3}}, "TimeoutInMinutes"),
        ({"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": 16}}, "TimeoutInMinutes"),
        ({"Name": "x" * 129}, "Name"),
        ({"Name": ""}, "Name"),
        ({"Name": "hub/1"}, "Name"),
        ({"CredentialLockerId": "locker-1"}, "CredentialLockerId"),
        ({"Capabilities": "<xml/>"}, "Capabilities"),
        ({"MetaData": {}}, "MetaData"),
        ({"Tags": {f"k{i}": "v" for i in range(51)}}, "Tags"),
        ({"ClientToken": "not a token!"}, "ClientToken"),
        (
            {
                "CapabilitySchemas": [
                    {
                        "Format": "AWS",
                        "CapabilityId": "aws.OnOff@1.4",
                        "ExtrinsicId": "0x0006",
                        "ExtrinsicVersion": 11,
                        "Schema": {},
                    }
                ]
            },
            "CapabilitySchemas[0].ExtrinsicVersion",
        ),
        ({"CapabilitySchemas": [{"Format": "AWS"}]}, "CapabilitySchemas[0].CapabilityId"),
        ({"CapabilityReport": {"version": "2.0.0", "endpoints": []}}, "CapabilityReport.version"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_model_constraints_are_enforced(lax: Any, emulator: EmulatorServer, members: dict, path: str) -> None:
    # GIVEN a request that breaks one constraint of the model (enum, range, length, pattern, size, required)
    # WHEN boto3 sends it
    with pytest.raises(lax.exceptions.ValidationException) as raised:
        lax.create_managed_thing(**thing(**members))

    # THEN the modeled ValidationException (400) names the member, and nothing is stored
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ValidationException"
    assert path in raised.value.response["Error"]["Message"]
    assert emulator.backend.list_things() == []


@pytest.mark.parametrize("missing", ["Role", "AuthenticationMaterial", "AuthenticationMaterialType"])
def test_required_members_are_required(raw: RawClient, missing: str) -> None:
    # GIVEN a body without one of CreateManagedThing's required members
    body = thing()
    del body[missing]

    # WHEN it is sent
    response = raw.create(body)

    # THEN the service answers that the member is required
    assert (response.status, response.error_type) == (400, "ValidationException")
    assert f"{missing} is required" in response.json["Message"]


def test_every_problem_is_reported_at_once(raw: RawClient) -> None:
    # GIVEN a body with three problems
    body = thing(Role="HUB", Name="", WiFiSimpleSetupConfiguration={"TimeoutInMinutes": 99})

    # WHEN it is sent
    response = raw.create(body)

    # THEN the message counts and names all three
    message = response.json["Message"]
    assert message.startswith("3 validation errors detected")
    assert all(path in message for path in ("Role", "Name", "TimeoutInMinutes"))


def test_values_of_sensitive_members_are_not_echoed(lax: Any) -> None:
    # GIVEN a bad value for Owner, which the model marks sensitive, and one for Name, which it does not
    # WHEN they are sent
    with pytest.raises(lax.exceptions.ValidationException) as raised:
        lax.create_managed_thing(**thing(Owner="s3cr3t owner!", Name="bad/name"))

    # THEN the message names both members but shows only the non-sensitive value
    message = raw_message = raised.value.response["Error"]["Message"]
    assert "Owner" in message and "s3cr3t owner!" not in raw_message
    assert "bad/name" in message


def test_unicode_letters_are_letters_for_the_name_pattern(client: Any) -> None:
    # GIVEN a Name of letters outside ASCII, which the model's \p{L} allows
    # WHEN it is created
    created = client.create_managed_thing(**thing(Name="Salon été Küche 客厅"))

    # THEN it is accepted and stored as sent
    assert client.get_managed_thing(Identifier=created["Id"])["Name"] == "Salon été Küche 客厅"


def test_update_is_validated_against_its_own_shape(lax: Any, client: Any) -> None:
    # GIVEN a thing
    created = client.create_managed_thing(**thing())

    # WHEN it is updated with a HubNetworkMode the model does not know
    # THEN ValidationException, and the thing is unchanged
    with pytest.raises(lax.exceptions.ValidationException):
        lax.update_managed_thing(Identifier=created["Id"], HubNetworkMode="TURBO", Name="changed")
    assert "Name" not in client.get_managed_thing(Identifier=created["Id"])


def test_uri_labels_are_validated(raw: RawClient) -> None:
    # GIVEN an Identifier the model's pattern does not allow
    # WHEN it is read
    response = raw.request("GET", "/managed-things/not%20valid%21")

    # THEN ValidationException names the Identifier
    assert (response.status, response.error_type) == (400, "ValidationException")
    assert "Identifier" in response.json["Message"]


def test_tagging_operations_answer_their_modeled_request_error(lax: Any, raw: RawClient) -> None:
    # GIVEN the tagging operations, whose model lists InvalidRequestException rather than ValidationException
    # WHEN they get a malformed ARN
    response = raw.request("GET", arn_path("arn:aws:s3:::bucket"))

    # THEN they answer InvalidRequestException (400), which botocore raises as that modeled class
    assert (response.status, response.error_type) == (400, "InvalidRequestException")
    with pytest.raises(lax.exceptions.InvalidRequestException):
        lax.tag_resource(ResourceArn="arn:aws:s3:::bucket", Tags={"a": "b"})


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_refused(raw: RawClient, body: bytes) -> None:
    # GIVEN a body that is not a JSON object
    # WHEN it is sent to CreateManagedThing
    response = raw.create(body)

    # THEN ValidationException
    assert (response.status, response.error_type) == (400, "ValidationException")


def test_unknown_and_null_members_are_ignored(raw: RawClient, emulator: EmulatorServer) -> None:
    # GIVEN a body with a member the model does not have and a null member (as AWS services treat them)
    # WHEN it is sent
    response = raw.create(thing(FutureMember="x", Name=None))

    # THEN the thing is created without either
    assert response.status == 201
    (stored,) = emulator.backend.list_things()
    assert "FutureMember" not in stored and "Name" not in stored
