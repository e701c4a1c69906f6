"""A ``Schema`` document holding deploy-time values (tokens) reaches the provider as valid JSON.

CloudFormation resolves the template's intrinsics, the provider decodes the JSON string: this
module does both (a small evaluator of ``Ref``, ``Fn::Join`` and ``Fn::Split``, then the
provider's own ``from_cloudformation``), with parameter values JSON must escape.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_managed_things import ManagedThing
from managed_things_model.cfn_encoding import from_cloudformation
from managed_things_model.service_model import input_shape

from .arguments import device

AWKWARD_VALUES = [
    'say "hi"',
    "C:\\temp\\new",
    "ends with a backslash \\",
    '\\"both\\"',
    "line one\nline two\ttabbed",
    "plain",
    "",
]


def resolve(value: Any, parameters: dict[str, str]) -> Any:
    """What CloudFormation makes of ``value``: Ref, Fn::Join and Fn::Split evaluated."""
    if isinstance(value, list):
        return [resolve(item, parameters) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return parameters[value["Ref"]]
    if set(value) == {"Fn::Join"}:
        delimiter, items = value["Fn::Join"]
        return delimiter.join(resolve(items, parameters))
    if set(value) == {"Fn::Split"}:
        delimiter, source = value["Fn::Split"]
        return resolve(source, parameters).split(delimiter)
    return {key: resolve(item, parameters) for key, item in value.items()}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app = cdk.App()
    stack = cdk.Stack(app, "Tokens")
    label = cdk.CfnParameter(stack, "Label").value_as_string
    unit = cdk.CfnParameter(stack, "Unit").value_as_string
    schema = {"description": label, "nested": {"unit": unit, "items": [label, 'literal "quoted"']}, "n": 1.5}
    ManagedThing(
        stack,
        "Thing",
        **device(
            capability_schemas=[
                {
                    "Format": "AWS",
                    "CapabilityId": "aws.OnOff@1.4",
                    "ExtrinsicId": "0x0006",
                    "ExtrinsicVersion": 1,
                    "Schema": schema,
                }
            ]
        ),
    )
    return Template.from_stack(stack).to_json()


@pytest.mark.parametrize("value", AWKWARD_VALUES)
def test_a_schema_with_tokens_decodes_to_the_document_with_the_deployed_values(
    template: dict[str, Any], value: str
) -> None:
    # GIVEN a Schema whose strings hold parameter values, deployed with a value JSON must escape
    (thing,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::ManagedThing"]
    encoded = thing["Properties"]["CapabilitySchemas"][0]["Schema"]
    # WHEN CloudFormation resolves the property and the provider decodes it
    delivered = resolve(encoded, {"Label": value, "Unit": value + "\\u0041"})
    assert isinstance(delivered, str)
    shape = input_shape("CreateManagedThing").members["CapabilitySchemas"].member.members["Schema"]
    decoded = from_cloudformation(shape, delivered)
    # THEN it is the document given, with the deployed values verbatim
    assert decoded == {
        "description": value,
        "nested": {"unit": value + "\\u0041", "items": [value, 'literal "quoted"']},
        "n": 1.5,
    }
