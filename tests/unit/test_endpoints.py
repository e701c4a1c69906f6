"""Which host the provider's calls go to: the service's endpoint rules, the same with plenty of time left and near
the invocation's deadline (where a sibling client with shorter timeouts makes the call)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

THING = {"Id": "a1b2c3", "Arn": "arn:aws:iotmanagedintegrations:eu-west-1:123456789012:managed-thing/a1b2c3"}


@pytest.fixture
def hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The URL of every request the session's clients send; each answered 200 with a thing, never sent."""
    import json

    import boto3
    from botocore.awsrequest import AWSResponse

    import managed_thing_provider.index  # noqa: F401 - configures the session (bundled service model)
    from managed_thing_provider import deadline

    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sent: list[str] = []

    class Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_kwargs: Any) -> Iterator[bytes]:
            yield self._body

    def answer(request: Any, **_kwargs: Any) -> AWSResponse:
        sent.append(request.url)
        body = json.dumps({**THING, "Role": "DEVICE"}).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, Raw(body))

    events = boto3._get_default_session()._session.get_component("event_emitter")
    events.register("before-send.iot-managed-integrations", answer, unique_id="unit-test-hosts")
    deadline._sibling.cache_clear()
    yield sent
    events.unregister("before-send.iot-managed-integrations", unique_id="unit-test-hosts")
    deadline._sibling.cache_clear()


def test_a_call_near_the_deadline_goes_to_the_same_host_as_any_other(hosts: list[str]) -> None:
    from managed_thing_provider import clients, deadline

    # GIVEN the provider's client, in a region of the service, with no endpoint configured
    client = clients.managed_integrations_client()
    # WHEN it calls with plenty of time left, then with 8 s left (a sibling with shorter timeouts makes the call)
    deadline.call(client, "GetManagedThing", deadline.Deadline.none(), Identifier="a1b2c3")
    near = deadline.Deadline(expires_at=deadline._clock() + 8)
    deadline.call(client, "GetManagedThing", near, Identifier="a1b2c3")
    # THEN both go to the host the service's endpoint rules give, not botocore's legacy hostname
    assert len(hosts) == 2
    assert [url.split("/")[2] for url in hosts] == ["api.iotmanagedintegrations.eu-west-1.api.aws"] * 2


@pytest.fixture
def unresolved(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every request the session's service clients send fails as a host that does not resolve (the URLs sent)."""
    import boto3
    from botocore.exceptions import EndpointConnectionError

    import managed_thing_provider.index  # noqa: F401 - configures the session (bundled service model)
    from managed_thing_provider import deadline

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(deadline, "_sleep", lambda _seconds: None)
    sent: list[str] = []

    def fail(request: Any, **_kwargs: Any) -> None:
        sent.append(request.url)
        raise EndpointConnectionError(endpoint_url=request.url)

    events = boto3._get_default_session()._session.get_component("event_emitter")
    events.register("before-send.iot-managed-integrations", fail, unique_id="unit-test-unresolved")
    yield sent
    events.unregister("before-send.iot-managed-integrations", unique_id="unit-test-unresolved")


def client_in(region: str) -> Any:
    import boto3

    from managed_thing_provider.clients import CLIENT_CONFIG

    return boto3.client("iot-managed-integrations", region_name=region, config=CLIENT_CONFIG)


def test_in_a_region_without_the_service_an_unreachable_endpoint_fails_at_once_naming_the_regions(
    unresolved: list[str],
) -> None:
    from managed_thing_provider import deadline

    # GIVEN a client in us-east-1, where the service does not run, whose endpoint does not resolve
    client = client_in("us-east-1")
    # WHEN the provider creates a thing there
    with pytest.raises(deadline.ApiError) as raised:
        deadline.call(client, "CreateManagedThing", deadline.Deadline.none(), Role="DEVICE", AuthenticationMaterial="M",
                      AuthenticationMaterialType="ZIGBEE_QR_BAR_CODE")  # fmt: skip
    # THEN one attempt, and a final reason that names the region and the regions of the service
    assert len(unresolved) == 1
    error = raised.value
    assert (error.code, error.retryable, error.maybe_committed) == ("NoServiceInRegion", False, False)
    assert str(error) == (
        "CreateManagedThing failed: region us-east-1 has no AWS IoT Managed Integrations "
        "(it runs in ca-central-1, eu-west-1, me-central-1)"
    )


def test_in_a_region_of_the_service_an_unresolved_endpoint_stays_transient(unresolved: list[str]) -> None:
    from managed_thing_provider import deadline

    # GIVEN a client in eu-west-1, a region of the service, whose endpoint does not resolve (a DNS hiccup)
    client = client_in("eu-west-1")
    # WHEN the provider reads a thing
    with pytest.raises(deadline.ApiError) as raised:
        deadline.call(client, "GetManagedThing", deadline.Deadline.none(), Identifier="a1b2c3")
    # THEN it was retried like any lost connection, and the error stays retryable
    assert len(unresolved) == deadline.MAX_ATTEMPTS
    assert (raised.value.code, raised.value.retryable) == ("EndpointConnectionError", True)


def test_a_refused_proxy_tunnel_never_reached_the_service() -> None:
    from botocore.exceptions import ProxyConnectionError

    from managed_thing_provider import deadline

    # GIVEN a proxy that refused the tunnel WHEN the provider classifies the error
    kind, maybe_committed = deadline._botocore_error_kind(ProxyConnectionError(proxy_url="http://proxy", error="403"))
    # THEN it is transient, and the request was never carried out
    assert (kind, maybe_committed) == ("transient", False)


def test_in_a_region_without_the_service_a_delete_succeeds_at_once(unresolved: list[str]) -> None:
    from managed_thing_provider import lifecycle
    from managed_thing_provider.cancelled_create import delete_marked
    from managed_thing_provider.properties import parse_properties

    # GIVEN a client in us-east-1, where the service does not run (so nothing can exist there)
    client = client_in("us-east-1")
    desired = parse_properties(
        {"Role": "DEVICE", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE", "AuthenticationMaterial": "Z:1$I:2"}
    )
    # WHEN a thing's id, a recoverable id (which re-creates to find), and an id that names no thing (the answer of a
    # Create that failed at once there, whose Delete searches by the resource's marker) are deleted
    lifecycle.delete_thing(client, "a1b2c3")
    recovered = lifecycle.delete_recovered(client, "0" * 64, desired, lambda _arn: "")
    marked = delete_marked(client, desired, "0" * 32)
    # THEN each succeeds after one attempt, having found nothing
    assert recovered is None
    assert marked == []
    assert len(unresolved) == 3
