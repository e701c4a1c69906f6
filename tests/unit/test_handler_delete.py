"""Delete events: gone counts as deleted, made-up ids are never sent to the API, and nothing sleeps."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import THING_ID, FakeLambdaContext, load_event
from crhelper import CfnResource

from unit.support import Throttler, created

DELETE_REQUEST_ID = "c0ffee00-4444-4c3d-9e8f-0123456789ab"


def delete_event(physical_id: str = THING_ID, **overrides: Any) -> dict[str, Any]:
    return load_event(
        "create", RequestType="Delete", RequestId=DELETE_REQUEST_ID, PhysicalResourceId=physical_id, **overrides
    )


def test_delete_deletes_the_thing_by_its_id(provider: Any, api_calls: Any) -> None:
    # GIVEN a Delete of a thing
    provider.stubber.add_response("delete_managed_thing", {}, {"Identifier": THING_ID})
    # WHEN the handler runs
    response = provider.invoke(delete_event())
    # THEN DeleteManagedThing is called with the id only (no Force), and SUCCESS keeps the id
    assert api_calls.calls == [("DeleteManagedThing", {"Identifier": THING_ID})]
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == THING_ID
    assert response["RequestId"] == DELETE_REQUEST_ID


def test_a_thing_that_is_already_gone_counts_as_deleted(provider: Any, api_calls: Any) -> None:
    # GIVEN the API saying the thing does not exist
    provider.stubber.add_client_error(
        "delete_managed_thing",
        service_error_code="ResourceNotFoundException",
        http_status_code=404,
        expected_params={"Identifier": THING_ID},
    )
    # WHEN the handler runs
    response = provider.invoke(delete_event())
    # THEN SUCCESS
    assert api_calls.operations == ["DeleteManagedThing"]
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == THING_ID


@pytest.mark.parametrize("state", ["DELETE_IN_PROGRESS", "DELETED"])
def test_a_conflict_while_the_thing_is_being_deleted_counts_as_deleted(
    provider: Any, api_calls: Any, state: str
) -> None:
    # GIVEN a Delete that conflicts because the thing is already on its way out (a retried Delete)
    provider.stubber.add_client_error(
        "delete_managed_thing", service_error_code="ConflictException", http_status_code=409
    )
    provider.stubber.add_response(
        "get_managed_thing", {**created(), "ProvisioningStatus": state}, {"Identifier": THING_ID}
    )
    # WHEN the handler runs
    response = provider.invoke(delete_event())
    # THEN the state is checked and SUCCESS is answered
    assert api_calls.operations == ["DeleteManagedThing", "GetManagedThing"]
    assert response["Status"] == "SUCCESS"


def test_a_conflict_after_which_the_thing_is_gone_counts_as_deleted(provider: Any, api_calls: Any) -> None:
    # GIVEN a conflicting Delete, and the thing gone by the time its state is read
    provider.stubber.add_client_error(
        "delete_managed_thing", service_error_code="ConflictException", http_status_code=409
    )
    provider.stubber.add_client_error(
        "get_managed_thing", service_error_code="ResourceNotFoundException", http_status_code=404
    )
    # WHEN the handler runs
    response = provider.invoke(delete_event())
    # THEN SUCCESS
    assert response["Status"] == "SUCCESS"


def test_a_conflict_on_a_thing_that_is_not_being_deleted_fails(provider: Any, api_calls: Any) -> None:
    # GIVEN a Delete that conflicts while the thing is active (e.g. it still has dependants)
    provider.stubber.add_client_error(
        "delete_managed_thing",
        service_error_code="ConflictException",
        service_message="Thing has active associations",
        http_status_code=409,
    )
    provider.stubber.add_response("get_managed_thing", {**created(), "ProvisioningStatus": "ACTIVATED"})
    # WHEN the handler runs
    response = provider.invoke(delete_event())
    # THEN FAILED, naming the operation and the code, with the same PhysicalResourceId
    assert response["Status"] == "FAILED"
    assert response["Reason"] == "DeleteManagedThing failed: ConflictException: Thing has active associations"
    assert response["PhysicalResourceId"] == THING_ID


def test_a_conflict_whose_state_cannot_be_read_fails_with_the_delete_error(
    provider: Any, api_calls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a conflicting Delete, and no connection to the API when the thing's state is read
    from botocore.exceptions import EndpointConnectionError

    def unreachable(**_kwargs: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://api.iotmanagedintegrations.eu-west-1.amazonaws.com")

    monkeypatch.setattr(provider.module.client, "get_managed_thing", unreachable)
    provider.stubber.add_client_error(
        "delete_managed_thing", service_error_code="ConflictException", service_message="Busy", http_status_code=409
    )
    # WHEN the handler runs
    response = provider.invoke(delete_event())
    # THEN the Delete fails with its own error, in the provider's words (not botocore's)
    assert response["Status"] == "FAILED"
    assert response["Reason"] == "DeleteManagedThing failed: ConflictException: Busy"


@pytest.mark.parametrize("code", ["AccessDeniedException", "InternalServerException"])
def test_other_delete_errors_fail(provider: Any, api_calls: Any, code: str) -> None:
    # GIVEN the API refusing the Delete (a 400: not retryable)
    provider.stubber.add_client_error("delete_managed_thing", service_error_code=code, http_status_code=400)
    # WHEN the handler runs
    response = provider.invoke(delete_event())
    # THEN FAILED with the operation and the code, after one call
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(f"DeleteManagedThing failed: {code}")
    assert api_calls.operations == ["DeleteManagedThing"]


@pytest.mark.parametrize("code", ["ServiceUnavailableException", "InternalServerException"])
def test_5xx_are_retried_a_bounded_number_of_times_then_fail_with_the_last_error(
    provider: Any, api_calls: Any, retry_waits: list[float], code: str
) -> None:
    # GIVEN the API unavailable on every attempt, with plenty of time left
    for _ in range(5):
        provider.stubber.add_client_error("delete_managed_thing", service_error_code=code, http_status_code=503)
    # WHEN the handler runs
    response = provider.invoke(delete_event())
    # THEN the Delete was tried 5 times, waiting (backoff) between attempts, then FAILED naming the error
    assert api_calls.operations == ["DeleteManagedThing"] * 5
    assert len(retry_waits) == 4
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(f"DeleteManagedThing failed: {code}")


def test_a_delete_throttled_until_the_deadline_fails_in_time_naming_the_throttling(
    provider: Any, retry_waits: list[float]
) -> None:
    # GIVEN the API throttling every Delete, and the invocation's 120 s
    from managed_thing_provider.deadline import ANSWER_RESERVE_SECONDS, MAX_ATTEMPTS, THROTTLE_MAX_BACKOFF_SECONDS

    with Throttler(provider.module.client, "DeleteManagedThing", provider.stubber) as throttler:
        # WHEN the handler runs
        response = provider.invoke(delete_event())
    # THEN it kept retrying (time is the budget, not a count) and answered within the time, reserve kept
    assert throttler.calls > MAX_ATTEMPTS
    assert 120.0 - ANSWER_RESERVE_SECONDS - 2 * THROTTLE_MAX_BACKOFF_SECONDS < sum(retry_waits)
    assert sum(retry_waits) <= 120.0 - ANSWER_RESERVE_SECONDS
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("DeleteManagedThing failed: ThrottlingException")


def test_a_throttled_delete_that_then_succeeds_is_done(provider: Any, api_calls: Any) -> None:
    # GIVEN one throttled attempt, then the Delete accepted
    provider.stubber.add_client_error("delete_managed_thing", service_error_code="ThrottlingException")
    provider.stubber.add_response("delete_managed_thing", {}, {"Identifier": THING_ID})
    # WHEN the handler runs
    response = provider.invoke(delete_event())
    # THEN SUCCESS after the retry
    assert api_calls.operations == ["DeleteManagedThing", "DeleteManagedThing"]
    assert response["Status"] == "SUCCESS"


@pytest.mark.parametrize(
    "physical_id",
    [
        "HomeFleet_HubC5CB2B3F_AB12CD34",  # crhelper's id after a failed Create
        "HomeFleet-HubC5CB2B3F-1A2B3C4D5E6F",  # CloudFormation's own, when an answer had none
        "",
        "arn:aws:iotmanagedintegrations:eu-west-1:123456789012:managed-thing/a1b2c3d4e5f6",
        "has spaces",
        "x" * 65,
        "ClientToken/not a token",
    ],
    ids=["crhelper", "cloudformation", "empty", "arn", "spaces", "too long", "bad recoverable id"],
)
def test_a_physical_id_that_names_no_thing_only_searches_for_things_of_this_resource(
    provider: Any, api_calls: Any, physical_id: str
) -> None:
    # GIVEN a Delete whose PhysicalResourceId cannot be a managed thing's id, and no thing with its serial number
    provider.stubber.add_response("list_managed_things", {"Items": []})
    # WHEN the handler runs
    response = provider.invoke(delete_event(physical_id))
    # THEN the only call looks for what a cancelled Create may have made (by the most selective filter), and
    # the Delete succeeds, echoing the id CloudFormation sent
    assert api_calls.calls == [("ListManagedThings", {"SerialNumberFilter": "SN-SECRET-0001", "MaxResults": 1000})]
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == physical_id


@pytest.mark.parametrize("thing_id", ["mt-0123", "under_score", "a:b", "Other-Stack-Resource-1ABC"])
def test_an_id_the_model_allows_is_deleted(provider: Any, api_calls: Any, thing_id: str) -> None:
    # GIVEN a Delete of an id that fits the model's ManagedThingId pattern [a-zA-Z0-9:_-]*
    provider.stubber.add_response("delete_managed_thing", {}, {"Identifier": thing_id})
    # WHEN the handler runs
    response = provider.invoke(delete_event(thing_id))
    # THEN the thing is deleted (not orphaned because the id is not alphanumeric)
    assert api_calls.calls == [("DeleteManagedThing", {"Identifier": thing_id})]
    assert response["Status"] == "SUCCESS"


def test_model_ids_name_a_thing_and_generated_ids_do_not() -> None:
    # GIVEN a thing's id, and crhelper's id shape for another logical id of the same stack
    from managed_thing_provider.lifecycle import is_thing_id

    stack_id = load_event("create")["StackId"]
    # WHEN it is checked
    # THEN ids that fit the model's Identifier are things, unless generated for this very resource
    assert is_thing_id(THING_ID, stack_id=stack_id, logical_resource_id="HubC5CB2B3F")
    assert is_thing_id("mt-0123", stack_id=stack_id, logical_resource_id="HubC5CB2B3F")
    assert is_thing_id("HomeFleet_Other_AB12CD34", stack_id=stack_id, logical_resource_id="HubC5CB2B3F")
    assert not is_thing_id("HomeFleet_HubC5CB2B3F_AB12CD34", stack_id=stack_id, logical_resource_id="HubC5CB2B3F")
    assert not is_thing_id("HomeFleet-HubC5CB2B3F-AB12CD34", stack_id=stack_id, logical_resource_id="HubC5CB2B3F")


def test_crhelper_is_configured_not_to_sleep_on_delete(provider: Any) -> None:
    # GIVEN the provider's crhelper
    helper = provider.module.helper
    # WHEN its Delete settings are read
    # THEN the sleep before answering a Delete is 0 (crhelper's default is 120 s) and no polling is set up
    assert helper._sleep_on_delete == 0
    assert helper._poll_delete_func is None


def test_delete_does_not_sleep_even_with_plenty_of_time_left(
    provider: Any, api_calls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN crhelper's real wait-for-logs step with a recording sleep, and a context with 14 minutes left
    # (crhelper binds time.sleep as a default argument, so it is passed in rather than patched)
    slept: list[float] = []
    helper = provider.module.helper
    monkeypatch.setattr(helper, "_wait_for_cwlogs", lambda: CfnResource._wait_for_cwlogs(helper, sleep=slept.append))
    monkeypatch.setattr("time.sleep", slept.append)
    provider.stubber.add_response("delete_managed_thing", {}, {"Identifier": THING_ID})
    # WHEN a Delete is handled
    provider.module.handler(delete_event(), FakeLambdaContext(remaining_ms=14 * 60 * 1000))
    # THEN it answered without sleeping
    assert provider.responses[-1]["Status"] == "SUCCESS"
    assert slept == []


def test_the_sleep_check_would_catch_crhelpers_default(provider: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN crhelper's wait-for-logs step with its default sleep_on_delete of 120 s
    slept: list[float] = []
    helper = provider.module.helper
    monkeypatch.setattr(helper, "_sleep_on_delete", 120)
    monkeypatch.setattr(helper, "_context", FakeLambdaContext(remaining_ms=14 * 60 * 1000))
    # WHEN the step runs with the same context as above
    CfnResource._wait_for_cwlogs(helper, sleep=slept.append)
    # THEN it would have slept: the previous test's context is long enough to expose a sleep
    assert slept == [120]
