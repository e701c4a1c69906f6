"""ClientToken: the same token and parameters return the same thing; other parameters conflict."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from emulator.support import RawClient, thing
from managed_things_local.emulator.server import EmulatorServer


def test_same_token_and_parameters_return_the_same_thing(client: Any, emulator: EmulatorServer) -> None:
    # GIVEN a thing created with a ClientToken
    first = client.create_managed_thing(ClientToken="token-1", **thing(Name="Hub", Tags={"a": "b"}))

    # WHEN the same request is sent again
    again = client.create_managed_thing(ClientToken="token-1", **thing(Name="Hub", Tags={"a": "b"}))

    # THEN the answer names the same thing, created at the same time, and there is still one thing
    assert (again["Id"], again["Arn"], again["CreatedAt"]) == (first["Id"], first["Arn"], first["CreatedAt"])
    assert len(emulator.backend.list_things()) == 1


@pytest.mark.parametrize(
    "changed",
    [{"Name": "Other"}, {"Role": "CONTROLLER"}, {"Tags": {"a": "c"}}, {"Name": None}],
    ids=["member-changed", "required-changed", "tags-changed", "member-dropped"],
)
def test_same_token_with_other_parameters_conflicts(client: Any, emulator: EmulatorServer, changed: dict) -> None:
    # GIVEN a thing created with a ClientToken
    client.create_managed_thing(ClientToken="token-1", **thing(Name="Hub", Tags={"a": "b"}))

    # WHEN the token is reused with different parameters
    request = {k: v for k, v in {**thing(Name="Hub", Tags={"a": "b"}), **changed}.items() if v is not None}
    with pytest.raises(client.exceptions.ConflictException) as raised:
        client.create_managed_thing(ClientToken="token-1", **request)

    # THEN the service answers ConflictException (409) and creates nothing
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert len(emulator.backend.list_things()) == 1


def test_different_tokens_create_different_things(client: Any) -> None:
    # GIVEN two tokens
    # WHEN the same parameters are sent with each
    first = client.create_managed_thing(ClientToken="token-1", **thing())
    second = client.create_managed_thing(ClientToken="token-2", **thing())

    # THEN two things exist
    assert first["Id"] != second["Id"]


def test_boto3_fills_in_a_fresh_token_per_call(client: Any, emulator: EmulatorServer) -> None:
    # GIVEN no ClientToken (botocore generates one per call)
    # WHEN the same parameters are sent twice
    client.create_managed_thing(**thing())
    client.create_managed_thing(**thing())

    # THEN there are two things
    assert len(emulator.backend.list_things()) == 2


def test_a_request_without_a_token_is_always_new(raw: RawClient, emulator: EmulatorServer) -> None:
    # GIVEN raw requests that send no ClientToken at all
    # WHEN the same body is sent twice
    first, second = raw.create(thing()), raw.create(thing())

    # THEN both create a thing
    assert (first.status, second.status) == (201, 201)
    assert first.json["Id"] != second.json["Id"]
    assert len(emulator.backend.list_things()) == 2


def test_a_token_is_fresh_again_once_its_thing_is_deleted(client: Any) -> None:
    # GIVEN a thing created with a token, then deleted
    first = client.create_managed_thing(ClientToken="token-1", **thing())
    client.delete_managed_thing(Identifier=first["Id"])

    # WHEN the token is used again
    second = client.create_managed_thing(ClientToken="token-1", **thing())

    # THEN a new thing is created
    assert second["Id"] != first["Id"]
    assert client.get_managed_thing(Identifier=second["Id"])["Id"] == second["Id"]


def test_concurrent_requests_with_one_token_create_one_thing(emulator: EmulatorServer) -> None:
    # GIVEN eight threads ready to send the same request with the same token
    clients = [RawClient(emulator.url) for _ in range(8)]
    start = threading.Barrier(len(clients))
    answers: list[Any] = []

    def send(raw: RawClient) -> None:
        start.wait()
        answers.append(raw.create(thing(ClientToken="shared-token")))

    threads = [threading.Thread(target=send, args=(raw,)) for raw in clients]

    # WHEN they all send at once
    for worker in threads:
        worker.start()
    for worker in threads:
        worker.join()

    # THEN every answer names the one thing that exists
    assert {answer.status for answer in answers} == {201}
    assert len({answer.json["Id"] for answer in answers}) == 1
    assert len(emulator.backend.list_things()) == 1
