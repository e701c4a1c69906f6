"""cdk-managed-things: AWS IoT Managed Integrations managed things as CDK constructs."""

from ._errors import ConfigurationError, report_configuration_errors
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

report_configuration_errors()

__all__ = [
    "AuthenticationMaterialType",
    "CapabilityReport",
    "CapabilityReportCapability",
    "CapabilityReportEndpoint",
    "CapabilitySchemaFormat",
    "CapabilitySchemaItem",
    "ConfigurationError",
    "FleetThing",
    "ManagedThing",
    "ManagedThingFleet",
    "Role",
    "ThingLocation",
    "WiFiSimpleSetupConfiguration",
]
