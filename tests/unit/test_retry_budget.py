"""The retry budget of one call: throttling is retried until the deadline, other errors a bounded number of times.

Every call goes through a real client under botocore's Stubber; the waits advance the deadline's clock instead of
sleeping (``retry_waits``), so a call throttled for two minutes runs in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import FakeLambdaContext

THING = {"Id": "a1b2c3", "Arn": "arn:aws:iotmanagedintegrations:eu-west-1:123456789012:managed-thing/a1b2c3"}


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Any]]:
    """A client of the service under a Stubber; pending answers are allowed (a call may stop at its deadline).

    Its timeouts (1 s + 1 s) fit every attempt, so no attempt goes through an unstubbed sibling with shorter ones.
    """
    import boto3
    from botocore.config import Config
    from botocore.stub import Stubber

    import managed_thing_provider.index  # noqa: F401 - configures the session (bundled service model)
    from managed_thing_provider import clients

    config = clients.CLIENT_CONFIG.merge(Config(connect_timeout=1, read_timeout=1))
    client = boto3.client("iot-managed-integrations", config=config)
    with Stubber(client) as stubber:
        yield client, stubber


def throttle(stubber: Any, times: int, status: int = 429) -> None:
    for _ in range(times):
        stubber.add_client_error("get_managed_thing", "ThrottlingException", "Rate exceeded", http_status_code=status)


def test_a_burst_of_throttles_then_success_within_the_deadline_succeeds(
    stubbed: tuple[Any, Any], retry_waits: list[float]
) -> None:
    from managed_thing_provider.deadline import (
        MAX_ATTEMPTS,
        THROTTLE_BASE_SECONDS,
        THROTTLE_MAX_BACKOFF_SECONDS,
        Deadline,
        call,
    )

    # GIVEN a call throttled 40 times (far more than the attempts other errors get), then answered
    client, stubber = stubbed
    throttle(stubber, 40)
    stubber.add_response("get_managed_thing", THING, {"Identifier": "a1b2c3"})
    deadline = Deadline.from_context(FakeLambdaContext(remaining_ms=120_000))

    # WHEN it is called
    answer = call(client, "GetManagedThing", deadline, Identifier="a1b2c3")

    # THEN it succeeds, after a wait per throttle: the first short, none beyond the cap
    assert answer["Id"] == "a1b2c3"
    assert len(retry_waits) == 40 > MAX_ATTEMPTS
    assert retry_waits[0] <= THROTTLE_BASE_SECONDS
    assert max(retry_waits) <= THROTTLE_MAX_BACKOFF_SECONDS
    assert deadline.remaining() > 0


@pytest.mark.parametrize("remaining_s", [7.5, 20.0, 120.0])
def test_throttles_until_the_deadline_fail_in_time_with_the_reserve_intact(
    stubbed: tuple[Any, Any], retry_waits: list[float], remaining_s: float
) -> None:
    from managed_thing_provider.deadline import MIN_ATTEMPT_SECONDS, ApiError, Deadline, call

    # GIVEN a call throttled on every attempt (more answers queued than can be used), with the HTTP status a 400
    client, stubber = stubbed
    throttle(stubber, 2000, status=400)
    deadline = Deadline.from_context(FakeLambdaContext(remaining_ms=int(remaining_s * 1000)))

    # WHEN it is called
    with pytest.raises(ApiError) as failure:
        call(client, "GetManagedThing", deadline, Identifier="a1b2c3")

    # THEN it used the time up to the deadline, started no attempt without the time one needs, and kept the
    # answer's reserve; the error is the throttling, retryable (another delivery may succeed), not committed
    assert 0 <= deadline.remaining() < MIN_ATTEMPT_SECONDS
    assert failure.value.code == "ThrottlingException"
    assert failure.value.retryable and not failure.value.maybe_committed
    assert "no time left to retry before the deadline" in str(failure.value)


def test_a_throttled_call_within_a_limit_stops_at_the_limit(stubbed: tuple[Any, Any], retry_waits: list[float]) -> None:
    from managed_thing_provider.deadline import MIN_ATTEMPT_SECONDS, ApiError, Deadline, call

    # GIVEN a call limited to 8 s (as the stack status read is), throttled on every attempt, with 2 minutes left
    client, stubber = stubbed
    throttle(stubber, 2000)
    deadline = Deadline.from_context(FakeLambdaContext(remaining_ms=120_000))

    # WHEN it is called
    with pytest.raises(ApiError):
        call(client, "GetManagedThing", deadline, limit=8.0, Identifier="a1b2c3")

    # THEN it stopped at its limit, leaving the rest of the invocation's time
    assert 8.0 - MIN_ATTEMPT_SECONDS - 1.0 < sum(retry_waits) <= 8.0 < deadline.remaining()


def test_server_errors_keep_a_bounded_count_whatever_the_time_left(
    stubbed: tuple[Any, Any], retry_waits: list[float]
) -> None:
    from managed_thing_provider.deadline import MAX_ATTEMPTS, ApiError, Deadline, call

    # GIVEN a call answered 503 on every attempt, with two minutes left
    client, stubber = stubbed
    for _ in range(MAX_ATTEMPTS):
        stubber.add_client_error("get_managed_thing", "ServiceUnavailableException", http_status_code=503)
    deadline = Deadline.from_context(FakeLambdaContext(remaining_ms=120_000))

    # WHEN it is called
    with pytest.raises(ApiError) as failure:
        call(client, "GetManagedThing", deadline, Identifier="a1b2c3")

    # THEN MAX_ATTEMPTS attempts were made, all the answers used, and the error may have been carried out
    stubber.assert_no_pending_responses()
    assert len(retry_waits) == MAX_ATTEMPTS - 1
    assert failure.value.code == "ServiceUnavailableException" and failure.value.maybe_committed


def test_throttles_between_server_errors_do_not_use_up_their_count(
    stubbed: tuple[Any, Any], retry_waits: list[float]
) -> None:
    from managed_thing_provider.deadline import MAX_ATTEMPTS, Deadline, call

    # GIVEN server errors one short of the bound, each followed by a burst of throttles, then an answer
    client, stubber = stubbed
    for _ in range(MAX_ATTEMPTS - 1):
        stubber.add_client_error("get_managed_thing", "InternalServerException", http_status_code=500)
        throttle(stubber, 3)
    stubber.add_response("get_managed_thing", THING, {"Identifier": "a1b2c3"})
    deadline = Deadline.from_context(FakeLambdaContext(remaining_ms=120_000))

    # WHEN it is called, THEN it gets the answer
    assert call(client, "GetManagedThing", deadline, Identifier="a1b2c3")["Id"] == "a1b2c3"


@pytest.mark.parametrize("retry", [1, 2, 5, 10, 40])
def test_the_backoff_is_capped_exponential_with_full_jitter(retry: int) -> None:
    from managed_thing_provider.deadline import backoff

    # GIVEN / WHEN many draws of one retry's wait
    waits = [backoff(retry, 0.05, 2.0) for _ in range(2000)]

    # THEN they spread from 0 to the exponential bound, capped
    bound = min(2.0, 0.05 * 2 ** (retry - 1))
    assert 0.0 <= min(waits) < bound / 4 and bound * 3 / 4 < max(waits) <= bound
