"""Create events through the real handler, its client under a botocore Stubber."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import THING_ARN, THING_ID, load_event

from managed_thing_provider.lifecycle import client_token
from managed_things_model.service_model import input_shape
from managed_things_model.validation import validate
from unit.support import (
    CREATED_AT,
    GENERATED_ID,
    RESOURCE_TAG,
    SEED,
    SEED_MARKER,
    SEED_SECRETS,
    create_request,
    created,
    leaked,
    properties,
    same_json,
)


def create_event(**overrides: Any) -> dict[str, Any]:
    return load_event("create", **overrides)


def seed_token(event: dict[str, Any]) -> str:
    return client_token(event["StackId"], event["LogicalResourceId"], event["RequestId"])


def test_create_sends_every_member_typed_and_answers_with_the_thing(provider: Any, api_calls: Any) -> None:
    # GIVEN the seed Create event (every CreateManagedThing member, stringified) and the API creating the thing
    event = create_event()
    provider.stubber.add_response("create_managed_thing", created(), create_request(seed_token(event)))
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN one CreateManagedThing call carries every member with its model type
    assert api_calls.operations == ["CreateManagedThing"]
    sent = api_calls.params("CreateManagedThing")[0]
    assert same_json(sent, create_request(seed_token(event)))
    assert sent["WiFiSimpleSetupConfiguration"]["TimeoutInMinutes"] == 10
    assert sent["WiFiSimpleSetupConfiguration"]["EnableAsProvisioner"] is True
    assert sent["WiFiSimpleSetupConfiguration"]["EnableAsProvisionee"] is False
    assert type(sent["CapabilitySchemas"][0]["ExtrinsicVersion"]) is int
    schema = sent["CapabilitySchemas"][0]["Schema"]
    assert (
        schema["unit"] is None and "unit" in schema and type(schema["precision"]) is float and schema["revision"] == 4
    )
    # AND neither ServiceToken nor ServiceTimeout is sent
    assert "ServiceToken" not in sent and "ServiceTimeout" not in sent
    # AND CloudFormation hears SUCCESS, the thing's Id as PhysicalResourceId, and string attributes
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == THING_ID
    assert response["Data"] == {"Id": THING_ID, "Arn": THING_ARN, "CreatedAt": CREATED_AT.isoformat()}
    assert all(isinstance(value, str) for value in response["Data"].values())
    assert (response["StackId"], response["RequestId"], response["LogicalResourceId"]) == (
        event["StackId"],
        event["RequestId"],
        event["LogicalResourceId"],
    )


def test_a_minimal_create_sends_only_what_the_template_sets(provider: Any, api_calls: Any) -> None:
    # GIVEN a Create with only the required properties
    props = {
        "ServiceToken": SEED["ServiceToken"],
        "Role": "DEVICE",
        "AuthenticationMaterial": "ZW:1234",
        "AuthenticationMaterialType": "ZWAVE_QR_BAR_CODE",
    }
    event = create_event(ResourceProperties=props)
    expected = {
        "ClientToken": seed_token(event),
        "Role": "DEVICE",
        "AuthenticationMaterial": "ZW:1234",
        "AuthenticationMaterialType": "ZWAVE_QR_BAR_CODE",
        "Tags": {RESOURCE_TAG: SEED_MARKER},
    }
    provider.stubber.add_response("create_managed_thing", created(), expected)
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN exactly those members are sent, and the provider's marker as the only tag
    assert api_calls.params("CreateManagedThing") == [expected]
    assert response["Status"] == "SUCCESS"


def test_the_client_token_is_derived_from_the_request_and_fits_the_model(provider: Any, api_calls: Any) -> None:
    # GIVEN the same Create twice, the same Create with another RequestId, and one for another logical id
    first = create_event()
    again = create_event()
    other_request = create_event(RequestId="99999999-1111-4c3d-9e8f-0123456789ab")
    other_resource = create_event(LogicalResourceId="Hub2ABCDEF12")
    for _ in range(4):
        provider.stubber.add_response("create_managed_thing", created())
    # WHEN each is handled
    for event in (first, again, other_request, other_resource):
        assert provider.invoke(event)["Status"] == "SUCCESS"
    # THEN the token repeats for the same event, differs otherwise, and is a valid ClientToken
    tokens = [params["ClientToken"] for params in api_calls.params("CreateManagedThing")]
    assert tokens[0] == tokens[1]
    assert len({tokens[0], tokens[2], tokens[3]}) == 3
    assert tokens[0] == seed_token(first)
    shape = input_shape("CreateManagedThing").members["ClientToken"]
    assert all(validate(shape, token) == [] for token in tokens)


def test_a_redelivered_create_sends_the_same_token_and_gets_the_same_thing(provider: Any, api_calls: Any) -> None:
    # GIVEN a Create that is delivered twice (CloudFormation retries the same RequestId)
    event = create_event()
    expected = create_request(seed_token(event))
    provider.stubber.add_response("create_managed_thing", created(), expected)
    provider.stubber.add_response("create_managed_thing", created(), expected)  # the service answers idempotently
    # WHEN both deliveries are handled
    first = provider.invoke(event)
    second = provider.invoke(create_event())
    # THEN both calls carry the same token, and both answers name the same thing
    assert (
        api_calls.params("CreateManagedThing")[0]["ClientToken"]
        == api_calls.params("CreateManagedThing")[1]["ClientToken"]
    )
    assert first["PhysicalResourceId"] == second["PhysicalResourceId"] == THING_ID


@pytest.mark.parametrize(
    ("changes", "field", "values"),
    [
        (
            {"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": "3"}},
            "WiFiSimpleSetupConfiguration.TimeoutInMinutes",
            ["3"],
        ),
        (
            {"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": "ten"}},
            "WiFiSimpleSetupConfiguration.TimeoutInMinutes",
            ["ten"],
        ),
        ({"Colour": "ultraviolet"}, "Colour", ["ultraviolet"]),
        ({"Role": "OVERLORD"}, "Role", ["OVERLORD"]),
        ({"AuthenticationMaterialType": "SMOKE_SIGNAL"}, "AuthenticationMaterialType", ["SMOKE_SIGNAL"]),
        ({"Role": None}, "Role", []),
        ({"Name": "bad*name"}, "Name", ["bad*name"]),
        ({"CapabilityReport": {"version": "9.9.9", "endpoints": []}}, "CapabilityReport.version", ["9.9.9"]),
        ({"SerialNumber": "SN*SECRET*BAD"}, "SerialNumber", ["SN*SECRET*BAD", "SECRET"]),
        ({"Tags": {"secret-tag": "x" * 300}}, "Tags", ["secret-tag", "x" * 10]),
        (
            {"AuthenticationMaterial": "WIFI:S:secret-hub;P:ünicode;;"},
            "AuthenticationMaterial",
            ["ünicode", "secret-hub"],
        ),
    ],
)
def test_invalid_input_fails_before_any_api_call(
    provider: Any, api_calls: Any, changes: dict[str, Any], field: str, values: list[str]
) -> None:
    # GIVEN a Create whose properties break the model (no API response is queued)
    event = create_event(ResourceProperties=properties(**changes))
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN it answers FAILED, naming the field and never its value, without calling the API
    assert api_calls.calls == []
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(field)
    assert len(response["Reason"]) <= 256
    assert leaked(response["Reason"], [*values, *SEED_SECRETS]) == []
    assert "(got" not in response["Reason"]
    # AND the PhysicalResourceId is crhelper's generated one: no thing exists
    assert GENERATED_ID.fullmatch(response["PhysicalResourceId"])


def test_many_invalid_properties_fit_one_reason(provider: Any, api_calls: Any) -> None:
    # GIVEN a Create with a problem in nearly every member
    props = properties(
        Role="X",
        AuthenticationMaterialType="Y",
        Owner="!" * 70,
        CredentialLockerId="-" * 70,
        SerialNumber="*",
        Brand="*",
        Model="*",
        Name="*",
        Capabilities="<>",
        Classification="",
        MetaData={},
        Tags={},
        WiFiSimpleSetupConfiguration={"TimeoutInMinutes": "99", "EnableAsProvisioner": "maybe"},
        Unknown1="a",
        Unknown2="b",
    )
    # WHEN the handler runs
    response = provider.invoke(create_event(ResourceProperties=props))
    # THEN one Reason within CloudFormation's 256 characters says how many problems there are
    assert api_calls.calls == []
    assert response["Status"] == "FAILED"
    assert len(response["Reason"]) <= 256
    assert re.fullmatch(r"1[5-9] invalid properties: .+; \(\+\d+ more\)", response["Reason"]), response["Reason"]


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        (
            "ValidationException",
            400,
            "SerialNumber SN-SECRET-0001 and Brand SecretBrand are not valid for owner platform-team",
        ),
        ("ConflictException", 409, "A managed thing with serial number SN-SECRET-0001 already exists"),
        ("AccessDeniedException", 403, "User is not authorized to perform iotmanagedintegrations:CreateManagedThing"),
        ("ServiceQuotaExceededException", 400, "Tag tag-value-secret on key secret-tag exceeds the quota"),
    ],
)
def test_api_errors_answer_failed_naming_operation_and_code_with_input_redacted(
    provider: Any, api_calls: Any, code: str, status: int, message: str
) -> None:
    # GIVEN the API refusing the Create with a message that may quote the request's values
    event = create_event()
    provider.stubber.add_client_error(
        "create_managed_thing",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        expected_params=create_request(seed_token(event)),
    )
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN CloudFormation hears FAILED with the operation and the error code, and no input value
    assert api_calls.operations == ["CreateManagedThing"]
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(f"CreateManagedThing failed: {code}")
    assert len(response["Reason"]) <= 256
    assert leaked(response["Reason"], SEED_SECRETS) == []
    assert response["Data"] == {}
    # AND a failed Create's PhysicalResourceId is crhelper's <stack>_<logical id>_<random>, never a thing id
    assert GENERATED_ID.fullmatch(response["PhysicalResourceId"]), response["PhysicalResourceId"]


def test_the_redacted_service_message_keeps_the_rest_of_its_text(provider: Any, api_calls: Any) -> None:
    # GIVEN a service message quoting the serial number
    provider.stubber.add_client_error(
        "create_managed_thing",
        service_error_code="ValidationException",
        service_message="Serial number SN-SECRET-0001 is malformed",
    )
    # WHEN the handler runs
    response = provider.invoke(create_event())
    # THEN the value is replaced, and the rest of the service's explanation stays
    assert response["Reason"] == "CreateManagedThing failed: ValidationException: Serial number *** is malformed"


def test_short_sensitive_values_are_redacted_too(provider: Any, api_calls: Any) -> None:
    # GIVEN a Create with three-character tag values and owner, and a service message quoting them
    props = properties(Owner="abc", Tags={"env": "dev"})
    provider.stubber.add_client_error(
        "create_managed_thing",
        service_error_code="ValidationException",
        service_message="Tag env=dev is reserved for owner abc",
    )
    # WHEN the handler runs
    response = provider.invoke(create_event(ResourceProperties=props))
    # THEN each of them is redacted
    assert response["Reason"] == "CreateManagedThing failed: ValidationException: Tag ***=*** is reserved for owner ***"


def test_a_long_service_message_is_cut_to_fit_a_reason(provider: Any, api_calls: Any) -> None:
    # GIVEN a service message far longer than a Reason
    provider.stubber.add_client_error(
        "create_managed_thing",
        service_error_code="ValidationException",
        service_message="word " * 200,
    )
    # WHEN the handler runs
    response = provider.invoke(create_event())
    # THEN the Reason keeps its beginning (operation and code) and fits 256 characters
    assert response["Reason"].startswith("CreateManagedThing failed: ValidationException: word")
    assert len(response["Reason"]) <= 256


def test_a_create_answer_without_created_at_still_answers_strings(provider: Any, api_calls: Any) -> None:
    # GIVEN an API answer with no CreatedAt
    provider.stubber.add_response("create_managed_thing", {"Id": THING_ID, "Arn": THING_ARN})
    # WHEN the handler runs
    response = provider.invoke(create_event())
    # THEN Data still has the three attributes, as strings
    assert response["Data"] == {"Id": THING_ID, "Arn": THING_ARN, "CreatedAt": ""}


def test_redaction_of_short_values_spares_the_words_around_them() -> None:
    # GIVEN a service message quoting a two-letter owner inside ordinary words
    from managed_thing_provider.errors import redact

    # WHEN redacting the request's values
    text = redact("Owner ab is not allowed (about: ab)", ["ab"])

    # THEN the value is gone where it stands alone, and "about" is intact
    assert text == "Owner *** is not allowed (about: ***)"
