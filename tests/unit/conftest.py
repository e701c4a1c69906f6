"""Fixtures of the handler unit tests: what reached the APIs, and a stubbed Secrets Manager."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class ApiCalls:
    """Every operation a client was asked to call, with its parameters, in order."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self, params: dict[str, Any], model: Any, **_kwargs: Any) -> None:
        self.calls.append((model.name, copy.deepcopy(params)))

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def params(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


@pytest.fixture
def api_calls(provider: Any) -> Iterator[ApiCalls]:
    """Records the parameters the handler passes to its client, before the Stubber checks them.

    An unexpected call answers FAILED like any API error would; recording the call
    lets a test tell "rejected before any call" from "the call failed".
    """
    calls = ApiCalls()
    events = provider.module.client.meta.events
    events.register("provide-client-params", calls.record, unique_id="unit-test-api-calls")
    yield calls
    events.unregister("provide-client-params", unique_id="unit-test-api-calls")


@dataclass
class SecretsManager:
    client: Any
    stubber: Any
    calls: ApiCalls
    clients_requested: list[str]


@pytest.fixture
def secretsmanager(monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretsManager]:
    """A real Secrets Manager client from the provider's session, under a Stubber.

    Only the session's ``client`` factory is replaced, so ``clients.read_secret``
    (Powertools SecretsProvider, error mapping) runs as in Lambda.
    """
    import boto3
    from botocore.stub import Stubber

    import managed_thing_provider.index  # noqa: F401 - configures the session(s) first
    from managed_thing_provider import clients

    # read_secret builds its client with boto3.client(), i.e. from boto3's default session,
    # which importing the handler configured (bundled service model).
    session = boto3._get_default_session()
    real_factory = session.client
    client = real_factory("secretsmanager", config=clients.CLIENT_CONFIG)
    requested: list[str] = []

    def factory(service_name: str, *args: Any, **kwargs: Any) -> Any:
        requested.append(service_name)
        if service_name == "secretsmanager":
            return client
        return real_factory(service_name, *args, **kwargs)

    monkeypatch.setattr(session, "client", factory)
    calls = ApiCalls()
    client.meta.events.register("provide-client-params", calls.record)
    stubber = Stubber(client)
    with stubber:
        yield SecretsManager(client=client, stubber=stubber, calls=calls, clients_requested=requested)
        stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The provider's waits between attempts of a call, recorded instead of slept.

    The deadlines' clock is real time plus the waits, so a wait moves a call towards its deadline
    as a real one would, and a call throttled until its deadline ends without a test sleeping.
    """
    import importlib
    import time

    waits: list[float] = []
    try:
        deadline = importlib.import_module("managed_thing_provider.deadline")
    except ImportError:  # a provider without deadlines (the tests also run against the code before them)
        return waits
    monkeypatch.setattr(deadline, "_sleep", waits.append)
    monkeypatch.setattr(deadline, "_clock", lambda: time.monotonic() + sum(waits), raising=False)
    return waits


@dataclass
class CloudFormation:
    stubber: Any
    calls: ApiCalls


@pytest.fixture(autouse=True)
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudFormation]:
    """The provider's CloudFormation client (stack status only), under a Stubber: no test reaches AWS.

    A call no test queued an answer for fails like an unreachable endpoint would.
    """
    import boto3
    from botocore.stub import Stubber

    import managed_thing_provider.index  # noqa: F401 - configures the session first
    from managed_thing_provider import clients

    client = boto3.client("cloudformation", config=getattr(clients, "STACK_STATUS_CONFIG", clients.CLIENT_CONFIG))
    monkeypatch.setattr(clients, "_cloudformation", client, raising=False)
    calls = ApiCalls()
    client.meta.events.register("provide-client-params", calls.record)
    stubber = Stubber(client)
    with stubber:
        yield CloudFormation(stubber=stubber, calls=calls)
        stubber.assert_no_pending_responses()
