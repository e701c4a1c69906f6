"""Typed values for the nested members of a CreateManagedThing request.

Every argument that takes one of these also takes a plain dict in exactly the
boto3 request shape, so a working ``create_managed_thing`` call can be pasted in.
Field names are the API member names in snake_case (``nodeId`` -> ``node_id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """The kind of managed thing (``Role``)."""

    CONTROLLER = "CONTROLLER"
    DEVICE = "DEVICE"


class AuthenticationMaterialType(StrEnum):
    """How the device's authentication material is encoded (``AuthenticationMaterialType``)."""

    CUSTOM_PROTOCOL_QR_BAR_CODE = "CUSTOM_PROTOCOL_QR_BAR_CODE"
    WIFI_SETUP_QR_BAR_CODE = "WIFI_SETUP_QR_BAR_CODE"
    ZWAVE_QR_BAR_CODE = "ZWAVE_QR_BAR_CODE"
    ZIGBEE_QR_BAR_CODE = "ZIGBEE_QR_BAR_CODE"
    DISCOVERED_DEVICE = "DISCOVERED_DEVICE"
    PRE_ONBOARDED_CLOUD = "PRE_ONBOARDED_CLOUD"


class CapabilitySchemaFormat(StrEnum):
    """The format of a capability schema (``CapabilitySchemas[].Format``)."""

    AWS = "AWS"
    ZCL = "ZCL"
    CONNECTOR = "CONNECTOR"


@dataclass(frozen=True)
class WiFiSimpleSetupConfiguration:
    """Wi-Fi Simple Setup: whether the thing provisions others, is provisioned, and for how long.

    ``timeout_in_minutes`` must be between 5 and 15 (the service model's range).
    """

    enable_as_provisioner: bool | None = None
    enable_as_provisionee: bool | None = None
    timeout_in_minutes: int | None = None


@dataclass(frozen=True)
class CapabilityReportCapability:
    """One capability of an endpoint; ``id`` is a versioned schema id such as ``aws.OnOff@1.4``."""

    id: str
    name: str
    version: str
    properties: Sequence[str] = ()
    actions: Sequence[str] = ()
    events: Sequence[str] = ()


@dataclass(frozen=True)
class CapabilityReportEndpoint:
    """One endpoint of the capability report."""

    id: str
    device_types: Sequence[str] = ()
    capabilities: Sequence[CapabilityReportCapability | dict[str, Any]] = ()


@dataclass(frozen=True)
class CapabilityReport:
    """The capability report; ``version`` is ``"1.0.0"`` (the only one the model accepts)."""

    endpoints: Sequence[CapabilityReportEndpoint | dict[str, Any]]
    version: str = "1.0.0"
    node_id: str | None = None


@dataclass(frozen=True)
class CapabilitySchemaItem:
    """One capability schema. ``schema`` is any JSON document and reaches the API exactly as given."""

    format: CapabilitySchemaFormat | str
    capability_id: str
    extrinsic_id: str
    extrinsic_version: int
    schema: Any
