"""Intrinsic functions, pseudo parameters, parameters and conditions, evaluated like CloudFormation."""

from __future__ import annotations

from typing import Any

import pytest

from managed_things_local.cloudformation.intrinsics import (
    Pseudo,
    Resolver,
    cfn_stringify,
    parameter_values,
    references,
    resource_dependencies,
)
from managed_things_local.errors import DeployError, Unresolvable

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/Demo/00000000-0000-0000-0000-000000000000"
TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "prod", "AllowedValues": ["prod", "test"]},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a,b,c"},
        "Version": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/version"},
    },
    "Mappings": {"Sizes": {"prod": {"Count": 3}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "IsTest": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Fn::Or": [{"Condition": "IsTest"}, True]}]},
    },
    "Resources": {
        "Hub": {"Type": "Custom::ManagedThing"},
        "Secret": {"Type": "AWS::SecretsManager::Secret"},
    },
}


def resolver(exports: dict[str, Any] | None = None) -> Resolver:
    def lookup(logical_id: str, attribute: str | None) -> Any:
        if logical_id == "Hub":
            return {None: "hub-1", "Arn": "arn:hub-1"}[attribute]
        raise Unresolvable(f"{logical_id} is not deployed locally")

    pseudo = Pseudo("eu-west-1", "123456789012", "Demo", STACK_ID)
    return Resolver(TEMPLATE, pseudo, parameter_values(TEMPLATE, {}, "Demo"), lookup, exports or {})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Ref": "AWS::StackName"}, "Demo"),
        ({"Ref": "AWS::StackId"}, STACK_ID),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Ref": "Env"}, "prod"),
        ({"Ref": "Zones"}, ["a", "b", "c"]),
        ({"Ref": "Hub"}, "hub-1"),
        ({"Fn::GetAtt": ["Hub", "Arn"]}, "arn:hub-1"),
        ({"Fn::GetAtt": "Hub.Arn"}, "arn:hub-1"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Hub"}, 3]]}, "a-hub-1-3"),
        ({"Fn::Sub": "${AWS::Region}/${Hub}/${Hub.Arn}/${!Literal}"}, "eu-west-1/hub-1/arn:hub-1/${Literal}"),
        ({"Fn::Sub": ["${Name}@${Env}", {"Name": {"Ref": "Hub"}}]}, "hub-1@prod"),
        ({"Fn::Select": ["1", {"Fn::Split": [",", "x,y,z"]}]}, "y"),
        ({"Fn::Select": [2, {"Ref": "Zones"}]}, "c"),
        ({"Fn::ImportValue": {"Fn::Sub": "${Env}-HubId"}}, "imported"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Count"]}, 3),
        ({"Fn::If": ["IsProd", "big", "small"]}, "big"),
        ({"Fn::If": ["IsTest", "big", "small"]}, "small"),
        ({"Fn::Base64": "hi"}, "aGk="),
        (
            {"A": {"Fn::If": ["IsTest", "x", {"Ref": "AWS::NoValue"}]}, "B": ["1", {"Ref": "AWS::NoValue"}]},
            {"B": ["1"]},
        ),
    ],
)
def test_expressions_evaluate_like_cloudformation(expression: Any, expected: Any) -> None:
    # GIVEN a stack's resolver, WHEN an expression is evaluated, THEN it has CloudFormation's value
    assert resolver({"prod-HubId": "imported"}).resolve(expression) == expected


def test_conditions_combine() -> None:
    # GIVEN conditions on a parameter, WHEN evaluated, THEN they combine like CloudFormation's
    r = resolver()
    assert (r.condition("IsProd"), r.condition("IsTest"), r.condition("Both")) == (True, False, True)


def test_an_import_is_recorded_and_a_missing_export_is_named() -> None:
    # GIVEN exports of other stacks
    r = resolver({"prod-HubId": "imported"})

    # WHEN one is imported, THEN the resolver remembers it (the exporter cannot delete it while in use)
    r.resolve({"Fn::ImportValue": "prod-HubId"})
    assert r.imports == {"prod-HubId"}
    # AND an unknown export is an error naming it
    with pytest.raises(Unresolvable, match="No export named Nope found"):
        r.resolve({"Fn::ImportValue": "Nope"})


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Ref": "Secret"}, "Secret is not deployed locally"),
        ({"Fn::Sub": "${Secret}"}, "Secret is not deployed locally"),
        ({"Ref": "Version"}, "SSM parameter /cdk-bootstrap/version"),
        ({"Ref": "Missing"}, "no parameter or resource"),
        ({"Fn::Select": [5, ["a"]]}, "out of bounds"),
        ({"Fn::GetAZs": ""}, "not evaluated"),
    ],
)
def test_what_has_no_local_value_says_why(expression: Any, message: str) -> None:
    # GIVEN an expression without a local value, WHEN evaluated, THEN the error says why
    with pytest.raises(Unresolvable, match=message):
        resolver().resolve(expression)


def test_scalars_are_stringified_as_cloudformation_delivers_them() -> None:
    # GIVEN typed values, WHEN stringified, THEN every scalar is a string and structure is kept
    assert cfn_stringify({"N": 10, "F": 1.5, "T": True, "L": [False, {"X": 0}], "S": "s"}) == {
        "N": "10",
        "F": "1.5",
        "T": "true",
        "L": ["false", {"X": "0"}],
        "S": "s",
    }


def test_parameters_are_checked_against_their_constraints() -> None:
    # GIVEN a value outside AllowedValues, WHEN parameters are read, THEN the stack fails naming the parameter
    with pytest.raises(DeployError, match="Parameter 'Env' must be one of AllowedValues"):
        parameter_values(TEMPLATE, {"Env": "staging"}, "Demo")
    # AND a parameter without a value is named
    with pytest.raises(DeployError, match=r"parameters \[Needed\] must have values"):
        parameter_values({"Parameters": {"Needed": {"Type": "String"}}}, {}, "Demo")


def test_dependencies_come_from_depends_on_and_references() -> None:
    # GIVEN resources that refer to each other in every way
    template = {
        "Resources": {
            "A": {"Type": "T"},
            "B": {"Type": "T", "DependsOn": "A"},
            "C": {"Type": "T", "Properties": {"X": {"Fn::Sub": ["${B.Arn}-${V}", {"V": {"Ref": "A"}}]}}},
            "D": {"Type": "T", "Properties": {"X": {"Fn::GetAtt": ["C", "Id"]}, "Y": {"Ref": "AWS::Region"}}},
        }
    }

    # WHEN the graph is built, THEN each resource depends on exactly what it names
    assert resource_dependencies(template) == {"A": set(), "B": {"A"}, "C": {"A", "B"}, "D": {"C"}}
    assert references({"Fn::Sub": "${!Not} ${AWS::Region} ${X.Y}"}) == {"AWS::Region", "X"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Fn::Length": {"Ref": "Zones"}}, 3),
        (
            {"Fn::ToJsonString": {"Zones": {"Ref": "Zones"}, "Env": {"Ref": "Env"}}},
            '{"Zones":["a","b","c"],"Env":"prod"}',
        ),
    ],
)
def test_language_extensions_evaluate_where_the_template_declares_the_transform(expression: Any, expected: Any) -> None:
    # GIVEN a template declaring AWS::LanguageExtensions, and one that does not
    extended = {**TEMPLATE, "Transform": ["AWS::LanguageExtensions"]}
    pseudo = Pseudo("eu-west-1", "123456789012", "Demo", STACK_ID)
    with_transform = Resolver(extended, pseudo, parameter_values(extended, {}, "Demo"), lambda *_: None, {})
    # WHEN the function is evaluated, THEN it has its value with the transform, and is rejected without it
    assert with_transform.resolve(expression) == expected
    with pytest.raises(Unresolvable, match="needs the AWS::LanguageExtensions transform"):
        resolver().resolve(expression)
