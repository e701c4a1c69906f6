"""State: a --state file survives restarts; concurrent requests lose nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from emulator.support import make_client, thing
from managed_things_local.emulator.server import EmulatorServer
from managed_things_local.emulator.store import StateFileError


def test_things_survive_a_restart_with_a_state_file(tmp_path: Path) -> None:
    # GIVEN an emulator with a state file, holding an updated and tagged thing and a deleted one
    state = tmp_path / "things.db"
    with EmulatorServer(state=state) as first:
        client = make_client(first.url)
        kept = client.create_managed_thing(ClientToken="token-1", **thing(Name="Hub", Tags={"a": "b"}))
        client.update_managed_thing(Identifier=kept["Id"], Owner="alice")
        client.tag_resource(ResourceArn=kept["Arn"], Tags={"c": "d"})
        gone = client.create_managed_thing(**thing())
        client.delete_managed_thing(Identifier=gone["Id"])
        before = client.get_managed_thing(Identifier=kept["Id"])

    # WHEN a new emulator (on another port) opens the same file
    with EmulatorServer(state=state) as second:
        client = make_client(second.url)
        after = client.get_managed_thing(Identifier=kept["Id"])
        replay = client.create_managed_thing(ClientToken="token-1", **thing(Name="Hub", Tags={"a": "b"}))
        listed = client.list_managed_things()["Items"]

    # THEN the thing is there as it was, its token still replays, and the deleted one stays deleted
    before.pop("ResponseMetadata")
    after.pop("ResponseMetadata")
    assert after == before
    assert after["Owner"] == "alice" and after["Tags"] == {"a": "b", "c": "d"}
    assert (replay["Id"], replay["CreatedAt"]) == (kept["Id"], kept["CreatedAt"])
    assert [item["Id"] for item in listed] == [kept["Id"]]


def test_the_state_file_keeps_no_authentication_material(tmp_path: Path) -> None:
    # GIVEN an emulator with a state file
    state = tmp_path / "things.db"
    canary = "WIFI:S:canary-5f1c;T:WPA;P:never-stored-7d2e;;"
    with EmulatorServer(state=state) as server:
        client = make_client(server.url)
        # WHEN a thing is created with a material, and the same token is replayed and reused with another material
        created = client.create_managed_thing(ClientToken="token-m", **thing(AuthenticationMaterial=canary))
        replay = client.create_managed_thing(ClientToken="token-m", **thing(AuthenticationMaterial=canary))
        with pytest.raises(client.exceptions.ConflictException):
            client.create_managed_thing(ClientToken="token-m", **thing(AuthenticationMaterial=canary + "x"))

    # THEN idempotency still holds, and no file of the state holds the material (only its digest)
    assert replay["Id"] == created["Id"]
    for path in tmp_path.iterdir():
        assert b"never-stored-7d2e" not in path.read_bytes(), path.name


def test_without_a_state_file_nothing_is_kept() -> None:
    # GIVEN an in-memory emulator with a thing
    with EmulatorServer() as first:
        make_client(first.url).create_managed_thing(**thing())

    # WHEN another in-memory emulator starts
    with EmulatorServer() as second:
        # THEN it starts empty
        assert second.backend.list_things() == []


def test_a_file_that_is_not_a_state_file_is_refused(tmp_path: Path) -> None:
    # GIVEN a file that is not SQLite
    state = tmp_path / "notes.txt"
    state.write_text("not a database, but long enough to have a header that SQLite would read\n" * 10)

    # WHEN the emulator is given it
    # THEN it refuses with a clear error rather than overwriting it
    with pytest.raises(StateFileError):
        EmulatorServer(state=state)


@pytest.mark.parametrize("on_file", [False, True], ids=["memory", "file"])
def test_concurrent_creates_are_all_kept(tmp_path: Path, on_file: bool) -> None:
    # GIVEN an emulator and eight clients, each to create 25 things
    threads_count, per_thread = 8, 25
    with EmulatorServer(state=tmp_path / "things.db" if on_file else None) as emulator:
        clients = [make_client(emulator.url) for _ in range(threads_count)]
        created: list[str] = []
        failures: list[BaseException] = []
        start = threading.Barrier(threads_count)

        def create_many(client: Any) -> None:
            start.wait()
            try:
                for index in range(per_thread):
                    created.append(client.create_managed_thing(**thing(Name=f"thing {index}"))["Id"])
            except BaseException as error:  # reported below, not lost in the thread
                failures.append(error)

        workers = [threading.Thread(target=create_many, args=(client,)) for client in clients]

        # WHEN they all create at once
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        # THEN every request succeeded, with 200 distinct things stored and listed
        assert failures == []
        assert len(set(created)) == threads_count * per_thread
        assert {stored["Id"] for stored in emulator.backend.list_things()} == set(created)
        paginator = clients[0].get_paginator("list_managed_things")
        listed = [item["Id"] for page in paginator.paginate() for item in page["Items"]]
        assert sorted(listed) == sorted(created)
