"""Values through a CloudFormation template and back: model-driven typing of stringified properties."""

from __future__ import annotations

import json
from typing import Any

import pytest

from managed_thing_provider.properties import parse_properties
from managed_things_model.cfn_encoding import encode_for_template, from_cloudformation
from managed_things_model.service_model import input_shape
from unit.support import SEED_PROPERTIES, SEED_REQUEST, properties, same_json

CREATE = input_shape("CreateManagedThing")


def as_cloudformation_delivers(value: Any) -> Any:
    """What a custom resource receives for a template value: every scalar as a string."""
    if isinstance(value, dict):
        return {key: as_cloudformation_delivers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_cloudformation_delivers(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    assert value is not None, "CloudFormation rejects null in a template"
    return str(value)


def test_the_seed_event_converts_to_the_typed_request() -> None:
    # GIVEN the seed's ResourceProperties as CloudFormation delivers them (all strings)
    members = {k: v for k, v in SEED_PROPERTIES.items() if k not in ("ServiceToken", "ServiceTimeout")}
    # WHEN they are converted with the CreateManagedThing shape
    converted = from_cloudformation(CREATE, members)
    # THEN integers, booleans and the Schema document have their types again
    # (true is not 1, 0.5 stays a float, null stays)
    assert same_json(converted, SEED_REQUEST)


@pytest.mark.parametrize(
    ("shape_path", "delivered", "expected"),
    [
        (("WiFiSimpleSetupConfiguration", "TimeoutInMinutes"), "10", 10),
        (("WiFiSimpleSetupConfiguration", "TimeoutInMinutes"), " 12 ", 12),
        (("WiFiSimpleSetupConfiguration", "EnableAsProvisioner"), "true", True),
        (("WiFiSimpleSetupConfiguration", "EnableAsProvisioner"), "false", False),
        (("WiFiSimpleSetupConfiguration", "EnableAsProvisionee"), "false", False),
    ],
)
def test_scalars_are_typed_by_their_shape(shape_path: tuple[str, str], delivered: str, expected: Any) -> None:
    # GIVEN a stringified integer or boolean in a structure
    outer, inner = shape_path
    # WHEN the structure is converted
    converted = from_cloudformation(CREATE.members[outer], {inner: delivered})
    # THEN the member has the shape's type
    assert same_json(converted, {inner: expected})


def test_an_integer_in_a_list_item_is_typed() -> None:
    # GIVEN capability schemas whose ExtrinsicVersion arrives as "3"
    item = dict(SEED_PROPERTIES["CapabilitySchemas"][0], ExtrinsicVersion="3")
    # WHEN they are converted
    converted = from_cloudformation(CREATE.members["CapabilitySchemas"], [item, item])
    # THEN every item's version is an integer
    assert [schema["ExtrinsicVersion"] for schema in converted] == [3, 3]
    assert all(type(schema["ExtrinsicVersion"]) is int for schema in converted)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Name", "true"),
        ("Name", "10"),
        ("CredentialLockerId", "10"),
        ("Capabilities", "false"),
        ("Owner", "true"),
        ("MetaData", {"enabled": "true", "count": "10", "nothing": "null"}),
        ("Tags", {"Enabled": "false", "TimeoutInMinutes": "10"}),
    ],
)
def test_strings_that_look_like_numbers_or_booleans_stay_strings_where_the_shape_is_a_string(
    name: str, value: Any
) -> None:
    # GIVEN string members (and map entries named like typed members) whose text reads as a number or boolean
    # WHEN they are converted
    converted = from_cloudformation(CREATE, {name: value})
    # THEN they are unchanged: conversion follows shapes, not the look or the name of a value
    assert same_json(converted, {name: value})


def test_capability_report_strings_named_version_and_id_stay_strings() -> None:
    # GIVEN the capability report, whose "version", "nodeId" and "id" are string shapes holding digits
    report = SEED_PROPERTIES["CapabilityReport"]
    # WHEN it is converted
    converted = from_cloudformation(CREATE.members["CapabilityReport"], report)
    # THEN nothing is turned into a number
    assert same_json(converted, report)


@pytest.mark.parametrize(
    ("inner", "delivered"),
    [
        ("TimeoutInMinutes", "ten"),
        ("TimeoutInMinutes", "10.5"),
        ("TimeoutInMinutes", ""),
        ("EnableAsProvisioner", "yes"),
        ("EnableAsProvisioner", "1"),
    ],
)
def test_values_that_do_not_convert_are_left_for_validation(inner: str, delivered: str) -> None:
    # GIVEN a stringified value that is not of its shape's type
    props = properties(WiFiSimpleSetupConfiguration={inner: delivered})
    # WHEN the properties are converted and validated
    converted = from_cloudformation(CREATE.members["WiFiSimpleSetupConfiguration"], {inner: delivered})
    desired = parse_properties(props)
    # THEN the value is left as delivered, and validation reports it at its path
    assert converted == {inner: delivered}
    assert [p.path for p in desired.problems] == [f"WiFiSimpleSetupConfiguration.{inner}"]
    assert desired.problems[0].message in ("must be an integer", "must be a boolean")


def test_a_schema_that_is_not_json_text_is_left_as_a_string() -> None:
    # GIVEN a Schema delivered as text that is not JSON
    item = dict(SEED_PROPERTIES["CapabilitySchemas"][0], Schema="{not json")
    # WHEN it is converted
    converted = from_cloudformation(CREATE.members["CapabilitySchemas"], [item])
    # THEN it stays the text (a string is a valid document: the template chose it)
    assert converted[0]["Schema"] == "{not json"


def test_an_already_structured_schema_is_kept() -> None:
    # GIVEN an in-process caller passing the Schema as an object
    schema = {"revision": 4, "unit": None}
    # WHEN it is converted
    converted = from_cloudformation(CREATE.members["CapabilitySchemas"].member.members["Schema"], schema)
    # THEN it is unchanged
    assert same_json(converted, schema)


DOCUMENTS = [
    {"properties": {"OnOff": {"type": "boolean", "default": False}}, "revision": 4, "precision": 0.5, "unit": None},
    {"int": 1, "float": 1.0, "neg": -2.5e-7, "big": 12345678901234567890, "t": True, "f": False, "n": None},
    {"nested": [[1, [2.5, None]], {"x": [False, "s", {}]}, []], "empty": {}, "unicode": 'Küche "quoted"'},
    [1, "1", 1.5, True, None, [None]],
    "a bare string",
    "true",
    "10",
    "",
    42,
    0.25,
    True,
    False,
    [],
    {},
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: json.dumps(d)[:40])
def test_schema_documents_round_trip_through_a_template(document: Any) -> None:
    # GIVEN a capability schema whose Schema is an arbitrary JSON document
    item = {
        "Format": "AWS",
        "CapabilityId": "aws.OnOff@1.4",
        "ExtrinsicId": "6",
        "ExtrinsicVersion": 2,
        "Schema": document,
    }
    # WHEN it is encoded for a template, delivered by CloudFormation (scalars stringified), and decoded
    in_template = encode_for_template(CREATE, {"CapabilitySchemas": [item]})
    delivered = as_cloudformation_delivers(in_template)
    decoded = from_cloudformation(CREATE, delivered)
    # THEN the template carries the document as one JSON string, and it comes back intact, types included
    assert isinstance(in_template["CapabilitySchemas"][0]["Schema"], str)
    assert same_json(decoded, {"CapabilitySchemas": [item]})
    if isinstance(document, float):
        assert type(decoded["CapabilitySchemas"][0]["Schema"]) is float


def test_encoding_leaves_members_other_than_documents_alone() -> None:
    # GIVEN a typed request
    # WHEN it is encoded for a template
    encoded = encode_for_template(CREATE, SEED_REQUEST)
    # THEN only the Schema changed (CDK renders the rest), and it is compact JSON
    expected = json.loads(json.dumps(SEED_REQUEST))
    expected["CapabilitySchemas"][0]["Schema"] = (
        '{"properties":{"OnOff":{"type":"boolean","default":false}},"revision":4,"precision":0.5,"unit":null}'
    )
    assert same_json(encoded, expected)


def test_encoding_refuses_documents_json_cannot_carry() -> None:
    # GIVEN a Schema with NaN (not JSON)
    # WHEN it is encoded
    # THEN encoding fails instead of writing NaN into a template
    with pytest.raises(ValueError):
        encode_for_template(CREATE.members["CapabilitySchemas"], [{"Schema": {"x": float("nan")}}])


def test_absent_values_stay_absent() -> None:
    # GIVEN no value
    # WHEN encoded or converted
    # THEN it stays None (a missing Schema is not the document null)
    assert encode_for_template(CREATE, None) is None
    assert from_cloudformation(CREATE, None) is None


def test_integers_are_plain_decimal_digits_only() -> None:
    # GIVEN an integer member and strings int() would also accept
    from managed_things_model.service_model import input_shape

    shape = input_shape("CreateManagedThing").members["WiFiSimpleSetupConfiguration"].members["TimeoutInMinutes"]

    # WHEN / THEN CloudFormation's decimal strings convert, the others are left for validation to reject
    assert from_cloudformation(shape, " 10 ") == 10
    assert from_cloudformation(shape, "1_0") == "1_0"
    assert from_cloudformation(shape, "١٠") == "١٠"
