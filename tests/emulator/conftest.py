"""Fixtures: a fresh in-memory emulator per test, a boto3 client and a raw HTTP client for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.support import RawClient, make_client
from managed_things_local.emulator.server import EmulatorServer


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def client(emulator: EmulatorServer) -> Any:
    return make_client(emulator.url)


@pytest.fixture
def raw(emulator: EmulatorServer) -> RawClient:
    return RawClient(emulator.url)
