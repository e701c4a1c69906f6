"""cdk-managed-things: AWS IoT Managed Integrations managed things as CDK constructs."""

from .fleet import FleetThing, ManagedThingFleet, ThingLocation
from .managed_thing import ManagedThing
from .request_types import (
    AuthenticationMaterialType,
    CapabilityReport,
    CapabilityReportCapability,
    CapabilityReportEndpoint,
    CapabilitySchemaFormat,
    CapabilitySchemaItem,
    Role,
    WiFiSimpleSetupConfiguration,
)

__all__ = [
    "AuthenticationMaterialType",
    "CapabilityReport",
    "CapabilityReportCapability",
    "CapabilityReportEndpoint",
    "CapabilitySchemaFormat",
    "CapabilitySchemaItem",
    "FleetThing",
    "ManagedThing",
    "ManagedThingFleet",
    "Role",
    "ThingLocation",
    "WiFiSimpleSetupConfiguration",
]
