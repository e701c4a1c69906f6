"""The front door: the execution environments reach AWS's real hostnames, and only those, through a local proxy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ProxyConnectionError
from runtime_support import front_door_to, receiver  # noqa: F401 - a fixture

from managed_things_local.emulator.server import EmulatorServer
from managed_things_local.services.front_door import FrontDoor, endpoint_host
from managed_things_local.services.responses import ResponseReceiver
from managed_things_model.service_model import SERVICE_NAME

ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def door(receiver: ResponseReceiver) -> Iterator[tuple[FrontDoor, EmulatorServer]]:  # noqa: F811
    """The front door before the emulator, with nothing behind the other services."""
    with (
        EmulatorServer() as emulator,
        FrontDoor(
            receiver,
            managed_integrations=emulator.url,
            secrets_manager="http://127.0.0.1:9",
            cloudformation="http://127.0.0.1:9",
        ) as front_door,
    ):
        yield front_door, emulator


@pytest.fixture
def environment_of(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Sets the variables an execution environment in a region gets, as the process's own."""

    def configure(front_door: FrontDoor, region: str) -> None:
        for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS"):
            monkeypatch.delenv(variable, raising=False)
        for name, value in front_door.variables(region).items():
            monkeypatch.setenv(name, value)

    return configure


def client(region: str, **kwargs: Any) -> Any:
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing").client(
        SERVICE_NAME, region_name=region, config=ONE_ATTEMPT, **kwargs
    )


def test_the_service_host_is_derived_from_botocore_endpoint_rules() -> None:
    # GIVEN botocore's endpoint rules WHEN asked for the hosts of the provider's services in eu-west-1
    hosts = [endpoint_host(service, "eu-west-1") for service in (SERVICE_NAME, "secretsmanager", "cloudformation")]
    # THEN they are AWS's, and Managed Integrations' host is on api.aws (the legacy .amazonaws.com is never given)
    assert hosts == [
        "api.iotmanagedintegrations.eu-west-1.api.aws",
        "secretsmanager.eu-west-1.amazonaws.com",
        "cloudformation.eu-west-1.amazonaws.com",
    ]


def test_a_client_reaches_the_emulator_by_the_service_real_hostname_over_one_tunnel(
    door: tuple[FrontDoor, EmulatorServer], environment_of: Any
) -> None:
    front_door, emulator = door
    # GIVEN a process configured as an execution environment in eu-west-1
    environment_of(front_door, "eu-west-1")
    # WHEN a client resolving its endpoint as on AWS calls the service 20 times
    things = client("eu-west-1")
    created = things.create_managed_thing(
        Role="CONTROLLER", AuthenticationMaterial="M", AuthenticationMaterialType="WIFI_SETUP_QR_BAR_CODE", Name="Hub"
    )
    for _ in range(19):
        things.get_managed_thing(Identifier=created["Id"])
    # THEN the emulator answered, through one tunnel to the service's real host (the connection is reused)
    assert [thing["Name"] for thing in emulator.backend.list_things()] == ["Hub"]
    assert front_door.asked == {"api.iotmanagedintegrations.eu-west-1.api.aws": 1}
    assert front_door.refused == set()


def test_the_legacy_hostname_and_unknown_hosts_are_refused_as_a_connection_failure(
    door: tuple[FrontDoor, EmulatorServer], environment_of: Any
) -> None:
    front_door, emulator = door
    # GIVEN a process configured as an execution environment in eu-west-1
    environment_of(front_door, "eu-west-1")
    # WHEN a client built with botocore's legacy hostname calls the service
    legacy = client("eu-west-1", endpoint_url="https://api.iotmanagedintegrations.eu-west-1.amazonaws.com")
    # THEN the call fails to connect, nothing reaches the emulator, and the front door names the host asked
    with pytest.raises(ProxyConnectionError):
        legacy.list_managed_things()
    assert front_door.refused == {"api.iotmanagedintegrations.eu-west-1.amazonaws.com"}
    assert emulator.backend.list_things() == []


def test_a_region_without_the_service_has_no_host(door: tuple[FrontDoor, EmulatorServer], environment_of: Any) -> None:
    front_door, _emulator = door
    # GIVEN an execution environment in us-east-1, where AWS IoT Managed Integrations does not run
    environment_of(front_door, "us-east-1")
    # WHEN the provider's client calls the service there
    with pytest.raises(ProxyConnectionError):
        client("us-east-1").list_managed_things()
    # THEN the host its endpoint rules give was asked and refused
    assert front_door.refused == {"api.iotmanagedintegrations.us-east-1.api.aws"}
