"""Faults on purpose: a rate quota, throttling, server errors, errors after a commit, latency, seeds."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.support import RawClient, make_client, thing
from managed_things_local.emulator.server import EmulatorOptions, EmulatorServer

RETRYING: dict[str, Any] = {"retries": {"mode": "standard", "total_max_attempts": 10}}


def test_requests_beyond_the_rate_limit_are_throttled() -> None:
    # GIVEN an emulator allowing one request every ten seconds
    with EmulatorServer(options=EmulatorOptions(rate_limit=0.1)) as emulator:
        raw = RawClient(emulator.url)

        # WHEN two requests arrive back to back
        first = raw.request("GET", "/managed-things")
        second = raw.request("GET", "/managed-things")

    # THEN the first is served and the second answered ThrottlingException (429)
    assert first.status == 200
    assert (second.status, second.error_type) == (429, "ThrottlingException")
    assert "Message" in second.json


def test_botocore_standard_retries_get_through_the_rate_limit() -> None:
    # GIVEN an emulator allowing ten requests a second
    with EmulatorServer(options=EmulatorOptions(rate_limit=10)) as emulator:
        impatient = make_client(emulator.url)
        patient = make_client(emulator.url, **RETRYING)

        # WHEN a client without retries sends a burst, and then one with standard retries sends another
        with pytest.raises(impatient.exceptions.ThrottlingException):
            for _ in range(100):
                impatient.list_managed_things()
        answers = [patient.create_managed_thing(**thing()) for _ in range(15)]

        # THEN the first is throttled, and the second gets every request through by retrying
        assert all(answer["ResponseMetadata"]["HTTPStatusCode"] == 201 for answer in answers)
        assert sum(answer["ResponseMetadata"]["RetryAttempts"] for answer in answers) > 0
        assert len(emulator.backend.list_things()) == 15


def test_throttle_fraction_throttles_that_share_of_requests() -> None:
    # GIVEN an emulator that throttles every request
    with EmulatorServer(options=EmulatorOptions(throttle_fraction=1.0)) as emulator:
        client = make_client(emulator.url)

        # WHEN a thing is created
        # THEN ThrottlingException is raised and nothing is stored
        with pytest.raises(client.exceptions.ThrottlingException):
            client.create_managed_thing(**thing())
        assert emulator.backend.list_things() == []


def test_error_fraction_fails_before_doing_anything() -> None:
    # GIVEN an emulator that fails every request with a server error
    with EmulatorServer(options=EmulatorOptions(error_fraction=1.0, seed=7)) as emulator:
        raw = RawClient(emulator.url)

        # WHEN creates are sent
        answers = [raw.create(thing()) for _ in range(20)]

        # THEN each is InternalServerException (500) or ServiceUnavailableException (503), both occur,
        # and nothing is stored
        kinds = {(answer.status, answer.error_type) for answer in answers}
        assert kinds == {(500, "InternalServerException"), (503, "ServiceUnavailableException")}
        assert emulator.backend.list_things() == []


def test_error_after_commit_then_a_retry_with_the_token_returns_the_thing() -> None:
    # GIVEN an emulator that creates a thing and then answers 500
    with EmulatorServer(options=EmulatorOptions(error_after_commit_fraction=1.0)) as emulator:
        raw = RawClient(emulator.url)

        # WHEN a create fails that way and is sent again with the same ClientToken
        failed = raw.create(thing(ClientToken="token-1"))
        retried = raw.create(thing(ClientToken="token-1"))

        # THEN the failure was a 500, yet the thing exists, and the retry returns it
        assert (failed.status, failed.error_type) == (500, "InternalServerException")
        (stored,) = emulator.backend.list_things()
        assert retried.status == 201
        assert retried.json["Id"] == stored["Id"]


def test_botocore_retries_after_a_commit_error_create_one_thing() -> None:
    # GIVEN an emulator that answers 500 after committing every new thing
    with EmulatorServer(options=EmulatorOptions(error_after_commit_fraction=1.0)) as emulator:
        client = make_client(emulator.url, **RETRYING)

        # WHEN boto3 creates a thing (its generated ClientToken is reused on retries)
        created = client.create_managed_thing(**thing())

        # THEN the retry succeeded with the thing the first attempt created, and only that one exists
        assert created["ResponseMetadata"]["RetryAttempts"] == 1
        assert [stored["Id"] for stored in emulator.backend.list_things()] == [created["Id"]]


def outcomes(options: EmulatorOptions, count: int = 30) -> list[int]:
    with EmulatorServer(options=options) as emulator:
        raw = RawClient(emulator.url)
        return [raw.request("GET", "/managed-things").status for _ in range(count)]


def test_a_seed_makes_the_faults_repeat() -> None:
    # GIVEN the same fault fractions and seed twice, and another seed
    options = EmulatorOptions(throttle_fraction=0.3, error_fraction=0.3, seed=42)

    # WHEN the same requests are sent to each
    first, second = outcomes(options), outcomes(options)
    other = outcomes(EmulatorOptions(throttle_fraction=0.3, error_fraction=0.3, seed=43))

    # THEN the same seed gives the same answers, a mix of successes and faults, and another seed differs
    assert first == second
    assert {200, 429} <= set(first) and set(first) & {500, 503}
    assert other != first


def test_latency_delays_but_changes_nothing() -> None:
    # GIVEN an emulator with added latency
    with EmulatorServer(options=EmulatorOptions(latency=0.01)) as emulator:
        client = make_client(emulator.url)

        # WHEN a thing is created and read
        created = client.create_managed_thing(**thing())

        # THEN the answers are as usual
        assert client.get_managed_thing(Identifier=created["Id"])["Id"] == created["Id"]


@pytest.mark.parametrize(
    "bad",
    [
        {"throttle_fraction": 1.5},
        {"error_fraction": -0.1},
        {"error_after_commit_fraction": 2.0},
        {"rate_limit": 0},
        {"latency": -1.0},
    ],
)
def test_options_out_of_range_are_refused(bad: dict[str, Any]) -> None:
    # GIVEN an option outside its range
    # WHEN the options are built
    # THEN ValueError names it
    with pytest.raises(ValueError, match=next(iter(bad))):
        EmulatorOptions(**bad)
