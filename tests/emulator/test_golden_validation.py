"""Golden cases: what the emulator answers, written by hand from the service model.

Each expected message below was written from the model's shapes (botocore's
``iot-managed-integrations`` ``service-2.json``: ``Role`` is the enum
CONTROLLER | DEVICE, ``Name`` is 1 to 128 characters of ``[\\p{L}\\p{N} ._-]+``,
``TimeoutInMinutes`` is 5 to 15, ``TagsMap`` has 1 to 50 entries and is sensitive,
``CapabilitySchemaItem.ExtrinsicVersion`` is 1 to 10, ...), never computed by the
code under test. So they hold the emulator to the model, and the last tests show
that the emulator still rejects what the model forbids when the shared validator
(the construct's and the provider's) is broken.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import load_event

from emulator.support import RawClient, make_client, thing
from managed_thing_provider.errors import ProviderError
from managed_thing_provider.lifecycle import client_token, create_thing
from managed_thing_provider.properties import parse_properties
from managed_things_local.emulator.server import EmulatorServer
from managed_things_model import validation as shared_validation

ONE = "1 validation error detected: "
SCHEMA_ITEM = {"Format": "AWS", "CapabilityId": "aws.OnOff@1.4", "ExtrinsicId": "0x0006", "ExtrinsicVersion": 1}
CAPABILITIES_PATTERN = r"[a-zA-Z0-9\s'\x{0022},.:\\\/{$}\[\]=_\-\+]+"

REJECTED: list[tuple[str, dict[str, Any], str]] = [
    # wrong enum value
    ("enum", {"Role": "HUB"}, ONE + "Role must be one of CONTROLLER, DEVICE (got 'HUB')"),
    (
        "enum-nested-in-a-list",
        {"CapabilitySchemas": [{**SCHEMA_ITEM, "Format": "XML", "Schema": {}}]},
        ONE + "CapabilitySchemas[0].Format must be one of AWS, ZCL, CONNECTOR (got 'XML')",
    ),
    # lengths
    ("too-long", {"Name": "x" * 129}, ONE + "Name must be 1 to 128 characters long (got 129 characters)"),
    ("too-short", {"Name": ""}, ONE + "Name must be 1 to 128 characters long (got 0 characters)"),
    # patterns
    ("pattern", {"Name": "hub/1"}, ONE + r"Name must match the pattern [\p{L}\p{N} ._-]+ (got 'hub/1')"),
    (
        "pattern-locker",
        {"CredentialLockerId": "locker-1"},
        ONE + "CredentialLockerId must match the pattern [a-zA-Z0-9]* (got 'locker-1')",
    ),
    (
        "pattern-literal",
        {"CapabilityReport": {"version": "2.0.0", "endpoints": []}},
        ONE + r"CapabilityReport.version must match the pattern 1\.0\.0 (got '2.0.0')",
    ),
    (
        "pattern-code-point",
        {"Capabilities": "<xml/>"},
        ONE + f"Capabilities must match the pattern {CAPABILITIES_PATTERN} (got '<xml/>')",
    ),
    ("pattern-sensitive", {"SerialNumber": "SN#1"}, ONE + "SerialNumber must match the pattern [A-Za-z0-9-_ ]+"),
    # ranges
    (
        "below-range",
        {"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": 4}},
        ONE + "WiFiSimpleSetupConfiguration.TimeoutInMinutes must be between 5 and 15 (got 4)",
    ),
    (
        "above-range",
        {"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": 16}},
        ONE + "WiFiSimpleSetupConfiguration.TimeoutInMinutes must be between 5 and 15 (got 16)",
    ),
    (
        "above-range-in-a-list",
        {"CapabilitySchemas": [{**SCHEMA_ITEM, "ExtrinsicVersion": 11, "Schema": {}}]},
        ONE + "CapabilitySchemas[0].ExtrinsicVersion must be between 1 and 10 (got 11)",
    ),
    # sizes (a sensitive map's size is no secret; its keys and values are)
    ("too-many", {"Tags": {f"k{i}": "v" for i in range(51)}}, ONE + "Tags must have 1 to 50 entries (got 51 entries)"),
    ("too-few", {"MetaData": {}}, ONE + "MetaData must have 1 to 50 entries (got 0 entries)"),
    (
        "too-long-tag-value",
        {"Tags": {"k": "v" * 257}},
        ONE + "Tags[...] must be 0 to 256 characters long (got 257 characters)",
    ),
    # required members
    (
        "missing-required-nested",
        {"CapabilityReport": {"version": "1.0.0"}},
        ONE + "CapabilityReport.endpoints is required",
    ),
    # wrong JSON types
    (
        "int-as-string",
        {"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": "10"}},
        ONE + "WiFiSimpleSetupConfiguration.TimeoutInMinutes must be an integer (got '10')",
    ),
    (
        "int-as-bool",
        {"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": True}},
        ONE + "WiFiSimpleSetupConfiguration.TimeoutInMinutes must be an integer (got True)",
    ),
    (
        "bool-as-string",
        {"WiFiSimpleSetupConfiguration": {"EnableAsProvisioner": "true"}},
        ONE + "WiFiSimpleSetupConfiguration.EnableAsProvisioner must be a boolean (got 'true')",
    ),
    ("map-value", {"MetaData": {"floor": 1}}, ONE + "MetaData['floor'] must be a string (got 1)"),
    ("string-as-int", {"Name": 42}, ONE + "Name must be a string (got 42)"),
    ("struct-as-string", {"CapabilityReport": "on"}, ONE + "CapabilityReport must be an object (got 'on')"),
    ("sensitive-wrong-type", {"Owner": 7}, ONE + "Owner must be a string"),
    # several problems: all of them, in the model's member order
    (
        "several",
        {"Role": "HUB", "Name": "", "WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": 99}},
        "3 validation errors detected: Role must be one of CONTROLLER, DEVICE (got 'HUB'); "
        "WiFiSimpleSetupConfiguration.TimeoutInMinutes must be between 5 and 15 (got 99); "
        "Name must be 1 to 128 characters long (got 0 characters)",
    ),
]

ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("enum", {"Role": "CONTROLLER", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE"}),
    ("unicode-letters", {"Name": "Salon été Küche 客厅"}),
    ("unicode-digits", {"Name": "Raum ٣"}),  # Arabic-Indic three is \p{N}
    ("longest-name", {"Name": "x" * 128}),
    ("range-bounds", {"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": 5, "EnableAsProvisioner": True}}),
    ("range-top", {"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": 15}}),
    ("code-point-in-pattern", {"Capabilities": '{"onOff": "1"}'}),  # \x{0022} is the double quote
    ("most-tags", {"Tags": {f"k{i}": "" for i in range(50)}}),
    ("literal-pattern", {"CapabilityReport": {"version": "1.0.0", "endpoints": []}}),
    ("schema-document", {"CapabilitySchemas": [{**SCHEMA_ITEM, "ExtrinsicVersion": 10, "Schema": {"a": [1, None]}}]}),
]


@pytest.mark.parametrize(("members", "message"), [case[1:] for case in REJECTED], ids=[case[0] for case in REJECTED])
def test_the_emulator_rejects_what_the_model_forbids(
    raw: RawClient, emulator: EmulatorServer, members: dict[str, Any], message: str
) -> None:
    # GIVEN a CreateManagedThing body that breaks the model as the case says
    # WHEN it is sent as raw JSON
    response = raw.create(thing(**members))

    # THEN 400 ValidationException, whose body is the modeled error shape with exactly this message
    assert (response.status, response.error_type) == (400, "ValidationException")
    assert response.json == {"Message": message}
    # AND nothing is stored
    assert emulator.backend.list_things() == []


def test_a_missing_required_member_is_named(raw: RawClient) -> None:
    # GIVEN a body without AuthenticationMaterialType, which CreateManagedThing requires
    body = thing()
    del body["AuthenticationMaterialType"]

    # WHEN it is sent
    response = raw.create(body)

    # THEN exactly this message
    assert (response.status, response.json) == (400, {"Message": ONE + "AuthenticationMaterialType is required"})


@pytest.mark.parametrize("members", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED])
def test_the_emulator_accepts_what_the_model_allows(
    raw: RawClient, emulator: EmulatorServer, members: dict[str, Any]
) -> None:
    # GIVEN a CreateManagedThing body within every constraint, at the edges the case names
    # WHEN it is sent
    response = raw.create(thing(**members))

    # THEN the thing is created
    assert response.status == 201, response.json
    assert len(emulator.backend.list_things()) == 1


# --- a broken shared validator ---------------------------------------------------------------------------


@pytest.fixture
def broken_shared_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The validator the construct and the provider share, broken to accept everything."""
    monkeypatch.setattr(shared_validation, "_problems", lambda *args, **kwargs: iter(()))


BROKEN_THROUGH = [
    ("enum", {"Role": "HUB"}, "Role must be one of CONTROLLER, DEVICE"),
    ("above-range", {"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": 16}}, "must be between 5 and 15"),
    ("pattern", {"Name": "hub/1"}, "Name must match the pattern"),
]


@pytest.mark.parametrize(
    ("members", "reason"), [case[1:] for case in BROKEN_THROUGH], ids=[case[0] for case in BROKEN_THROUGH]
)
@pytest.mark.usefixtures("broken_shared_validator")
def test_a_broken_shared_validator_is_caught_by_the_emulator(
    emulator: EmulatorServer, members: dict[str, Any], reason: str
) -> None:
    # GIVEN the shared validator broken, so the provider's parsing lets an invalid thing through
    # (botocore's own client checks know no enum, maximum or pattern, so the request is sent)
    event = load_event("create")
    desired = parse_properties({**thing(**members), "ServiceToken": "arn:aws:lambda:eu-west-1:1:function:f"})
    assert desired.problems == []

    # WHEN the provider creates it against the emulator
    # THEN the emulator rejects it, as the service would, and the provider answers FAILED with the reason
    with pytest.raises(ProviderError, match=reason) as raised:
        token = client_token(event["StackId"], event["LogicalResourceId"], event["RequestId"])
        create_thing(make_client(emulator.url), desired, token, lambda arn: "")
    assert "ValidationException" in str(raised.value)
    assert emulator.backend.list_things() == []


@pytest.mark.usefixtures("broken_shared_validator")
def test_a_broken_shared_validator_does_not_change_the_emulators_answers(raw: RawClient) -> None:
    # GIVEN the shared validator broken to accept everything
    # WHEN every golden rejection is sent again
    answers = [raw.create(thing(**members)) for _, members, _ in REJECTED]

    # THEN each still gets its golden message
    assert [(r.status, r.json) for r in answers] == [(400, {"Message": message}) for _, _, message in REJECTED]
