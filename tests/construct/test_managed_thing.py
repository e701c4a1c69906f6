"""The ManagedThing construct as CloudFormation sees it: resources, properties, IAM, tags, annotations.

One app with two stacks is built and synthesized once for the whole module:

* ``Fleet``: ``Hub`` (every argument: dataclasses, enum members, RETAIN),
  ``HubDicts`` (the same as boto3 dicts), ``HubStrings`` (the same with enum
  strings), ``Lock`` (material from a Secrets Manager secret), ``Group/Sensor``
  (a minimal thing in a nested scope), plus a secret that no thing uses;
  ``Tags.of(Hub)`` and ``Tags.of(Fleet)`` add tags.
* ``Garage``: one minimal ``Door``, to show that each stack gets its own provider.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Annotations, Match, Template
from botocore import xform_name
from conftest import REPO_ROOT

from cdk_managed_things import ManagedThing
from constructs import Construct
from managed_things_model.service_model import service_model

from .arguments import (
    EXPECTED_PROPERTIES,
    EXPECTED_SCHEMAS,
    MATERIAL,
    device,
    every_argument,
    every_argument_as_dicts,
    every_argument_as_strings,
)

PROVIDER_SOURCE = REPO_ROOT / "lambda" / "managed_thing_provider"
THING_TYPE = "Custom::ManagedThing"
HANDLER = "managed_thing_provider.index.handler"
FUNCTION_TIMEOUT_SECONDS = 120
SERVICE_TIMEOUT_SECONDS = 300
RUNTIME = "python3.14"
THING_ARN_PATTERN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":iotmanagedintegrations:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":managed-thing/*",
        ],
    ]
}
LOCKER_ARN_PATTERN = json.loads(json.dumps(THING_ARN_PATTERN).replace(":managed-thing/*", ":credential-locker/*"))


@dataclass
class Synthesized:
    fleet: cdk.Stack
    garage: cdk.Stack
    things: dict[str, ManagedThing]
    lock_secret: secretsmanager.Secret
    unused_secret: secretsmanager.Secret
    fleet_template: Template
    garage_template: Template

    def logical_id(self, name: str) -> str:
        thing = self.things[name]
        return cdk.Stack.of(thing).get_logical_id(cfn_resource(thing))

    def resource(self, name: str) -> dict[str, Any]:
        """The thing's resource in its stack's synthesized template."""
        stack_name = cdk.Stack.of(self.things[name]).stack_name
        template = {"Fleet": self.fleet_template, "Garage": self.garage_template}[stack_name]
        return template.to_json()["Resources"][self.logical_id(name)]

    def properties(self, name: str) -> dict[str, Any]:
        return self.resource(name)["Properties"]


def cfn_resource(thing: ManagedThing) -> cdk.CfnResource:
    """The thing's CloudFormation resource: its "Resource" child (an L1, or an L2 wrapping one)."""
    resource = thing.node.find_child("Resource")
    if isinstance(resource, cdk.CfnResource):
        return resource
    default_child = resource.node.default_child
    assert isinstance(default_child, cdk.CfnResource)
    return default_child


@pytest.fixture(scope="module")
def synthesized() -> Synthesized:
    app = cdk.App()
    fleet = cdk.Stack(app, "Fleet")
    lock_secret = secretsmanager.Secret(fleet, "LockCode")
    unused_secret = secretsmanager.Secret(fleet, "Unrelated")
    things = {
        "Hub": ManagedThing(fleet, "Hub", **every_argument()),
        "HubDicts": ManagedThing(fleet, "HubDicts", **every_argument_as_dicts()),
        "HubStrings": ManagedThing(fleet, "HubStrings", **every_argument_as_strings()),
        "Lock": ManagedThing(
            fleet, "Lock", **device(authentication_material=None, authentication_material_secret=lock_secret)
        ),
    }
    cdk.Tags.of(things["Hub"]).add("room", "kitchen")
    cdk.Tags.of(fleet).add("team", "iot")
    things["Sensor"] = ManagedThing(Construct(fleet, "Group"), "Sensor", **device())
    garage = cdk.Stack(app, "Garage")
    things["Door"] = ManagedThing(garage, "Door", **device())
    return Synthesized(
        fleet=fleet,
        garage=garage,
        things=things,
        lock_secret=lock_secret,
        unused_secret=unused_secret,
        fleet_template=Template.from_stack(fleet),
        garage_template=Template.from_stack(garage),
    )


def _only(resources: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assert len(resources) == 1, f"expected exactly one resource, got {sorted(resources)}"
    return next(iter(resources.items()))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: Template) -> list[dict[str, Any]]:
    _, policy = _only(template.find_resources("AWS::IAM::Policy"))
    return policy["Properties"]["PolicyDocument"]["Statement"]


# --- the resource ------------------------------------------------------------------


def test_each_thing_is_one_custom_managed_thing_named_resource(synthesized: Synthesized) -> None:
    # GIVEN the Fleet stack with five things and the Garage stack with one
    # WHEN it is synthesized
    # THEN each thing is one Custom::ManagedThing under the thing's child "Resource"
    synthesized.fleet_template.resource_count_is(THING_TYPE, 5)
    synthesized.garage_template.resource_count_is(THING_TYPE, 1)
    for name, thing in synthesized.things.items():
        resource = cfn_resource(thing)
        assert resource.node.path.startswith(f"{thing.node.path}/Resource"), resource.node.path
        assert resource.cfn_resource_type == THING_TYPE
        assert synthesized.resource(name)["Type"] == THING_TYPE


def test_every_argument_reaches_the_template(synthesized: Synthesized) -> None:
    # GIVEN Hub, built with every argument
    # WHEN the stack is synthesized
    properties = synthesized.properties("Hub")
    # THEN every API member is in the template as written (Schema checked on its own)
    found = {k: v for k, v in properties.items() if k not in ("ServiceToken", "ServiceTimeout", "Tags")}
    found["CapabilitySchemas"] = [
        {k: v for k, v in item.items() if k != "Schema"} for item in found["CapabilitySchemas"]
    ]
    assert found == EXPECTED_PROPERTIES


def test_schema_documents_are_json_encoded_exactly_as_written(synthesized: Synthesized) -> None:
    # GIVEN capability schemas whose documents hold null, floats, booleans, unicode and a bare array
    # WHEN the stack is synthesized
    schemas = [item["Schema"] for item in synthesized.properties("Hub")["CapabilitySchemas"]]
    # THEN each Schema is a JSON string that decodes to exactly the document given
    assert all(isinstance(schema, str) for schema in schemas)
    decoded = [json.loads(schema) for schema in schemas]
    assert decoded == EXPECTED_SCHEMAS
    # (== treats 1 and 1.0 alike: the types must survive too)
    assert json.dumps(decoded, sort_keys=True) == json.dumps(EXPECTED_SCHEMAS, sort_keys=True)


def test_plain_dicts_and_dataclasses_give_the_same_template(synthesized: Synthesized) -> None:
    # GIVEN HubDicts: Hub's arguments as boto3-shaped dicts
    # WHEN the stack is synthesized
    # THEN its properties are Hub's (apart from the Tags.of tag only Hub has)
    hub, dicts = synthesized.properties("Hub"), synthesized.properties("HubDicts")
    assert {k: v for k, v in dicts.items() if k != "Tags"} == {k: v for k, v in hub.items() if k != "Tags"}
    assert dicts["Tags"] == {"fleet": "home", "team": "iot"}


def test_enum_members_and_exact_strings_give_the_same_template(synthesized: Synthesized) -> None:
    # GIVEN HubStrings: Hub's arguments with every enum as its API string
    # WHEN the stack is synthesized
    # THEN its properties are Hub's
    hub, strings = synthesized.properties("Hub"), synthesized.properties("HubStrings")
    assert {k: v for k, v in strings.items() if k != "Tags"} == {k: v for k, v in hub.items() if k != "Tags"}


def test_attributes_are_the_custom_resource_attributes(synthesized: Synthesized) -> None:
    # GIVEN Hub
    hub, fleet = synthesized.things["Hub"], synthesized.fleet
    logical_id = synthesized.logical_id("Hub")
    # WHEN its attributes are resolved
    # THEN they read the Id, Arn and CreatedAt the provider returns
    assert fleet.resolve(hub.managed_thing_id) == {"Fn::GetAtt": [logical_id, "Id"]}
    assert fleet.resolve(hub.managed_thing_arn) == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert fleet.resolve(hub.created_at) == {"Fn::GetAtt": [logical_id, "CreatedAt"]}


def test_custom_resources_give_cloudformation_a_300_second_service_timeout(synthesized: Synthesized) -> None:
    # GIVEN every thing of both stacks
    # WHEN they are synthesized
    # THEN each custom resource tells CloudFormation to wait at most 300 seconds
    for template in (synthesized.fleet_template, synthesized.garage_template):
        for logical_id, resource in template.find_resources(THING_TYPE).items():
            assert str(resource["Properties"]["ServiceTimeout"]) == str(SERVICE_TIMEOUT_SECONDS), logical_id


def test_removal_policy_retain_keeps_the_thing(synthesized: Synthesized) -> None:
    # GIVEN Hub with removal_policy=RETAIN and Lock with the default
    # WHEN the stack is synthesized
    hub, lock = synthesized.resource("Hub"), synthesized.resource("Lock")
    # THEN Hub is retained on delete and replacement, Lock is deleted (CloudFormation's default)
    assert (hub["DeletionPolicy"], hub["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert (lock.get("DeletionPolicy", "Delete"), lock.get("UpdateReplacePolicy", "Delete")) == ("Delete", "Delete")


def test_each_thing_depends_on_the_provider_role_and_its_policy(synthesized: Synthesized) -> None:
    # GIVEN the things of both stacks
    for template in (synthesized.fleet_template, synthesized.garage_template):
        role_id, _ = _only(template.find_resources("AWS::IAM::Role"))
        policy_id, policy = _only(template.find_resources("AWS::IAM::Policy"))
        # WHEN they are synthesized
        # THEN each thing is created after, and deleted before, the role's DefaultPolicy
        for logical_id, resource in template.find_resources(THING_TYPE).items():
            assert policy_id in resource.get("DependsOn", []), logical_id
        # and the policy refers to the role, so the role outlives the policy in turn
        assert policy["Properties"]["Roles"] == [{"Ref": role_id}]


# --- one provider per stack --------------------------------------------------------


def test_one_provider_function_per_stack(synthesized: Synthesized) -> None:
    # GIVEN five things in Fleet (one in a nested scope) and one in Garage
    # WHEN both stacks are synthesized
    # THEN each stack has exactly one provider: function, role, log group and invoke config
    for template in (synthesized.fleet_template, synthesized.garage_template):
        template.resource_count_is("AWS::Lambda::Function", 1)
        template.resource_count_is("AWS::Lambda::EventInvokeConfig", 1)
        template.resource_count_is("AWS::IAM::Role", 1)
        template.resource_count_is("AWS::Logs::LogGroup", 1)
        # AND every thing of the stack is served by that stack's own function (no cross-stack import)
        function_id, _ = _only(template.find_resources("AWS::Lambda::Function"))
        for logical_id, resource in template.find_resources(THING_TYPE).items():
            assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}, logical_id
        assert "Fn::ImportValue" not in json.dumps(template.to_json())


def test_provider_function_properties(synthesized: Synthesized) -> None:
    # GIVEN the Fleet stack
    template = synthesized.fleet_template
    role_id, _ = _only(template.find_resources("AWS::IAM::Role"))
    log_group_id, log_group = _only(template.find_resources("AWS::Logs::LogGroup"))
    # WHEN it is synthesized
    # THEN the function runs the provider's handler with the stack's role, logging to its own log group
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": HANDLER,
            "Runtime": RUNTIME,
            "Timeout": FUNCTION_TIMEOUT_SECONDS,
            "Role": {"Fn::GetAtt": [role_id, "Arn"]},
            "LoggingConfig": {"LogGroup": {"Ref": log_group_id}},
        },
    )
    assert log_group["Properties"]["RetentionInDays"] > 0
    # AND the function answers before CloudFormation gives up waiting
    assert FUNCTION_TIMEOUT_SECONDS < SERVICE_TIMEOUT_SECONDS


def test_provider_function_is_never_retried_asynchronously(synthesized: Synthesized) -> None:
    # GIVEN the Fleet stack
    template = synthesized.fleet_template
    function_id, _ = _only(template.find_resources("AWS::Lambda::Function"))
    # WHEN it is synthesized
    # THEN Lambda does not re-run an event CloudFormation already has an answer for
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"FunctionName": {"Ref": function_id}, "MaximumRetryAttempts": 0, "Qualifier": "$LATEST"},
    )


def test_provider_drops_events_cloudformation_stopped_waiting_for(synthesized: Synthesized) -> None:
    # GIVEN the Fleet stack, whose things CloudFormation waits for SERVICE_TIMEOUT_SECONDS
    # WHEN it is synthesized
    # THEN an event older than that is dropped from Lambda's queue (the default would keep it for 6 hours)
    synthesized.fleet_template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumEventAgeInSeconds": SERVICE_TIMEOUT_SECONDS}
    )


# --- IAM ---------------------------------------------------------------------------


def _handler_operations() -> set[str]:
    """The API operations the provider calls: every ``client.<operation>`` and ``call(client, "<Operation>", ...)``."""
    operations = {xform_name(name): name for name in service_model().operation_names}
    called = set()
    for path in PROVIDER_SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "client":
                if node.attr in operations:
                    called.add(operations[node.attr])
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "call"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
            ):
                name = node.args[1].value
                called.add(name if name in operations.values() else f"cloudformation:{name}")
    return called


def test_policy_grants_exactly_the_operations_the_handler_calls(synthesized: Synthesized) -> None:
    # GIVEN the operations the provider's source calls on its iot-managed-integrations client
    operations = _handler_operations()
    assert {"cloudformation:DescribeStacks", "cloudformation:DescribeStackResource"} <= operations  # granted below
    called = {f"iotmanagedintegrations:{name}" for name in operations if not name.startswith("cloudformation:")}
    assert called == {
        "iotmanagedintegrations:CreateManagedThing",
        "iotmanagedintegrations:ListManagedThings",
        "iotmanagedintegrations:GetManagedThing",
        "iotmanagedintegrations:UpdateManagedThing",
        "iotmanagedintegrations:DeleteManagedThing",
        "iotmanagedintegrations:TagResource",
        "iotmanagedintegrations:UntagResource",
    }
    # WHEN the stacks are synthesized
    for template in (synthesized.fleet_template, synthesized.garage_template):
        granted = {
            action
            for statement in _statements(template)
            for action in _as_list(statement["Action"])
            if action.startswith("iotmanagedintegrations:")
        }
        # THEN the role may call those operations and no other
        assert granted == called


def test_policy_statements_are_least_privilege(synthesized: Synthesized) -> None:
    # GIVEN the Garage stack (no secret)
    template = synthesized.garage_template
    log_group_id, _ = _only(template.find_resources("AWS::Logs::LogGroup"))
    # WHEN it is synthesized
    statements = [
        (sorted(_as_list(s["Action"])), s["Resource"], s["Effect"], s.get("Condition")) for s in _statements(template)
    ]
    # THEN the role writes its own logs, creates and lists things anywhere (no ARN exists yet, or across things),
    # manages things by their ARN (and names credential lockers in Updates), reads the status of its own stack and of
    # its resources there, and nothing else
    expected = [
        (
            ["cloudformation:DescribeStackResource", "cloudformation:DescribeStacks"],
            {"Ref": "AWS::StackId"},
            "Allow",
            None,
        ),
        (["logs:CreateLogStream", "logs:PutLogEvents"], {"Fn::GetAtt": [log_group_id, "Arn"]}, "Allow", None),
        (["iotmanagedintegrations:CreateManagedThing", "iotmanagedintegrations:ListManagedThings"], "*", "Allow", None),
        (
            sorted(
                [
                    "iotmanagedintegrations:GetManagedThing",
                    "iotmanagedintegrations:UpdateManagedThing",
                    "iotmanagedintegrations:DeleteManagedThing",
                    "iotmanagedintegrations:TagResource",
                    "iotmanagedintegrations:UntagResource",
                ]
            ),
            THING_ARN_PATTERN,
            "Allow",
            None,
        ),
        # an Update naming a credential locker is authorized on it too (the Service Authorization Reference)
        (["iotmanagedintegrations:UpdateManagedThing"], LOCKER_ARN_PATTERN, "Allow", None),
    ]
    assert sorted(statements, key=json.dumps) == sorted(expected, key=json.dumps)
    # AND no managed policy is attached
    template.has_resource_properties("AWS::IAM::Role", {"ManagedPolicyArns": Match.absent()})


def test_secret_is_readable_by_the_provider_and_only_that_secret(synthesized: Synthesized) -> None:
    # GIVEN Lock, whose material is in the LockCode secret, and an unrelated secret in the same stack
    fleet = synthesized.fleet
    lock_secret_arn = fleet.resolve(synthesized.lock_secret.secret_arn)
    unused_secret_arn = fleet.resolve(synthesized.unused_secret.secret_arn)
    # WHEN the stack is synthesized
    secret_statements = [
        s
        for s in _statements(synthesized.fleet_template)
        if any(a.startswith("secretsmanager:") for a in _as_list(s["Action"]))
    ]
    # THEN one statement grants GetSecretValue (plus read-only DescribeSecret) on LockCode alone
    assert len(secret_statements) == 1
    statement = secret_statements[0]
    actions = set(_as_list(statement["Action"]))
    assert "secretsmanager:GetSecretValue" in actions
    assert actions <= {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert _as_list(statement["Resource"]) == [lock_secret_arn]
    assert json.dumps(unused_secret_arn) not in json.dumps(_statements(synthesized.fleet_template))
    # AND no statement of the role has any other Secrets Manager or KMS action
    others = {a for s in _statements(synthesized.fleet_template) for a in _as_list(s["Action"])}
    assert not {a for a in others if a.startswith(("secretsmanager:", "kms:"))} - actions


# --- authentication material -------------------------------------------------------


def test_secret_material_puts_the_secret_arn_in_the_template_not_the_material(synthesized: Synthesized) -> None:
    # GIVEN Lock, built with authentication_material_secret
    # WHEN the stack is synthesized
    properties = synthesized.properties("Lock")
    # THEN the template names the secret and carries no material
    assert properties["AuthenticationMaterialSecretArn"] == synthesized.fleet.resolve(
        synthesized.lock_secret.secret_arn
    )
    assert "AuthenticationMaterial" not in properties
    assert properties["AuthenticationMaterialType"] == "ZIGBEE_QR_BAR_CODE"


def test_plain_text_material_warns_without_quoting_it(synthesized: Synthesized) -> None:
    # GIVEN Hub, HubDicts, HubStrings and Group/Sensor with plain-text material, and Lock with a secret
    materials = [MATERIAL, device()["authentication_material"]]
    # WHEN the stack is synthesized
    annotations = Annotations.from_stack(synthesized.fleet)
    # THEN each thing with plain-text material gets a warning that recommends the secret
    annotations.has_warning(
        "/Fleet/Hub", Match.string_like_regexp("authentication_material.*plain text.*authentication_material_secret")
    )
    warned = {m.id for m in annotations.find_warning("*", Match.string_like_regexp("plain text"))}
    assert warned == {"/Fleet/Hub", "/Fleet/HubDicts", "/Fleet/HubStrings", "/Fleet/Group/Sensor"}
    # AND Lock gets none
    annotations.has_no_warning("/Fleet/Lock", Match.any_value())
    # AND no message anywhere quotes a material, or part of one
    messages = [str(m.entry.data) for m in annotations.find_warning("*", Match.any_value())]
    messages += [str(m.entry.data) for m in annotations.find_info("*", Match.any_value())]
    messages += [str(m.entry.data) for m in annotations.find_error("*", Match.any_value())]
    fragments = {material[i : i + 6] for material in materials for i in range(len(material) - 5)}
    assert not [(m, f) for m in messages for f in fragments if f in m]


# --- tags --------------------------------------------------------------------------


def test_tags_of_the_thing_and_of_the_stack_reach_the_thing(synthesized: Synthesized) -> None:
    # GIVEN Hub with tags={"fleet": "home"}, Tags.of(Hub) adding room and Tags.of(Fleet) adding team
    # WHEN the stack is synthesized
    # THEN Hub's Tags hold all three, and Lock (no tags argument) has the stack's tag
    assert synthesized.properties("Hub")["Tags"] == {"fleet": "home", "room": "kitchen", "team": "iot"}
    assert synthesized.properties("Lock")["Tags"] == {"team": "iot"}


def test_a_thing_without_tags_has_no_tags_property(synthesized: Synthesized) -> None:
    # GIVEN Door, with no tags from anywhere
    # WHEN the Garage stack is synthesized
    # THEN there is no Tags property (an empty map is below the API's minimum of one entry)
    synthesized.garage_template.has_resource_properties(THING_TYPE, {"Tags": Match.absent()})
    assert "Tags" not in synthesized.properties("Door")
