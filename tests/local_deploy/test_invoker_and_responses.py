"""The HTTPS ResponseURL receiver and the Lambda-like invocation, without a cloud assembly."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from runtime_support import LOG_NAME, NOWHERE, create_request, function_spec, receiver, write_code

from managed_things_local.lambda_runtime.invoker import LambdaRuntime
from managed_things_local.services.responses import ResponseReceiver

__all__ = ["receiver"]  # the fixture


def put(url: str, body: dict, cafile: Path) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT", headers={"Content-Type": ""})
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=str(cafile))) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_answers_are_matched_to_requests_by_their_url(receiver: ResponseReceiver) -> None:
    # GIVEN two outstanding requests
    first = receiver.expect("request-1")
    second = receiver.expect("request-2")

    # WHEN answers arrive over HTTPS in the other order, and one for an unknown URL
    assert put(second, {"Status": "FAILED", "Reason": "nope", "RequestId": "request-2"}, receiver.ca_file) == 200
    body = {"Status": "SUCCESS", "PhysicalResourceId": "id-1", "Data": {"Id": "id-1"}, "RequestId": "request-1"}
    assert put(first, body, receiver.ca_file) == 200
    unknown = put(receiver.base_url + "/cloudformation-response/unknown", body, receiver.ca_file)

    # THEN each request has its own answer and the unknown URL is refused
    one, two = receiver.wait(first, 5), receiver.wait(second, 5)
    assert one is not None and (one.status, one.physical_id, one.data) == ("SUCCESS", "id-1", {"Id": "id-1"})
    assert two is not None and (two.status, two.reason) == ("FAILED", "nope")
    assert unknown == 403


def test_an_answer_cloudformation_would_reject_is_a_failure(receiver: ResponseReceiver) -> None:
    # GIVEN a request, WHEN the answer is SUCCESS without a PhysicalResourceId
    url = receiver.expect("request-1")
    put(url, {"Status": "SUCCESS", "RequestId": "request-1"}, receiver.ca_file)

    # THEN it counts as FAILED with CloudFormation's reason
    answer = receiver.wait(url, 5)
    assert answer is not None and (answer.status, answer.reason) == ("FAILED", "Invalid PhysicalResourceId.")


HANDLERS = {
    "answers": """
        import json, ssl, urllib.request
        def handler(event, context):
            body = json.dumps({"Status": "SUCCESS", "PhysicalResourceId": "thing-1", "RequestId": event["RequestId"],
                               "Data": {"Remaining": context.get_remaining_time_in_millis()}}).encode()
            request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT")
            urllib.request.urlopen(request, context=ssl.create_default_context()).read()
    """,
    "returns": """
        def handler(event, context):
            return {"forgot": "to answer"}
    """,
    "raises": """
        def handler(event, context):
            raise ValueError("boom")
    """,
    "sleeps": """
        import time
        def handler(event, context):
            time.sleep(60)
    """,
}


def invoke(tmp_path: Path, receiver: ResponseReceiver, kind: str, handler: str = "provider.handler", timeout: int = 30):
    code = write_code(tmp_path / "code", HANDLERS[kind])
    function = function_spec(code, handler=handler, timeout=timeout)
    with LambdaRuntime(receiver, NOWHERE, tmp_path / "logs", concurrency=1) as runtime:
        return runtime.invoke(function, create_request(), LOG_NAME)


def test_a_handler_answers_over_https_trusting_the_local_ca(tmp_path: Path, receiver: ResponseReceiver) -> None:
    # GIVEN a handler that answers with the default SSL context, WHEN invoked
    outcome = invoke(tmp_path, receiver, "answers")

    # THEN its answer is the outcome, and its context counted down from the function's Timeout
    assert outcome.succeeded, outcome.reason
    assert outcome.answer is not None and outcome.answer.physical_id == "thing-1"
    assert 0 < outcome.answer.data["Remaining"] <= 30_000


@pytest.mark.parametrize(
    ("kind", "handler", "timeout", "expected"),
    [
        ("returns", "provider.handler", 30, "ended without answering (the handler returned without answering)"),
        ("raises", "provider.handler", 30, "Runtime.HandlerError: ValueError: boom"),
        ("returns", "missing.handler", 30, "Runtime.ImportModuleError: ModuleNotFoundError"),
        ("sleeps", "provider.handler", 1, "did not answer within its Timeout of 1 s and was stopped"),
    ],
)
def test_a_handler_that_never_answers_fails_with_the_reason(
    tmp_path: Path, receiver: ResponseReceiver, kind: str, handler: str, timeout: int, expected: str
) -> None:
    # GIVEN a handler that returns, raises, cannot be imported or outlives its Timeout without answering
    # WHEN invoked
    outcome = invoke(tmp_path, receiver, kind, handler, timeout)

    # THEN the resource fails with what happened, and its logs are kept
    assert not outcome.succeeded
    assert expected in outcome.reason
    assert "CloudFormation would" in outcome.reason
    assert (tmp_path / "logs" / LOG_NAME).read_text().startswith("=== ")
