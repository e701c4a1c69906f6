"""CloudFormation's quotas checked at synth for stacks of standalone ManagedThings: error annotations on the
stack, naming it and the quota, before CloudFormation refuses the deploy."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk.assertions import Annotations, Match

from cdk_managed_things import ManagedThing
from cdk_managed_things._quotas import resource_bytes
from managed_things_model.cloudformation_quotas import custom_resource_response_bytes

from .arguments import device

EU = cdk.Environment(region="eu-west-1")


def errors(stack: cdk.Stack) -> list[str]:
    return [str(m.entry.data) for m in Annotations.from_stack(stack).find_error("*", Match.any_value())]


def stack_with_floors(floors: int, resources_per_floor: int) -> cdk.Stack:
    """A stack with a ManagedThing, and nested stacks (floors) of that many resources each."""
    root = cdk.Stack(cdk.App(), "Root", env=EU)
    ManagedThing(root, "Hub", **device())
    for index in range(floors):
        nested = cdk.NestedStack(root, f"Floor{index}")
        for resource in range(resources_per_floor):
            cdk.CfnWaitConditionHandle(nested, f"Handle{resource}")
    return root


def test_nested_stacks_of_things_over_2500_resources_in_one_operation_are_an_error_on_the_root() -> None:
    # GIVEN a stack whose nested stacks hold 6 x 430 resources (2,580 in one CloudFormation operation)
    root = stack_with_floors(6, 430)
    # WHEN synthesized  THEN the root stack is an error naming the operation's count and the quota
    found = errors(root)
    assert len(found) == 1, found
    assert found[0].startswith("Root: 2,5")
    assert "in one stack operation (the stack and its nested stacks), more than CloudFormation's 2,500" in found[0]


def test_a_stack_of_things_within_2500_resources_per_operation_has_no_error() -> None:
    assert errors(stack_with_floors(5, 400)) == []


def test_more_than_200_outputs_beside_things_are_an_error_naming_the_stack() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Devices", env=EU)
    thing = ManagedThing(stack, "Hub", **device())
    for index in range(201):
        cdk.CfnOutput(stack, f"Id{index}", value=thing.managed_thing_id)
    found = errors(stack)
    assert found == [
        "Devices: 201 outputs, more than CloudFormation's 200 per template. Split the stack. "
        "[cdk-managed-things:cloudFormationQuota]"
    ]


def test_things_whose_template_passes_1_mb_are_an_error_with_the_estimate() -> None:
    # GIVEN 30 things with 40,000 characters of Capabilities each: about 1.2 MB of template
    app = cdk.App()
    stack = cdk.Stack(app, "Devices", env=EU)
    for index in range(30):
        ManagedThing(stack, f"Thing{index}", **device(capabilities="c" * 40_000))
    found = errors(stack)
    assert len(found) == 1 and found[0].startswith("Devices: a template of about 1,2")
    assert "more than CloudFormation's 1,000,000 (1 MB)" in found[0]


def test_the_size_estimate_of_a_thing_is_what_the_template_holds() -> None:
    # GIVEN a resource as the CDK CLI writes it (JSON indented by one space)
    import json

    resource = {"Type": "Custom::ManagedThing", "Properties": {"Name": "Küche", "Capabilities": "c" * 100}}
    one = json.dumps({"Resources": {"A": resource}}, indent=1, ensure_ascii=False).encode()
    two = json.dumps({"Resources": {"A": resource, "B": resource}}, indent=1, ensure_ascii=False).encode()
    # THEN the estimate is the bytes one more such resource adds
    assert resource_bytes("B", resource) == len(two) - len(one)


def test_a_things_answer_to_cloudformation_fits_the_4096_bytes_of_a_custom_resource_response() -> None:
    # GIVEN the longest stack name (128) and logical id (255) CloudFormation allows, every field at its longest
    # (a reason of 259 characters all escaped, the model's longest Id and Arn)
    bound = custom_resource_response_bytes(stack_name_length=128, logical_id_length=255)
    # THEN the response still fits CloudFormation's 4,096 bytes
    assert 2_000 < bound <= 4_096
