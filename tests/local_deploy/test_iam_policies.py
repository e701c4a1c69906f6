"""IAM, pure: a function's role as the template declares it, and the decision of its policies on one call."""

from __future__ import annotations

from typing import Any

import pytest

from managed_things_local.services.iam_policies import (
    Decision,
    access_denied_message,
    concerns,
    decide,
    generated_role_name,
    role_of,
    statements,
)

THINGS = "arn:aws:iotmanagedintegrations:eu-west-1:123456789012:managed-thing/*"
THING = "arn:aws:iotmanagedintegrations:eu-west-1:123456789012:managed-thing/a1b2c3"


def allow(action: str | list[str], resource: Any = "*", **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def template(**resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "Handler": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}},
            },
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [{"PolicyName": "Inline", "PolicyDocument": {"Statement": [allow("a:Inline")]}}],
                    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                },
            },
            **resources,
        }
    }


def test_the_role_has_its_inline_policies_and_the_policies_attached_to_it() -> None:
    # GIVEN a function's role, CDK's DefaultPolicy attached to it, and a policy of another role
    default = {"Statement": [allow("secretsmanager:GetSecretValue", {"Ref": "Secret"})]}
    spec = role_of(
        template(
            DefaultPolicy={
                "Type": "AWS::IAM::Policy",
                "Properties": {"PolicyDocument": default, "Roles": [{"Ref": "Role"}]},
            },
            Other={"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": []}, "Roles": ["x"]}},
            Secret={"Type": "AWS::SecretsManager::Secret"},
        ),
        "Handler",
        "Stack",
    )
    # THEN its documents are the inline one and the DefaultPolicy, unresolved, with the resources they name
    assert spec.problem == ""
    assert [s["Action"] for s in statements(spec.documents)] == ["a:Inline", "secretsmanager:GetSecretValue"]
    assert spec.template["Resources"] == {"Secret": {"Type": "AWS::SecretsManager::Secret"}}
    assert spec.managed_policy_arns == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    # AND without RoleName, a name as CloudFormation generates one: the stack's, the logical id's, and a suffix
    assert spec.role_name == generated_role_name("Stack", "Role") and spec.role_name.startswith("Stack-Role-")
    assert len(generated_role_name("S" * 80, "Role")) <= 64


def test_a_role_from_outside_the_stack_is_a_problem_named() -> None:
    resources = template()["Resources"]
    resources["Handler"]["Properties"]["Role"] = "arn:aws:iam::123456789012:role/elsewhere"
    spec = role_of({"Resources": resources}, "Handler", "Stack")
    assert "the role of Handler" in spec.problem and "not an AWS::IAM::Role of its stack" in spec.problem


CREATE, GET, DELETE = (f"iotmanagedintegrations:{o}ManagedThing" for o in ("Create", "Get", "Delete"))
READ = "secretsmanager:GetSecretValue"
SECRETS = "arn:aws:secretsmanager:eu-west-1:1:secret:"
DESCRIBE = "cloudformation:DescribeStacks"
VIA_SECRETS_MANAGER = {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}


@pytest.mark.parametrize(
    ("policy", "action", "resource", "decision"),
    [
        ([allow(CREATE)], CREATE, "*", Decision.ALLOW),
        ([allow(GET, THINGS)], GET, THING, Decision.ALLOW),
        # IAM compares actions without regard to case
        ([allow("IoTManagedIntegrations:getManagedThing", THINGS)], GET, THING, Decision.ALLOW),
        # a missing action, a wrong ARN pattern (another region)
        ([allow(GET, THINGS)], DELETE, THING, Decision.IMPLICIT_DENY),
        (
            [allow("iotmanagedintegrations:*", THINGS.replace("eu-west-1", "us-east-1"))],
            GET,
            THING,
            Decision.IMPLICIT_DENY,
        ),
        # ? is one character, and a dot is a dot (moto's own matcher reads the pattern as a regular expression)
        ([allow(READ, f"{SECRETS}a.b-??????")], READ, f"{SECRETS}a.b-AbCdEf", Decision.ALLOW),
        ([allow(READ, f"{SECRETS}a.b-??????")], READ, f"{SECRETS}aXb-AbCdEf", Decision.IMPLICIT_DENY),
        # a secret outside the granted prefix
        ([allow(READ, f"{SECRETS}fleet/*")], READ, f"{SECRETS}other/x-AbCdEf", Decision.IMPLICIT_DENY),
        # an explicit Deny wins over any Allow
        (
            [allow("iotmanagedintegrations:*"), {**allow(DELETE), "Effect": "Deny"}],
            DELETE,
            THING,
            Decision.EXPLICIT_DENY,
        ),
        ([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], DESCRIBE, "arn:x", Decision.ALLOW),
        # an Allow under a condition the local services cannot give grants nothing
        ([allow("kms:Decrypt", "*", Condition=VIA_SECRETS_MANAGER)], "kms:Decrypt", "arn:k", Decision.IMPLICIT_DENY),
        ([], DESCRIBE, "arn:x", Decision.IMPLICIT_DENY),
    ],
)
def test_the_decision_of_identity_policies(
    policy: list[dict[str, Any]], action: str, resource: str, decision: Decision
) -> None:
    assert decide(policy, action, resource) is decision


def test_a_statement_concerns_the_actions_it_names_even_unresolved() -> None:
    statement = allow(["logs:CreateLogStream", "logs:PutLogEvents"], {"Fn::GetAtt": ["Logs", "Arn"]})
    assert concerns(statement, "logs:PutLogEvents")
    assert not concerns(statement, "iotmanagedintegrations:DeleteManagedThing")


def test_the_message_is_iams() -> None:
    principal = "arn:aws:sts::123456789012:assumed-role/Stack-Role-X/Stack-Handler"
    action = "cloudformation:DescribeStacks"
    assert access_denied_message(principal, action, "arn:s", Decision.IMPLICIT_DENY) == (
        f"User: {principal} is not authorized to perform: {action} on resource: arn:s "
        f"because no identity-based policy allows the {action} action"
    )
    assert access_denied_message(principal, action, "arn:s", Decision.EXPLICIT_DENY).endswith(
        "on resource: arn:s with an explicit deny in an identity-based policy"
    )
