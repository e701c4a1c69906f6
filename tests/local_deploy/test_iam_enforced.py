"""IAM enforced where the provider's calls land: the emulator, DescribeStacks and Secrets Manager each refuse what
the function's role does not allow, with AWS's error in the protocol's shape; and a local deploy through the real
provider fails, naming the action, when the provider's policy lacks one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from botocore.exceptions import ClientError
from deploy_support import by_name, device, emulator_things, operate, synth

from managed_things_local.cloudformation.records import StackState
from managed_things_local.cloudformation.stack_events import StackEvent, StackStatus
from managed_things_local.emulator.server import EmulatorServer
from managed_things_local.lambda_runtime.invoker import FunctionSpec
from managed_things_local.services.iam_authority import IamAuthority
from managed_things_local.services.iam_policies import ENGINE_ACCESS_KEY_ID, generated_role_name, role_of
from managed_things_local.services.secrets import SecretsServer, SecretVault
from managed_things_local.services.stack_status import StackStatuses, StackStatusServer
from managed_things_local.state.state import StateStore

REGION, ACCOUNT = "eu-west-1", "123456789012"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/Fleet/6a2c9a40-0000-4000-8000-000000000000"
OTHER_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/Other/7b3d0b51-0000-4000-8000-000000000000"
THING_ACTIONS = ["iotmanagedintegrations:GetManagedThing", "iotmanagedintegrations:UpdateManagedThing"]


def arn(service: str, resource: str) -> dict[str, Any]:
    """``arn:${Partition}:<service>:${Region}:${AccountId}:<resource>`` as CDK writes it in a template."""
    parts = ["arn:", {"Ref": "AWS::Partition"}, f":{service}:", {"Ref": "AWS::Region"}, ":"]
    return {"Fn::Join": ["", [*parts, {"Ref": "AWS::AccountId"}, f":{resource}"]]}


# The provider's policy as the construct writes it, less DeleteManagedThing; and a fleet's secret prefix.
STATEMENTS = [
    {"Action": "iotmanagedintegrations:CreateManagedThing", "Effect": "Allow", "Resource": "*"},
    {"Action": THING_ACTIONS, "Effect": "Allow", "Resource": arn("iotmanagedintegrations", "managed-thing/*")},
    {"Action": "cloudformation:DescribeStacks", "Effect": "Allow", "Resource": {"Ref": "AWS::StackId"}},
    {"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": arn("secretsmanager", "secret:fleet/*")},
    {"Action": "logs:PutLogEvents", "Effect": "Allow", "Resource": {"Fn::GetAtt": ["Logs", "Arn"]}},
]
TEMPLATE = {
    "Resources": {
        "Handler": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "DefaultPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {"PolicyDocument": {"Statement": STATEMENTS}, "Roles": [{"Ref": "Role"}]},
        },
        "Logs": {"Type": "AWS::Logs::LogGroup"},
    }
}
FUNCTION = FunctionSpec(
    logical_id="Handler",
    function_name="Fleet-Handler",
    arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:Fleet-Handler",
    code_dir="/nonexistent",
    handler="index.handler",
    region=REGION,
    role=role_of(TEMPLATE, "Handler", "Fleet").to_json(),
)
PRINCIPAL = f"arn:aws:sts::{ACCOUNT}:assumed-role/{generated_role_name('Fleet', 'Role')}/Fleet-Handler"


@pytest.fixture
def iam(tmp_path: Path) -> IamAuthority:
    store = StateStore(tmp_path / ".managed-things")
    store.save(StackState("Fleet", STACK_ID, REGION, ACCOUNT))
    authority = IamAuthority(store)
    authority.bind(FUNCTION)
    return authority


def client(service: str, url: str, key: str = FUNCTION.access_key_id) -> Any:
    return boto3.client(
        service, endpoint_url=url, region_name=REGION, aws_access_key_id=key, aws_secret_access_key="local"
    )


def denied(raised: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_each_function_signs_with_its_own_access_key() -> None:
    other = FunctionSpec(**{**FUNCTION.to_json(), "arn": FUNCTION.arn.replace("Fleet-Handler", "Other-Handler")})
    assert FUNCTION.access_key_id.startswith("ASIA") and len(FUNCTION.access_key_id) == 20
    assert other.access_key_id != FUNCTION.access_key_id


def test_describe_stacks_of_its_own_stack_is_allowed_and_of_another_denied(iam: IamAuthority) -> None:
    # GIVEN the local DescribeStacks, with the engine's IAM, and two stacks
    statuses = StackStatuses()
    statuses(StackEvent("Fleet", StackStatus.UPDATE_IN_PROGRESS, STACK_ID))
    statuses(StackEvent("Other", StackStatus.UPDATE_IN_PROGRESS, OTHER_ID))
    with StackStatusServer(statuses, iam.authorize) as server:
        cloudformation = client("cloudformation", server.url)
        # WHEN the provider asks for its own stack, THEN it is answered
        assert cloudformation.describe_stacks(StackName=STACK_ID)["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"
        # WHEN it asks for another stack, THEN CloudFormation's AccessDenied, 403, in the query protocol's shape
        with pytest.raises(ClientError) as raised:
            cloudformation.describe_stacks(StackName=OTHER_ID)
    assert denied(raised) == (
        403,
        "AccessDenied",
        f"User: {PRINCIPAL} is not authorized to perform: cloudformation:DescribeStacks on resource: {OTHER_ID} "
        "because no identity-based policy allows the cloudformation:DescribeStacks action",
    )


def test_a_secret_outside_the_granted_prefix_is_denied(iam: IamAuthority, tmp_path: Path) -> None:
    # GIVEN the local Secrets Manager with the engine's IAM, a secret under the fleet's prefix and one outside it
    with SecretsServer(SecretVault(tmp_path), iam.authorize) as server:
        granted = server.create(REGION, "fleet/plug-0001", "granted")
        outside = server.create(REGION, "other/plug-0001", "outside")
        secrets = client("secretsmanager", server.url)
        # WHEN the provider reads each by name, as a fleet does
        assert secrets.get_secret_value(SecretId="fleet/plug-0001")["SecretString"] == "granted"
        with pytest.raises(ClientError) as raised:
            secrets.get_secret_value(SecretId="other/plug-0001")
        # AND the engine's own calls (it deploys secrets) are not the function's
        assert client("secretsmanager", server.url, ENGINE_ACCESS_KEY_ID).describe_secret(SecretId=outside)
    # THEN the one outside is refused, on its complete ARN, with the JSON protocol's AccessDeniedException
    status, code, message = denied(raised)
    assert (status, code) == (400, "AccessDeniedException")
    assert f"perform: secretsmanager:GetSecretValue on resource: {outside} because" in message
    assert granted != outside and "outside" not in message


def test_the_emulator_refuses_what_the_role_does_not_allow(iam: IamAuthority) -> None:
    # GIVEN the emulator with the engine's IAM
    with EmulatorServer(authorizer=iam.authorize) as server:
        things = client("iot-managed-integrations", server.url)
        # WHEN the provider creates a thing (authorized on "*"), reads it, then deletes it (not granted)
        created = things.create_managed_thing(
            Role="DEVICE", AuthenticationMaterial="m", AuthenticationMaterialType="ZIGBEE_QR_BAR_CODE"
        )
        assert things.get_managed_thing(Identifier=created["Id"])["Id"] == created["Id"]
        with pytest.raises(ClientError) as raised:
            things.delete_managed_thing(Identifier=created["Id"])
        # AND a key the engine gave no function is refused whatever it asks
        with pytest.raises(ClientError) as unknown:
            client("iot-managed-integrations", server.url, "ASIAUNKNOWN000000000").list_managed_things()
    # THEN AccessDeniedException (403, the service's error shape), naming the action and the thing's ARN
    assert denied(raised) == (
        403,
        "AccessDeniedException",
        f"User: {PRINCIPAL} is not authorized to perform: iotmanagedintegrations:DeleteManagedThing on resource: "
        f"{created['Arn']} because no identity-based policy allows the iotmanagedintegrations:DeleteManagedThing "
        "action",
    )
    assert denied(unknown)[:2] == (403, "AccessDeniedException")
    assert "access key ASIAUNKNOWN000000000" in denied(unknown)[2]


def test_the_emulator_on_its_own_answers_every_caller() -> None:
    with EmulatorServer() as server:
        assert client("iot-managed-integrations", server.url, "anyone").list_managed_things()["Items"] == []


def test_a_statement_with_no_local_value_denies_what_it_is_about_naming_why(iam: IamAuthority) -> None:
    credential = f"{FUNCTION.access_key_id}/20260101/{REGION}/logs/aws4_request"
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=0"}
    denial = iam.authorize(headers, "logs:PutLogEvents", "arn:aws:logs:eu-west-1:1:log-group:x")
    assert denial is not None and "Fn::GetAtt Logs.Arn: Logs is not deployed locally" in denial


# --- through the real provider -------------------------------------------------------------------------------


def one_thing(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Guarded")
    device(stack, "Plug", 1, name="Plug")


def in_another_account(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Guarded", env=cdk.Environment(account="111111111111", region=REGION))
    device(stack, "Plug", 1, name="Plug")


def without_action(cdk_out: Path, action: str) -> dict[str, Any]:
    """Take ``action`` out of the provider's DefaultPolicy in the synthesized template; the template as it was."""
    path = cdk_out / "Guarded.template.json"
    original = json.loads(path.read_text())
    template = json.loads(path.read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                statement["Action"] = [a for a in actions if a != action] or ["iotmanagedintegrations:None"]
    path.write_text(json.dumps(template))
    return original


@pytest.fixture
def cdk_out(tmp_path: Path) -> Iterator[Path]:
    yield synth(tmp_path / "cdk.out", one_thing)


def test_a_provider_policy_without_delete_fails_the_destroy_naming_the_action(cdk_out: Path) -> None:
    # GIVEN a stack whose provider's policy lacks iotmanagedintegrations:DeleteManagedThing, deployed
    original = without_action(cdk_out, "iotmanagedintegrations:DeleteManagedThing")
    deployed = operate(cdk_out, "deploy")
    assert not deployed.result.failed, deployed.output
    # WHEN it is destroyed
    failed = operate(cdk_out, "destroy")
    # THEN the provider's Delete is refused: the stack is DELETE_FAILED, the reason names the operation and the
    # error, and the thing is still there
    assert failed.result.failed
    assert failed.stack("Guarded").status == "DELETE_FAILED"
    assert "DeleteManagedThing failed: AccessDeniedException" in failed.stack("Guarded").error
    assert list(by_name(emulator_things(cdk_out))) == ["Plug"]
    # AND, as on AWS, a DELETE_FAILED stack cannot be updated with a policy that grants it: the deploy is refused
    (cdk_out / "Guarded.template.json").write_text(json.dumps(original))
    refused = operate(cdk_out, "deploy")
    assert refused.result.failed
    assert "is in DELETE_FAILED state and can not be updated" in refused.stack("Guarded").error
    # WHEN it is destroyed again retaining the thing it cannot delete (DeleteStack's RetainResources), THEN the stack
    # is gone and the thing is kept, no longer managed (a destroy runs the provider as deployed, as CloudFormation
    # deletes with the role's policies as they are)
    (plug,) = [k for k, v in original["Resources"].items() if v["Type"] == "Custom::ManagedThing"]
    gone = operate(cdk_out, "destroy", retain_resources=[plug])
    assert not gone.result.failed, gone.output
    assert list(by_name(emulator_things(cdk_out))) == ["Plug"]


def test_a_provider_policy_without_create_rolls_the_deploy_back(cdk_out: Path) -> None:
    without_action(cdk_out, "iotmanagedintegrations:CreateManagedThing")
    failed = operate(cdk_out, "deploy")
    assert failed.result.failed
    assert "CreateManagedThing failed: AccessDeniedException" in failed.stack("Guarded").error
    assert emulator_things(cdk_out) == {}


def test_a_stack_of_another_account_manages_its_things(tmp_path: Path) -> None:
    # GIVEN a stack whose env names an account (its provider's policy names that account's thing ARNs)
    cdk_out = synth(tmp_path / "cdk.out", in_another_account)
    # WHEN it is deployed and destroyed
    deployed = operate(cdk_out, "deploy")
    assert not deployed.result.failed, deployed.output
    (thing,) = emulator_things(cdk_out).values()
    gone = operate(cdk_out, "destroy")
    # THEN its thing was created in that account, and the provider may delete it
    assert thing["Arn"].startswith(f"arn:aws:iotmanagedintegrations:{REGION}:111111111111:managed-thing/")
    assert not gone.result.failed, gone.output


def test_the_emulator_also_authorizes_what_a_request_names_besides_the_thing(iam: IamAuthority) -> None:
    # GIVEN the emulator with the engine's IAM, and a role granted CreateManagedThing on "*" and UpdateManagedThing on
    # managed-thing/* only (no TagResource, nothing on credential lockers)
    with EmulatorServer(authorizer=iam.authorize) as server:
        things = client("iot-managed-integrations", server.url)
        created = things.create_managed_thing(
            Role="DEVICE", AuthenticationMaterial="m", AuthenticationMaterialType="ZIGBEE_QR_BAR_CODE"
        )
        # WHEN a Create carries tags, and an Update names a credential locker
        with pytest.raises(ClientError) as tagged:
            things.create_managed_thing(
                Role="DEVICE",
                AuthenticationMaterial="n",
                AuthenticationMaterialType="ZIGBEE_QR_BAR_CODE",
                Tags={"a": "b"},
            )
        with pytest.raises(ClientError) as locker:
            things.update_managed_thing(Identifier=created["Id"], CredentialLockerId="locker1")
    # THEN each is refused for the authorization the Service Authorization Reference adds: TagResource (the
    # operation's second action) on the thing to be, and the action on the credential locker's ARN
    assert "perform: iotmanagedintegrations:TagResource on resource: " in denied(tagged)[2]
    assert "managed-thing/* because" in denied(tagged)[2]
    assert (
        f"perform: iotmanagedintegrations:UpdateManagedThing on resource: arn:aws:iotmanagedintegrations:{REGION}:"
        f"{ACCOUNT}:credential-locker/locker1 because" in denied(locker)[2]
    )
