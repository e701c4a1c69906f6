"""Synth-time validation of ManagedThing arguments: one ValueError naming every problem.

Each line of the error reads ``<construct path>: <argument>.<Member> <message> (got <value>)``;
the value is left out for members the service model marks sensitive. The
constructor raises before it builds anything, so these tests need no synth,
except where ``Tags.of`` or tokens are involved.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from cdk_managed_things import CapabilitySchemaItem, ManagedThing, Role, WiFiSimpleSetupConfiguration

from .arguments import device

HEADER = "Invalid ManagedThing:"


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Stack")


def _problems(**arguments: Any) -> list[str]:
    """The lines of the ValueError that ManagedThing(Stack, "Hub", ...) raises."""
    with pytest.raises(ValueError) as raised:
        ManagedThing(_stack(), "Hub", **arguments)
    lines = str(raised.value).splitlines()
    assert lines[0] == HEADER
    assert lines[1:], "the error names no problem"
    assert all(line.startswith("Stack/Hub: ") for line in lines[1:]), lines
    return lines[1:]


def _only_problem(problems: list[str], argument: str, *facts: str) -> None:
    """Exactly one problem, about ``argument``, stating each of ``facts`` (bounds, the size found)."""
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"Stack/Hub: {argument} must "), problems[0]
    for fact in facts:
        assert fact in problems[0], f"{fact!r} not in {problems[0]!r}"


def _schema_item(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "Format": "AWS",
        "CapabilityId": "aws.OnOff@1.4",
        "ExtrinsicId": "0x0006",
        "ExtrinsicVersion": 1,
        "Schema": {"type": "object"},
    }
    item.update(overrides)
    return item


# --- one kind of problem at a time -------------------------------------------------


def test_missing_required_argument() -> None:
    # GIVEN no role
    # WHEN the thing is built
    # THEN the error says role is required
    assert _problems(**device(role=None)) == ["Stack/Hub: role is required"]


def test_missing_required_nested_member() -> None:
    # GIVEN a capability report dict without its required version
    # WHEN the thing is built
    # THEN the error names the nested member
    assert _problems(**device(capability_report={"endpoints": []})) == [
        "Stack/Hub: capability_report.version is required"
    ]


def test_value_outside_the_enum() -> None:
    # GIVEN a role the API does not know (case matters: enums take exact strings)
    # WHEN the thing is built
    # THEN the error lists the accepted values and echoes the value
    assert _problems(**device(role="HUB")) == ["Stack/Hub: role must be one of CONTROLLER, DEVICE (got 'HUB')"]
    assert _problems(**device(role="device")) == ["Stack/Hub: role must be one of CONTROLLER, DEVICE (got 'device')"]


def test_nested_enum_in_a_dataclass() -> None:
    # GIVEN a capability schema with an unknown format
    # WHEN the thing is built
    problems = _problems(
        **device(
            capability_schemas=[
                CapabilitySchemaItem(
                    format="JSON", capability_id="aws.OnOff@1.4", extrinsic_id="6", extrinsic_version=1, schema={}
                )
            ]
        )
    )
    # THEN the error points at the item's member
    assert problems == ["Stack/Hub: capability_schemas[0].Format must be one of AWS, ZCL, CONNECTOR (got 'JSON')"]


def test_string_too_short() -> None:
    # GIVEN an empty name (the API's minimum is 1 character)
    # WHEN the thing is built
    problems = _problems(**device(name=""))
    # THEN the error gives the bounds and the length found
    _only_problem(problems, "name", "1 to 128 characters", "(got 0 characters)")


def test_string_not_matching_the_pattern() -> None:
    # GIVEN a credential locker id with characters the API's pattern refuses
    # WHEN the thing is built
    # THEN the error quotes the pattern and the value
    assert _problems(**device(credential_locker_id="locker-01!")) == [
        "Stack/Hub: credential_locker_id must match the pattern [a-zA-Z0-9]* (got 'locker-01!')"
    ]


def test_number_out_of_range() -> None:
    # GIVEN a Wi-Fi Simple Setup timeout below the API's minimum of 5
    # WHEN the thing is built
    # THEN the error is the documented one
    assert _problems(**device(wifi_simple_setup_configuration=WiFiSimpleSetupConfiguration(timeout_in_minutes=3))) == [
        "Stack/Hub: wifi_simple_setup_configuration.TimeoutInMinutes must be between 5 and 15 (got 3)"
    ]


def test_list_too_long() -> None:
    # GIVEN 41 capability schemas (the API takes at most 40)
    # WHEN the thing is built
    # THEN the error gives the bounds and counts the items
    problems = _problems(**device(capability_schemas=[_schema_item()] * 41))
    _only_problem(problems, "capability_schemas", "0 to 40", "(got 41 items)")


def test_map_too_large_or_empty() -> None:
    # GIVEN 51 tags (the API takes at most 50) and, separately, an empty meta_data map (at least 1)
    # WHEN the things are built
    # THEN each error gives the bounds and counts the entries
    too_many_tags = {f"key{i}": "value" for i in range(51)}
    _only_problem(_problems(**device(tags=too_many_tags)), "tags", "1 to 50", "(got 51 entries)")
    _only_problem(_problems(**device(meta_data={})), "meta_data", "1 to 50", "(got 0 entries)")


def test_fifty_tags_leave_no_room_for_the_providers_marker() -> None:
    # GIVEN the API's 50 tags, one of which the provider needs for its own marker
    # WHEN the thing is built
    # THEN the error gives the limit a template has, and why
    fifty = {f"key{i}": "value" for i in range(50)}
    _only_problem(
        _problems(**device(tags=fifty)), "tags", "at most 49 entries (the provider adds cdk-managed-things:resource)"
    )
    from cdk_managed_things._request import tag_problems

    assert tag_problems({f"key{i}": "value" for i in range(49)}) == []


def test_unknown_dict_key() -> None:
    # GIVEN a boto3-style dict with a misspelt member
    # WHEN the thing is built
    # THEN the error names the key and lists the members the API knows
    assert _problems(**device(wifi_simple_setup_configuration={"TimeoutMinutes": 10})) == [
        "Stack/Hub: wifi_simple_setup_configuration.TimeoutMinutes is not a known member "
        "(known: EnableAsProvisioner, EnableAsProvisionee, TimeoutInMinutes)"
    ]


def test_wrong_type() -> None:
    # GIVEN strings where the API wants an integer, a boolean and an object,
    # a float where it wants an integer and a number where it wants a string
    arguments = device(
        wifi_simple_setup_configuration={"TimeoutInMinutes": "10", "EnableAsProvisioner": "yes"},
        capability_report="report",
        capability_schemas=[_schema_item(ExtrinsicVersion=1.5)],
        name=7,
    )
    # WHEN the thing is built
    problems = _problems(**arguments)
    # THEN each is reported with the value found
    assert sorted(problems) == sorted(
        [
            "Stack/Hub: wifi_simple_setup_configuration.TimeoutInMinutes must be an integer (got '10')",
            "Stack/Hub: wifi_simple_setup_configuration.EnableAsProvisioner must be a boolean (got 'yes')",
            "Stack/Hub: capability_report must be an object (got 'report')",
            "Stack/Hub: capability_schemas[0].ExtrinsicVersion must be an integer (got 1.5)",
            "Stack/Hub: name must be a string (got 7)",
        ]
    )


def test_schema_that_is_not_json() -> None:
    # GIVEN a capability schema holding a value JSON cannot carry
    # WHEN the thing is built
    problems = _problems(**device(capability_schemas=[_schema_item(Schema={"limit": float("nan")})]))
    # THEN the error names the Schema member
    assert len(problems) == 1
    assert problems[0].startswith("Stack/Hub: capability_schemas[0].Schema must be a JSON document")


@pytest.mark.parametrize("material", ["", "x" * 513, "Küche-Wi-Fi-code", "setup\ncode"])
def test_invalid_plain_text_material(material: str) -> None:
    # GIVEN plain-text material that is empty, too long, or has characters the API refuses
    # WHEN the thing is built
    problems = _problems(**device(authentication_material=material))
    # THEN the error names authentication_material without quoting it
    assert len(problems) == 1
    assert problems[0].startswith("Stack/Hub: authentication_material must ")
    assert "(got '" not in problems[0]
    if material:
        assert material not in problems[0]


# --- authentication material: exactly one source -----------------------------------


def test_neither_material_nor_secret() -> None:
    # GIVEN no authentication material at all
    # WHEN the thing is built
    problems = _problems(**device(authentication_material=None))
    # THEN the error asks for exactly one of the two
    assert problems == [
        "Stack/Hub: authentication_material or authentication_material_secret is required, and only one of them"
    ]


def test_both_material_and_secret() -> None:
    # GIVEN plain-text material and a secret
    stack = _stack()
    secret = secretsmanager.Secret.from_secret_name_v2(stack, "Code", "hub-code")
    # WHEN the thing is built
    with pytest.raises(ValueError) as raised:
        ManagedThing(
            stack, "Hub", **device(authentication_material="Z:SECRETCODE", authentication_material_secret=secret)
        )
    # THEN the error asks for only one of the two, without quoting the material
    message = str(raised.value)
    assert message.splitlines()[1:] == [
        "Stack/Hub: authentication_material or authentication_material_secret is required, and only one of them"
    ]
    assert "SECRETCODE" not in message


# --- several problems, sensitive values, tokens ------------------------------------


def test_every_problem_lands_in_one_error() -> None:
    # GIVEN arguments with seven independent problems, two of them in one nested dict
    arguments = device(
        role="HUB",
        name="",
        credential_locker_id="locker-01!",
        wifi_simple_setup_configuration={"TimeoutInMinutes": 30, "Colour": "blue"},
        capability_schemas=[_schema_item(Format="XML"), _schema_item(ExtrinsicVersion=0)],
    )
    # WHEN the thing is built
    problems = _problems(**arguments)
    # THEN one ValueError lists all of them, one per line
    assert len(problems) == 7
    expected_starts = [
        "Stack/Hub: role must be one of",
        "Stack/Hub: name must ",
        "Stack/Hub: credential_locker_id must match the pattern",
        "Stack/Hub: wifi_simple_setup_configuration.TimeoutInMinutes must be between 5 and 15 (got 30)",
        "Stack/Hub: wifi_simple_setup_configuration.Colour is not a known member",
        "Stack/Hub: capability_schemas[0].Format must be one of AWS, ZCL, CONNECTOR (got 'XML')",
        "Stack/Hub: capability_schemas[1].ExtrinsicVersion must be between 1 and 10 (got 0)",
    ]
    for start in expected_starts:
        assert [p for p in problems if p.startswith(start)], f"missing: {start}\nin: {problems}"


def test_sensitive_values_are_never_echoed() -> None:
    # GIVEN invalid values for every member the model marks sensitive, each carrying a marker
    marker = "LEAK"
    arguments = device(
        authentication_material=f"{marker} material\u00e9",
        owner=f"{marker} owner",
        serial_number=f"{marker}!serial",
        brand=f"{marker}" * 40,
        model=f"{marker}@model",
        classification=f"{marker}" * 20,
        tags={f"{marker}-key" * 17: f"{marker}-value" * 30},
    )
    # WHEN the thing is built
    with pytest.raises(ValueError) as raised:
        ManagedThing(_stack(), "Hub", **arguments)
    message = str(raised.value)
    # THEN every one of them is reported
    for argument in ("authentication_material", "owner", "serial_number", "brand", "model", "classification"):
        assert f"Stack/Hub: {argument} must " in message, argument
    assert "Stack/Hub: tags[...] key must" in message
    assert "Stack/Hub: tags[...] must" in message
    # AND no value (nor tag key) appears in the message
    assert marker not in message


def test_tokens_are_left_for_deploy_time() -> None:
    # GIVEN values known only at deploy time: parameters and an import, for strings,
    # numbers, an enum, a sensitive member, a nested member and a tag
    stack = _stack()
    text = cdk.CfnParameter(stack, "Text").value_as_string
    number = cdk.CfnParameter(stack, "Number", type="Number").value_as_number
    role = cdk.CfnParameter(stack, "Role").value_as_string
    ManagedThing(
        stack,
        "Hub",
        **device(
            role=role,
            serial_number=text,
            name=cdk.Fn.import_value("HubName"),
            wifi_simple_setup_configuration=WiFiSimpleSetupConfiguration(timeout_in_minutes=number),
            capability_schemas=[_schema_item(ExtrinsicVersion=number, CapabilityId=text)],
            tags={"owner": text},
            meta_data={"site": cdk.Fn.import_value("Site")},
        ),
    )
    # WHEN the stack is synthesized
    template = Template.from_stack(stack)
    # THEN nothing was rejected and each token is in the template for CloudFormation to resolve
    properties = next(iter(template.find_resources("Custom::ManagedThing").values()))["Properties"]
    assert properties["Role"] == {"Ref": "Role"}
    assert properties["SerialNumber"] == {"Ref": "Text"}
    assert properties["Name"] == {"Fn::ImportValue": "HubName"}
    assert properties["WiFiSimpleSetupConfiguration"] == {"TimeoutInMinutes": {"Ref": "Number"}}
    assert properties["CapabilitySchemas"][0]["ExtrinsicVersion"] == {"Ref": "Number"}
    assert properties["CapabilitySchemas"][0]["CapabilityId"] == {"Ref": "Text"}
    assert properties["Tags"] == {"owner": {"Ref": "Text"}}
    assert properties["MetaData"] == {"site": {"Fn::ImportValue": "Site"}}


def test_tokens_do_not_hide_problems_with_literal_values() -> None:
    # GIVEN a token next to an invalid literal value
    stack = _stack()
    number = cdk.CfnParameter(stack, "Number", type="Number").value_as_number
    # WHEN the thing is built
    with pytest.raises(ValueError) as raised:
        ManagedThing(
            stack,
            "Hub",
            **device(
                serial_number=cdk.CfnParameter(stack, "Serial").value_as_string,
                wifi_simple_setup_configuration={"TimeoutInMinutes": number, "EnableAsProvisioner": "yes"},
            ),
        )
    # THEN only the literal is reported
    assert str(raised.value).splitlines()[1:] == [
        "Stack/Hub: wifi_simple_setup_configuration.EnableAsProvisioner must be a boolean (got 'yes')"
    ]


# --- tags added after construction -------------------------------------------------


def test_too_many_tags_through_tags_of_fail_synth() -> None:
    # GIVEN a thing with one tag, and 50 more added with Tags.of (51 in all), next to a valid thing
    app = cdk.App()
    stack = cdk.Stack(app, "Stack")
    hub = ManagedThing(stack, "Hub", **device(tags={"fleet": "home"}))
    ManagedThing(stack, "Fine", **device(role=Role.CONTROLLER))
    for index in range(50):
        cdk.Tags.of(hub).add(f"SECRETKEY{index}", "SECRETVALUE")
    # WHEN the app is synthesized
    with pytest.raises(Exception, match=r"(?i)tags must .*1 to 50 .*\(got 51 entries\)") as raised:
        app.synth()
    # THEN the error names the thing, not the other one, and quotes no tag
    message = str(raised.value)
    assert "Stack/Hub" in message
    assert "Stack/Fine" not in message
    assert "SECRET" not in message


def test_tag_keys_the_provider_reserves_are_refused() -> None:
    # GIVEN a thing tagged under the provider's own prefix (it tags a thing while replacing it)
    # WHEN it is declared, THEN the error names the rule, not the tag
    with pytest.raises(ValueError, match="keys starting with cdk-managed-things: are reserved") as raised:
        ManagedThing(cdk.Stack(cdk.App(), "Stack"), "Hub", **device(tags={"cdk-managed-things:mine": "SECRETVALUE"}))
    assert "SECRETVALUE" not in str(raised.value)
