"""The failure paths of CloudFormation's real event sequences: rollback Updates, things deleted
outside CloudFormation, the invocation's deadline, and the Delete after a Create of unknown outcome.

Each test replays what CloudFormation sends after a failure and checks the invariant: the live
things are exactly the resources CloudFormation believes exist, each named by its PhysicalResourceId.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import THING_ARN, THING_ID, FakeLambdaContext, load_event, update_event

from managed_thing_provider.lifecycle import REPLACEMENT_TAG, client_token, fingerprint
from managed_thing_provider.properties import parse_properties
from unit.support import (
    NEW_THING_ARN,
    NEW_THING_ID,
    REPLACEMENT_OPERATIONS,
    SEED_SECRETS,
    Throttler,
    create_request,
    created,
    leaked,
    properties,
    same_json,
    stub_replacement,
)

ROLLBACK_REQUEST_ID = "0b6f7c1e-9999-4c3d-9e8f-0123456789ab"
STACK_ID = load_event("create")["StackId"]


def token(event: dict[str, Any]) -> str:
    return client_token(event["StackId"], event["LogicalResourceId"], event["RequestId"])


def live_thing(provider: Any, thing_id: str = THING_ID, role: str = "CONTROLLER", status: str = "ACTIVATED") -> None:
    provider.stubber.add_response(
        "get_managed_thing",
        {**created(thing_id, THING_ARN.replace(THING_ID, thing_id)), "Role": role, "ProvisioningStatus": status},
        {"Identifier": thing_id},
    )


def stack_status(cloudformation: Any, status: str) -> None:
    cloudformation.stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "HomeFleet",
                    "StackId": STACK_ID,
                    "CreationTime": "2026-11-26T08:00:00Z",
                    "StackStatus": status,
                }
            ]
        },
        {"StackName": STACK_ID},
    )


def rollback_of(forward_old: dict[str, Any], forward_new: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The rollback Update CloudFormation sends after a forward Update that kept the thing's id."""
    return update_event(forward_new, forward_old, RequestId=ROLLBACK_REQUEST_ID, **overrides)


# --- Rollback Updates never replace ------------------------------------------------------------------


def test_the_rollback_of_a_failed_role_change_restores_in_place(
    provider: Any, api_calls: Any, cloudformation: Any
) -> None:
    # GIVEN a forward Update that changed the role (a replacement) and a name, and answered FAILED with id A,
    # and the rollback Update CloudFormation then sends: PhysicalResourceId A, properties swapped
    forward_new = properties(Role="DEVICE", Name="Renamed hub")
    rollback = rollback_of(properties(), forward_new)
    # AND thing A, which the failed replacement never touched, still a CONTROLLER
    live_thing(provider, role="CONTROLLER")
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": THING_ID, "Name": "Living room hub"})
    # WHEN the handler runs
    response = provider.invoke(rollback)
    # THEN no second thing is created: A is restored in place and keeps its id
    assert "CreateManagedThing" not in api_calls.operations
    assert api_calls.operations == ["GetManagedThing", "UpdateManagedThing"]
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", THING_ID)
    # AND the role decision came from the thing itself: the stack's status was not needed
    assert cloudformation.calls.operations == []


def test_a_forward_role_change_still_replaces(provider: Any, api_calls: Any) -> None:
    # GIVEN an Update to DEVICE of a thing that is a CONTROLLER
    event = update_event(properties(), properties(Role="DEVICE"))
    live_thing(provider, role="CONTROLLER")
    stub_replacement(provider, token(event), expected=create_request(token(event), Role="DEVICE"))
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN a new thing replaces it (the old one tagged with its token meanwhile)
    assert api_calls.operations == REPLACEMENT_OPERATIONS
    assert response["PhysicalResourceId"] == NEW_THING_ID


@pytest.mark.parametrize("status", ["UPDATE_ROLLBACK_IN_PROGRESS"])
@pytest.mark.parametrize(
    "change",
    [
        {"AuthenticationMaterial": "WIFI:S:other-hub;T:WPA;P:hunter33;;"},
        {"AuthenticationMaterialType": "CUSTOM_PROTOCOL_QR_BAR_CODE"},
    ],
    ids=["material", "material type"],
)
def test_the_rollback_of_a_failed_material_change_never_replaces(
    provider: Any, api_calls: Any, cloudformation: Any, change: dict[str, Any], status: str
) -> None:
    # GIVEN a forward Update of the material (a replacement) that failed, and its rollback Update,
    # while the stack is rolling back (GetManagedThing does not return the material to compare with)
    rollback = rollback_of(properties(), properties(**change, Name="bad!name"))
    live_thing(provider)
    stack_status(cloudformation, status)
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": THING_ID, "Name": "Living room hub"})
    # WHEN the handler runs
    response = provider.invoke(rollback)
    # THEN the stack's status was read (this stack only), and the thing is restored in place, not replaced
    assert cloudformation.calls.calls == [("DescribeStacks", {"StackName": STACK_ID})]
    assert api_calls.operations == ["GetManagedThing", "UpdateManagedThing"]
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", THING_ID)


def test_a_forward_material_change_replaces_when_the_stack_is_updating(
    provider: Any, api_calls: Any, cloudformation: Any
) -> None:
    # GIVEN a forward Update of the material while the stack is UPDATE_IN_PROGRESS
    event = update_event(properties(), properties(AuthenticationMaterialType="CUSTOM_PROTOCOL_QR_BAR_CODE"))
    live_thing(provider)
    stack_status(cloudformation, "UPDATE_IN_PROGRESS")
    stub_replacement(provider, token(event))
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the thing is replaced
    assert api_calls.operations == REPLACEMENT_OPERATIONS
    assert response["PhysicalResourceId"] == NEW_THING_ID


def test_without_the_stack_status_a_material_change_falls_back_to_the_properties(
    provider: Any, api_calls: Any, cloudformation: Any
) -> None:
    # GIVEN a material change, and DescribeStacks denied (or unanswered: a local engine without it)
    event = update_event(properties(), properties(AuthenticationMaterialType="CUSTOM_PROTOCOL_QR_BAR_CODE"))
    live_thing(provider)
    cloudformation.stubber.add_client_error("describe_stacks", "AccessDenied", http_status_code=403)
    provider.stubber.add_response("create_managed_thing", created(NEW_THING_ID, NEW_THING_ARN))
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the Update still succeeds, deciding from Old against New as before: a replacement
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == NEW_THING_ID


def test_a_replacement_is_not_decided_on_a_guess_while_the_stack_status_is_throttled(
    provider: Any, api_calls: Any, cloudformation: Any
) -> None:
    # GIVEN a material change (which replaces the thing unless the stack is rolling back), and DescribeStacks
    # throttled on every attempt, as in a fleet-wide rollback where every thing asks at once
    event = update_event(properties(), properties(AuthenticationMaterialType="CUSTOM_PROTOCOL_QR_BAR_CODE"))
    live_thing(provider)
    with Throttler(cloudformation.stubber.client, "DescribeStacks", cloudformation.stubber) as throttler:
        # WHEN the handler runs
        response = provider.invoke(event)
    # THEN it asked for longer than a hint gets, then answered FAILED without creating anything: in a rollback, a
    # replacement would re-create the thing (new Id); the reason says what to do
    assert throttler.calls > 1
    assert api_calls.operations == ["GetManagedThing"]
    assert response["Status"] == "FAILED"
    assert response["PhysicalResourceId"] == THING_ID
    assert "stayed unavailable (ThrottlingException)" in response["Reason"]
    assert "`cdk rollback`" in response["Reason"]
    assert len(response["Reason"]) <= 256
    from managed_thing_provider.clients import ROLLBACK_STATUS_SECONDS, STACK_STATUS_SECONDS

    assert ROLLBACK_STATUS_SECONDS > STACK_STATUS_SECONDS


def test_an_endpoint_configured_for_the_service_alone_does_not_stop_the_stack_status_being_asked(
    provider: Any, api_calls: Any, cloudformation: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an endpoint configured for the service and none for CloudFormation (how a local engine once ran the
    # provider, which then skipped DescribeStacks: a branch on the engine's variables), and a material change
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS", "http://127.0.0.1:8765")
    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDFORMATION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    event = update_event(properties(), properties(AuthenticationMaterialType="CUSTOM_PROTOCOL_QR_BAR_CODE"))
    live_thing(provider)
    stack_status(cloudformation, "UPDATE_IN_PROGRESS")
    provider.stubber.add_response("create_managed_thing", created(NEW_THING_ID, NEW_THING_ARN))
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the stack's status is asked as anywhere else (the provider does not branch on a local engine)
    assert cloudformation.calls.operations == ["DescribeStacks"]
    assert response["PhysicalResourceId"] == NEW_THING_ID


def test_the_rollback_of_an_update_that_added_brand_keeps_the_thing(provider: Any, api_calls: Any) -> None:
    # GIVEN an in-place Update that added Brand (UpdateManagedThing cannot clear it), another resource failing,
    # and the rollback Update that "removes" Brand again
    forward_old = properties(Brand=None)
    rollback = rollback_of(forward_old, properties())
    live_thing(provider)
    # WHEN the handler runs
    response = provider.invoke(rollback)
    # THEN the thing is kept (no replacement), and nothing is sent for Brand
    assert api_calls.operations == ["GetManagedThing"]
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", THING_ID)


# --- Out-of-band deletion converges --------------------------------------------------------------------


@pytest.mark.parametrize("gone", ["ResourceNotFoundException", "DELETE_IN_PROGRESS"])
def test_an_update_of_a_thing_deleted_outside_cloudformation_creates_it_again(
    provider: Any, api_calls: Any, gone: str, caplog: Any
) -> None:
    # GIVEN an in-place Update of a thing someone deleted outside CloudFormation
    event = update_event(properties(), properties(Name="Kitchen hub"))
    if gone == "ResourceNotFoundException":
        provider.stubber.add_client_error("get_managed_thing", gone, http_status_code=404)
    else:
        live_thing(provider, status=gone)
    expected = create_request(token(event), Name="Kitchen hub")
    provider.stubber.add_response("create_managed_thing", created(NEW_THING_ID, NEW_THING_ARN), expected)
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the thing is created again with the desired values, under a new id (the cleanup Delete of the old
    # id then meets a 404, which is success), and a warning says so
    assert api_calls.operations == ["GetManagedThing", "CreateManagedThing"]
    assert same_json(api_calls.params("CreateManagedThing")[0], expected)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", NEW_THING_ID)
    assert response["Data"]["Id"] == NEW_THING_ID
    assert any(r.levelname == "WARNING" and "deleted outside CloudFormation" in r.getMessage() for r in caplog.records)


def test_the_rollback_of_an_update_of_a_deleted_thing_converges_too(provider: Any, api_calls: Any) -> None:
    # GIVEN the rollback Update of a thing that no longer exists
    rollback = rollback_of(properties(), properties(Name="Kitchen hub"))
    provider.stubber.add_client_error("get_managed_thing", "ResourceNotFoundException", http_status_code=404)
    provider.stubber.add_response("create_managed_thing", created(NEW_THING_ID, NEW_THING_ARN))
    # WHEN the handler runs
    response = provider.invoke(rollback)
    # THEN the rollback succeeds with a thing that exists (UPDATE_ROLLBACK_FAILED is not the end)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", NEW_THING_ID)


# --- Thing ids are the model's --------------------------------------------------------------------------


def test_a_model_valid_id_with_a_hyphen_is_updated_in_place(provider: Any, api_calls: Any) -> None:
    # GIVEN an in-place Update of thing "mt-0123" (the model's Id pattern is [a-zA-Z0-9:_-]*)
    event = update_event(properties(), properties(Name="Kitchen hub"), PhysicalResourceId="mt-0123")
    live_thing(provider, thing_id="mt-0123")
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": "mt-0123", "Name": "Kitchen hub"})
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN it is updated, not re-created
    assert api_calls.operations == ["GetManagedThing", "UpdateManagedThing"]
    assert response["PhysicalResourceId"] == "mt-0123"


# --- A Create of unknown outcome stays recoverable ------------------------------------------------------


def test_a_create_whose_outcome_stays_unknown_answers_a_recoverable_id(provider: Any, api_calls: Any) -> None:
    # GIVEN a Create the service answers with 500 on every attempt (it may have committed the thing)
    event = load_event("create")
    for _ in range(5):
        provider.stubber.add_client_error(
            "create_managed_thing", "InternalServerException", "Internal error", http_status_code=500
        )
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN every attempt carried the same token (so a commit is never doubled), and the FAILED answer's
    # PhysicalResourceId carries it: the rollback Delete can find what was committed
    tokens = {params["ClientToken"] for params in api_calls.params("CreateManagedThing")}
    assert tokens == {token(event)}
    assert len(api_calls.params("CreateManagedThing")) == 5
    assert response["Status"] == "FAILED"
    assert response["PhysicalResourceId"] == f"ClientToken/{token(event)}"
    assert response["Reason"].startswith("CreateManagedThing failed: InternalServerException")
    assert leaked(response["PhysicalResourceId"] + response["Reason"], SEED_SECRETS) == []


def test_a_create_throttled_until_the_deadline_answers_a_recoverable_id(provider: Any, api_calls: Any) -> None:
    # GIVEN a Create throttled on every attempt until the deadline: nothing was committed, but another delivery of
    # the same event (Lambda delivers at least once) may still make the thing after CloudFormation took this answer
    from managed_thing_provider.deadline import MAX_ATTEMPTS

    event = load_event("create")
    with Throttler(provider.module.client, "CreateManagedThing", provider.stubber) as throttler:
        # WHEN the handler runs
        response = provider.invoke(event)
    # THEN it retried past the count other errors get, every attempt with the same token, and answers FAILED with
    # the recoverable id, so the rollback Delete finds whatever that token made
    assert throttler.calls > MAX_ATTEMPTS
    assert {params["ClientToken"] for params in api_calls.params("CreateManagedThing")} == {token(event)}
    assert response["Status"] == "FAILED"
    assert response["PhysicalResourceId"] == f"ClientToken/{token(event)}"
    assert response["Reason"].startswith("CreateManagedThing failed: ThrottlingException")


def test_the_delete_after_an_unknown_create_deletes_what_it_committed(provider: Any, api_calls: Any) -> None:
    # GIVEN the rollback Delete of that Create: the recoverable id, and the Create's properties
    create = load_event("create")
    physical_id = f"ClientToken/{token(create)}"
    delete = load_event(
        "create", RequestType="Delete", RequestId="c0ffee00-5555-4c3d-9e8f-0123456789ab", PhysicalResourceId=physical_id
    )
    # AND the service, which had committed the thing, answering the same token and parameters with it
    provider.stubber.add_response("create_managed_thing", created(), create_request(token(create)))
    provider.stubber.add_response("delete_managed_thing", {}, {"Identifier": THING_ID})
    # WHEN the handler runs
    response = provider.invoke(delete)
    # THEN the committed thing is found by its token and deleted
    assert api_calls.operations == ["CreateManagedThing", "DeleteManagedThing"]
    assert api_calls.params("DeleteManagedThing") == [{"Identifier": THING_ID}]
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", physical_id)


def test_the_delete_after_an_unknown_create_of_invalid_properties_calls_nothing(provider: Any, api_calls: Any) -> None:
    # GIVEN a recoverable id whose properties fail validation (so no Create was ever sent)
    physical_id = "ClientToken/" + "a" * 64
    delete = load_event(
        "create",
        RequestType="Delete",
        PhysicalResourceId=physical_id,
        ResourceProperties=properties(Name="bad*name"),
    )
    # WHEN the handler runs
    response = provider.invoke(delete)
    # THEN SUCCESS without a call
    assert api_calls.calls == []
    assert response["Status"] == "SUCCESS"


def test_an_update_of_a_recoverable_id_creates_the_thing_anew(provider: Any, api_calls: Any) -> None:
    # GIVEN an Update of a resource whose Create's outcome was unknown (a stack kept with rollback disabled)
    event = update_event(properties(), properties(Name="Kitchen hub"), PhysicalResourceId="ClientToken/" + "b" * 64)
    provider.stubber.add_response(
        "create_managed_thing",
        created(NEW_THING_ID, NEW_THING_ARN),
        create_request(token(event), Name="Kitchen hub"),
    )
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN a thing is created under this Update's token; the cleanup Delete of the recoverable id removes
    # whatever the first Create made
    assert api_calls.operations == ["CreateManagedThing"]
    assert response["PhysicalResourceId"] == NEW_THING_ID


# --- One deadline per invocation ----------------------------------------------------------------------


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


@pytest.fixture
def unanswered_provider(silent_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The real handler, its client pointed at the silent endpoint as a local engine points it (configured in the
    environment, so that the siblings made near the deadline go there too); answers recorded with their time."""
    import managed_thing_provider.index as index
    from managed_thing_provider import clients, deadline

    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS", silent_endpoint)
    deadline._sibling.cache_clear()
    client = clients.managed_integrations_client()
    monkeypatch.setattr(index, "client", client)
    answers: list[tuple[float, dict[str, Any]]] = []
    send = index.helper._send

    def capture(status: str | None = None, reason: str = "", send_response: Any = None) -> None:
        send(status, reason, send_response=lambda _url, body, _verify: answers.append((time.monotonic(), body)))

    monkeypatch.setattr(index.helper, "_send", capture)
    yield index, answers
    try:
        from managed_thing_provider import deadline

        deadline._sibling.cache_clear()
    except (ImportError, AttributeError):
        pass


REMAINING_MS = 9_000
CRHELPER_TIMER_S = REMAINING_MS / 1000 - 0.5


def test_a_create_against_a_silent_endpoint_answers_before_crhelpers_timer_with_a_recoverable_id(
    unanswered_provider: Any,
) -> None:
    # GIVEN a Create, an endpoint that never answers, and 9 s left in the invocation
    index, answers = unanswered_provider
    event = load_event("create")
    started = time.monotonic()
    # WHEN the handler runs
    index.handler(event, FakeLambdaContext(remaining_ms=REMAINING_MS))
    # THEN the provider itself answered, once, before crhelper's timer (which answers with no id)
    assert len(answers) == 1
    at, answer = answers[0]
    assert at - started < CRHELPER_TIMER_S
    assert answer["Status"] == "FAILED"
    # AND the Create may have been committed: the id carries its token, for the rollback Delete
    assert answer["PhysicalResourceId"] == f"ClientToken/{token(event)}"
    assert answer["Reason"].startswith("CreateManagedThing failed: ReadTimeoutError")
    assert len(answer["Reason"]) <= 256


def test_an_update_against_a_silent_endpoint_answers_in_time_keeping_its_id(unanswered_provider: Any) -> None:
    # GIVEN an in-place Update (up to four calls), an endpoint that never answers, and 9 s left
    index, answers = unanswered_provider
    event = update_event(properties(), properties(Name="Kitchen hub", Tags={"fleet": "office"}))
    started = time.monotonic()
    # WHEN the handler runs
    index.handler(event, FakeLambdaContext(remaining_ms=REMAINING_MS))
    # THEN one answer, before crhelper's timer, FAILED with the thing's own id (not "")
    assert len(answers) == 1
    at, answer = answers[0]
    assert at - started < CRHELPER_TIMER_S
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("FAILED", THING_ID)
    assert answer["Reason"].startswith("GetManagedThing failed")


@pytest.mark.parametrize("remaining_s", [2.5, 6.0, 9.0, 20.0, 60.0, 120.0, 900.0])
def test_every_attempt_of_every_call_ends_before_the_deadline(remaining_s: float) -> None:
    # GIVEN a deadline with a fake clock, and a call whose every attempt times out after its full timeouts
    from managed_thing_provider.deadline import MAX_ATTEMPTS, Deadline

    now = [0.0]
    deadline = Deadline.from_context(FakeLambdaContext(remaining_ms=int(remaining_s * 1000)), clock=lambda: now[0])
    attempts = 0
    # WHEN attempts are made back to back while the deadline gives timeouts for one
    while attempts < MAX_ATTEMPTS and (timeouts := deadline.timeouts()) is not None:
        now[0] += sum(timeouts)
        attempts += 1
        # THEN each attempt, at its worst, ends before the deadline, which keeps the answer's reserve
        assert deadline.remaining() >= 0
    assert now[0] <= remaining_s - 5.0 or attempts == 0


# --- A replacement of unknown outcome stays recoverable ---------------------------------------------------


def tagged_thing(provider: Any, pending_token: str) -> None:
    """Thing A, carrying the token of a replacement whose outcome its forward Update never learnt."""
    provider.stubber.add_response(
        "get_managed_thing",
        {
            **created(),
            "Role": "CONTROLLER",
            "ProvisioningStatus": "ACTIVATED",
            "Tags": {REPLACEMENT_TAG: pending_token},
        },
        {"Identifier": THING_ID},
    )


def test_a_replacement_whose_outcome_stays_unknown_leaves_its_token_on_the_old_thing(
    provider: Any, api_calls: Any, cloudformation: Any
) -> None:
    # GIVEN a replacing Update (a new material) whose Create the service answers with 500 on every attempt
    event = update_event(properties(), properties(AuthenticationMaterialType="CUSTOM_PROTOCOL_QR_BAR_CODE"))
    live_thing(provider)
    stack_status(cloudformation, "UPDATE_IN_PROGRESS")
    pending = f"{token(event)}:{fingerprint(parse_properties(event['ResourceProperties']))}"
    provider.stubber.add_response("tag_resource", {}, {"ResourceArn": THING_ARN, "Tags": {REPLACEMENT_TAG: pending}})
    for _ in range(5):
        provider.stubber.add_client_error(
            "create_managed_thing", "InternalServerException", "Internal error", http_status_code=500
        )
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN FAILED with the old id, and the old thing keeps the replacement's token and the fingerprint of its
    # properties (no UntagResource)
    assert (response["Status"], response["PhysicalResourceId"]) == ("FAILED", THING_ID)
    assert api_calls.operations == ["GetManagedThing", "TagResource", *["CreateManagedThing"] * 5]


def test_the_rollback_of_a_replacement_of_unknown_outcome_deletes_what_it_committed(
    provider: Any, api_calls: Any, cloudformation: Any
) -> None:
    # GIVEN the rollback Update after that forward Update: thing A carries the forward replacement's token
    forward_new = properties(AuthenticationMaterialType="CUSTOM_PROTOCOL_QR_BAR_CODE")
    forward = update_event(properties(), forward_new)
    rollback = rollback_of(properties(), forward_new)
    tagged_thing(provider, f"{token(forward)}:{fingerprint(parse_properties(forward_new))}")
    stack_status(cloudformation, "UPDATE_ROLLBACK_IN_PROGRESS")
    # AND the service, which committed the replacement B, answering the same token and parameters with it
    provider.stubber.add_response(
        "create_managed_thing",
        created(NEW_THING_ID, NEW_THING_ARN),
        create_request(token(forward), AuthenticationMaterialType="CUSTOM_PROTOCOL_QR_BAR_CODE"),
    )
    provider.stubber.add_response("delete_managed_thing", {}, {"Identifier": NEW_THING_ID})
    provider.stubber.add_response("untag_resource", {}, {"ResourceArn": THING_ARN, "TagKeys": [REPLACEMENT_TAG]})
    # WHEN the handler runs
    response = provider.invoke(rollback)
    # THEN B is found by the forward's token (with the forward's properties) and deleted, the tag removed,
    # and A is kept: the live things are again exactly A
    assert api_calls.operations == ["GetManagedThing", "CreateManagedThing", "DeleteManagedThing", "UntagResource"]
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", THING_ID)
    assert cloudformation.calls.operations == ["DescribeStacks"]  # asked once


def test_a_forward_update_drops_a_stale_replacement_token(provider: Any, api_calls: Any, cloudformation: Any) -> None:
    # GIVEN a token left on thing A (its replacement's outcome became known, the UntagResource failed),
    # and a forward Update in place
    tagged_thing(provider, "c" * 64)
    stack_status(cloudformation, "UPDATE_IN_PROGRESS")
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": THING_ID, "Name": "Kitchen hub"})
    provider.stubber.add_response("untag_resource", {}, {"ResourceArn": THING_ARN, "TagKeys": [REPLACEMENT_TAG]})
    # WHEN the handler runs
    response = provider.invoke(update_event(properties(), properties(Name="Kitchen hub")))
    # THEN the tag is removed and nothing is created (only a rollback knows the replacement's properties)
    assert api_calls.operations == ["GetManagedThing", "UpdateManagedThing", "UntagResource"]
    assert response["Status"] == "SUCCESS"


def test_a_refused_replacement_removes_its_token(provider: Any, api_calls: Any) -> None:
    # GIVEN a replacing Update whose Create the service refuses (nothing was made)
    event = update_event(properties(), properties(Role="DEVICE"))
    live_thing(provider)
    provider.stubber.add_response("tag_resource", {})
    provider.stubber.add_client_error("create_managed_thing", "AccessDeniedException", http_status_code=403)
    provider.stubber.add_response("untag_resource", {}, {"ResourceArn": THING_ARN, "TagKeys": [REPLACEMENT_TAG]})
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN FAILED with the old id, and the token is removed: there is nothing to recover
    assert (response["Status"], response["PhysicalResourceId"]) == ("FAILED", THING_ID)
    assert api_calls.operations == REPLACEMENT_OPERATIONS


def test_a_thing_that_cannot_be_tagged_is_still_replaced(provider: Any, api_calls: Any) -> None:
    # GIVEN a replacing Update of a thing whose tags are full (TagResource refused)
    event = update_event(properties(), properties(Role="DEVICE"))
    live_thing(provider)
    provider.stubber.add_client_error("tag_resource", "ValidationException", "Too many tags", http_status_code=400)
    provider.stubber.add_response("create_managed_thing", created(NEW_THING_ID, NEW_THING_ARN))
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the replacement is made anyway (its outcome is known here)
    assert api_calls.operations == ["GetManagedThing", "TagResource", "CreateManagedThing"]
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", NEW_THING_ID)


def test_a_rollback_recovers_only_the_replacement_of_its_own_forward_update(
    provider: Any, api_calls: Any, cloudformation: Any
) -> None:
    # GIVEN a rollback Update of thing A whose tag names a replacement made with other properties (a stale tag)
    rollback = rollback_of(properties(), properties(AuthenticationMaterialType="CUSTOM_PROTOCOL_QR_BAR_CODE"))
    tagged_thing(provider, f"{'d' * 64}:{fingerprint(parse_properties(properties(Name='Other')))}")
    stack_status(cloudformation, "UPDATE_ROLLBACK_IN_PROGRESS")
    provider.stubber.add_response("untag_resource", {}, {"ResourceArn": THING_ARN, "TagKeys": [REPLACEMENT_TAG]})
    # WHEN the handler runs
    response = provider.invoke(rollback)
    # THEN nothing is created with that token (its parameters are unknown here): the tag is only removed
    assert api_calls.operations == ["GetManagedThing", "UntagResource"]
    assert response["Status"] == "SUCCESS"


def test_with_the_stack_status_unknown_a_pending_replacement_keeps_its_tag(
    provider: Any, api_calls: Any, cloudformation: Any
) -> None:
    # GIVEN thing A carrying a pending replacement, and a stack status that cannot be read
    forward_new = properties(AuthenticationMaterialType="CUSTOM_PROTOCOL_QR_BAR_CODE")
    forward = update_event(properties(), forward_new)
    tagged_thing(provider, f"{token(forward)}:{fingerprint(parse_properties(forward_new))}")
    cloudformation.stubber.add_client_error("describe_stacks", "AccessDenied", http_status_code=403)
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": THING_ID, "Name": "Kitchen hub"})
    # WHEN an Update in place runs
    response = provider.invoke(update_event(properties(), properties(Name="Kitchen hub")))
    # THEN the tag stays (the rollback that can recover the replacement may still come), and no Create is sent
    assert api_calls.operations == ["GetManagedThing", "UpdateManagedThing"]
    assert response["Status"] == "SUCCESS"
