"""The events a provider receives, in CloudFormation's shape and order, seen by a recording provider.

The provider here is a small Python function of the synthesized app that writes
down every event, its Lambda context and environment, and answers through the
ResponseURL (over HTTPS, with the default SSL context, as crhelper does). Its
``Id`` property becomes the PhysicalResourceId, so changing it is a replacement.
The app is synthesized without the CLI's asset metadata: its code is found
through the assets manifest.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from deploy_support import operate, stack_state, synth

RECORDER = r"""
import json
import os
import ssl
import urllib.request

KEYS = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT",
        "_HANDLER", "AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS", "AWS_ENDPOINT_URL", "HTTPS_PROXY", "AWS_CA_BUNDLE",
        "SSL_CERT_FILE", "PYTHONPATH", "RECORD_FILE")


def handler(event, context):
    properties = event["ResourceProperties"]
    record = {
        "event": event,
        "context": {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "aws_request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        "env": {key: os.environ.get(key) for key in KEYS},
        "cwd": os.getcwd(),
    }
    with open(os.environ["RECORD_FILE"], "a") as file:
        file.write(json.dumps(record) + "\n")
    request = event["RequestType"]
    if request != "Delete" and properties.get("Behaviour") == "fail":
        status, physical_id, reason = "FAILED", event["LogicalResourceId"] + "-failed", "told to fail"
    else:
        status, reason = "SUCCESS", ""
        physical_id = event["PhysicalResourceId"] if request == "Delete" else properties["Id"]
    body = json.dumps({
        "Status": status, "Reason": reason, "PhysicalResourceId": physical_id, "StackId": event["StackId"],
        "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Echo": properties.get("Id", "")},
    }).encode()
    answer = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(answer, context=ssl.create_default_context()) as response:
        response.read()
"""


def recorder_app(code_dir: Path, record_file: Path, version: int):
    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Events")
        function = lambda_.Function(
            stack,
            "Recorder",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="recorder.handler",
            code=lambda_.Code.from_asset(str(code_dir)),
            timeout=cdk.Duration.seconds(30),
            memory_size=512,
            environment={"RECORD_FILE": str(record_file)},
        )

        def thing(logical_id: str, **properties: Any) -> cdk.CfnResource:
            return cdk.CfnResource(
                stack,
                logical_id,
                type="Custom::ManagedThing",
                properties={"ServiceToken": function.function_arn, **properties},
            )

        a = thing(
            "A",
            Id="a1" if version == 1 else "a2",
            Count=10,
            Flag=True,
            Nested={"N": 1, "L": [True, 2.5, "x"]},
        )
        b = thing(
            "B",
            Id="b1",
            Upstream=a.ref,
            Label=cdk.Fn.sub("${AWS::Region}-${Thing}-${Name}", {"Thing": a.ref, "Name": "x"}),
            Echo=cdk.Fn.join("/", [a.get_att("Echo").to_string(), cdk.Aws.ACCOUNT_ID]),
            Note="first" if version < 3 else "changed",
        )
        if version == 1:
            thing("C", Id="c1")
        if version == 3:
            d = thing("D", Id="d1", Upstream=b.ref)
            thing("E", Id="e1", Upstream=d.ref, Behaviour="fail")

    return define


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def calls(recorded: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(RequestType, LogicalResourceId, PhysicalResourceId or Id) per event, in order."""
    return [
        (
            r["event"]["RequestType"],
            r["event"]["LogicalResourceId"],
            r["event"].get("PhysicalResourceId") or r["event"]["ResourceProperties"].get("Id"),
        )
        for r in recorded
    ]


def test_events_are_shaped_and_ordered_like_cloudformation(tmp_path: Path) -> None:
    code_dir = tmp_path / "recorder"
    code_dir.mkdir()
    (code_dir / "recorder.py").write_text(RECORDER)
    record_file = tmp_path / "events.jsonl"
    cdk_out = tmp_path / "cdk.out"

    # GIVEN three resources, B referring to A
    synth(cdk_out, recorder_app(code_dir, record_file, 1), cli_context=False)

    # WHEN deployed
    run = operate(cdk_out, "deploy")

    # THEN each gets one Create, B after A answered, with CloudFormation's event and Lambda's context
    assert not run.result.failed, run.output
    first = records(record_file)
    assert sorted(calls(first)) == [("Create", "A", "a1"), ("Create", "B", "b1"), ("Create", "C", "c1")]
    assert [c[1] for c in calls(first)].index("B") > [c[1] for c in calls(first)].index("A")
    by_id = {r["event"]["LogicalResourceId"]: r for r in first}
    event = by_id["A"]["event"]
    stack_id = event["StackId"]
    assert re.fullmatch(r"arn:aws:cloudformation:eu-west-1:123456789012:stack/Events/[0-9a-f-]{36}", stack_id)
    assert re.fullmatch(r"[0-9a-f-]{36}", event["RequestId"])
    assert event["ResponseURL"].startswith("https://127.0.0.1:")
    assert event["ResourceType"] == "Custom::ManagedThing"
    token = event["ServiceToken"]
    assert token.startswith("arn:aws:lambda:eu-west-1:123456789012:function:")
    assert "PhysicalResourceId" not in event and "OldResourceProperties" not in event
    # every scalar a string, nested structure kept
    assert event["ResourceProperties"] == {
        "ServiceToken": token,
        "Id": "a1",
        "Count": "10",
        "Flag": "true",
        "Nested": {"N": "1", "L": ["true", "2.5", "x"]},
    }
    b = by_id["B"]["event"]["ResourceProperties"]
    assert (b["Upstream"], b["Label"], b["Echo"]) == ("a1", "eu-west-1-a1-x", "a1/123456789012")
    context, env = by_id["A"]["context"], by_id["A"]["env"]
    assert context["invoked_function_arn"] == token
    assert context["function_name"] == token.rsplit(":", 1)[1] == env["AWS_LAMBDA_FUNCTION_NAME"]
    assert context["memory_limit_in_mb"] == "512" == env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
    assert 0 < context["remaining_ms"] <= 30_000
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"  # the configured region (conftest)
    assert env["_HANDLER"] == "recorder.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["RECORD_FILE"] == str(record_file)
    assert env["LAMBDA_TASK_ROOT"] == by_id["A"]["cwd"] == env["PYTHONPATH"].split(":")[0]
    assert Path(env["SSL_CERT_FILE"]).is_file()
    # no endpoint overrides botocore's rules: AWS calls go to AWS's hostnames, through the front door (a proxy)
    assert env["AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS"] is None and env["AWS_ENDPOINT_URL"] is None
    assert env["HTTPS_PROXY"].startswith("http://127.0.0.1:") and env["AWS_CA_BUNDLE"] == env["SSL_CERT_FILE"]

    # WHEN A's Id changes (a replacement), which changes B's references, and C leaves the app
    synth(cdk_out, recorder_app(code_dir, record_file, 2), cli_context=False)
    run = operate(cdk_out, "deploy")

    # THEN A and B get Updates in dependency order, then the cleanup deletes C and A's old resource
    assert not run.result.failed, run.output
    second = records(record_file)[len(first) :]
    order = calls(second)
    assert order[:2] == [("Update", "A", "a1"), ("Update", "B", "b1")]
    assert sorted(order[2:]) == [("Delete", "A", "a1"), ("Delete", "C", "c1")]
    update_a, update_b = second[0]["event"], second[1]["event"]
    assert update_a["StackId"] == stack_id
    assert update_a["ResourceProperties"]["Id"] == "a2" and update_a["OldResourceProperties"]["Id"] == "a1"
    assert update_b["OldResourceProperties"]["Upstream"] == "a1" and update_b["ResourceProperties"]["Upstream"] == "a2"
    delete_a = next(r["event"] for r in second[2:] if r["event"]["LogicalResourceId"] == "A")
    assert delete_a["ResourceProperties"]["Id"] == "a1" and "OldResourceProperties" not in delete_a
    recorded_state = stack_state(cdk_out, "Events").read_text()

    # WHEN B changes in place, D (after B) and E (after D) are new, and E fails
    synth(cdk_out, recorder_app(code_dir, record_file, 3), cli_context=False)
    run = operate(cdk_out, "deploy")

    # THEN the stack rolls back: B updated back (old and new swapped), then E and D deleted, in that order
    assert run.result.failed
    assert run.stack("Events").failed_resource == "E"
    assert "E: told to fail" in run.stack("Events").error
    third = records(record_file)[len(first) + len(second) :]
    assert calls(third) == [
        ("Update", "B", "b1"),
        ("Create", "D", "d1"),
        ("Create", "E", "e1"),
        ("Update", "B", "b1"),
        ("Delete", "E", "E-failed"),
        ("Delete", "D", "d1"),
    ]
    rollback = third[3]["event"]
    assert rollback["ResourceProperties"]["Note"] == "first" and rollback["OldResourceProperties"]["Note"] == "changed"
    # AND the state is still the second deployment's
    assert stack_state(cdk_out, "Events").read_text() == recorded_state

    # WHEN the second version is deployed again
    synth(cdk_out, recorder_app(code_dir, record_file, 2), cli_context=False)
    run = operate(cdk_out, "deploy")

    # THEN nothing changed since it
    assert not run.result.failed, run.output
    assert len(records(record_file)) == len(first) + len(second) + len(third)
