"""Construct arguments shared by the construct tests, written out by hand.

``every_argument()`` sets every argument of ``ManagedThing`` (with dataclasses and
enum members); ``every_argument_as_dicts()`` and ``every_argument_as_strings()``
say the same thing as boto3-shaped dicts and as plain enum strings, so a test can
check the three give one template. ``EXPECTED_PROPERTIES`` is the template those
arguments must produce, apart from the JSON-encoded ``Schema``.
"""

from __future__ import annotations

import copy
from typing import Any

import aws_cdk as cdk

from cdk_managed_things import (
    AuthenticationMaterialType,
    CapabilityReport,
    CapabilityReportCapability,
    CapabilityReportEndpoint,
    CapabilitySchemaFormat,
    CapabilitySchemaItem,
    Role,
    WiFiSimpleSetupConfiguration,
)

MATERIAL = "WIFI:S:hub-net;T:WPA;P:Qx7-wpa-Zk93;;"

# A capability schema document with everything JSON can hold: it must reach the
# template exactly as written (null, floats, booleans, nesting, unicode).
SCHEMA: dict[str, Any] = {
    "$id": "aws.OnOff@1.4",
    "revision": 4,
    "properties": {
        "OnOff": {"type": "boolean", "default": False, "readOnly": True},
        "Level": {"type": "number", "minimum": 0.5, "maximum": 254.75, "multipleOf": 0.25},
        "Label": {"type": "string", "default": None, "examples": ["Küche", "居間", ""]},
    },
    "required": [],
    "tuple": [1, -2.5, 1e-07, True, False, None, {}, []],
}

CAPABILITIES = '{"endpoints": [{"id": "1", "capabilities": ["OnOff", "Level"]}], "version": "1.0"}'


def every_argument() -> dict[str, Any]:
    """Every ManagedThing argument, nested ones as dataclasses, enums as members."""
    return dict(
        role=Role.CONTROLLER,
        authentication_material_type=AuthenticationMaterialType.WIFI_SETUP_QR_BAR_CODE,
        authentication_material=MATERIAL,
        owner="owner@example.com",
        credential_locker_id="locker0123",
        wifi_simple_setup_configuration=WiFiSimpleSetupConfiguration(
            enable_as_provisioner=True, enable_as_provisionee=False, timeout_in_minutes=15
        ),
        serial_number="HUB-0001",
        brand="Example Brand",
        model="Hub 2",
        name="Küche hub_1.0",
        capability_report=CapabilityReport(
            node_id="node-1",
            endpoints=[
                CapabilityReportEndpoint(
                    id="1",
                    device_types=["Hub", "Light"],
                    capabilities=[
                        CapabilityReportCapability(
                            id="aws.OnOff@1.4",
                            name="OnOff",
                            version="1",
                            properties=["OnOff"],
                            actions=["Toggle", "On"],
                            events=["StateChanged"],
                        ),
                        CapabilityReportCapability(id="aws.Level@$latest", name="Level", version="2"),
                    ],
                )
            ],
        ),
        capability_schemas=[
            CapabilitySchemaItem(
                format=CapabilitySchemaFormat.AWS,
                capability_id="aws.OnOff@1.4",
                extrinsic_id="0x0006",
                extrinsic_version=4,
                schema=copy.deepcopy(SCHEMA),
            ),
            CapabilitySchemaItem(
                format=CapabilitySchemaFormat.ZCL,
                capability_id="zcl.Level@1.0",
                extrinsic_id="8",
                extrinsic_version=1,
                schema=[],
            ),
        ],
        capabilities=CAPABILITIES,
        classification="smart-hub",
        tags={"fleet": "home"},
        meta_data={"firmware": "1.2.3", "site": "berlin/01"},
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )


def every_argument_as_dicts() -> dict[str, Any]:
    """``every_argument()`` with every nested argument as the boto3 request dict."""
    arguments = every_argument()
    arguments.update(
        wifi_simple_setup_configuration={
            "EnableAsProvisioner": True,
            "EnableAsProvisionee": False,
            "TimeoutInMinutes": 15,
        },
        capability_report={
            "version": "1.0.0",
            "nodeId": "node-1",
            "endpoints": [
                {
                    "id": "1",
                    "deviceTypes": ["Hub", "Light"],
                    "capabilities": [
                        {
                            "id": "aws.OnOff@1.4",
                            "name": "OnOff",
                            "version": "1",
                            "properties": ["OnOff"],
                            "actions": ["Toggle", "On"],
                            "events": ["StateChanged"],
                        },
                        {
                            "id": "aws.Level@$latest",
                            "name": "Level",
                            "version": "2",
                            "properties": [],
                            "actions": [],
                            "events": [],
                        },
                    ],
                }
            ],
        },
        capability_schemas=[
            {
                "Format": CapabilitySchemaFormat.AWS,
                "CapabilityId": "aws.OnOff@1.4",
                "ExtrinsicId": "0x0006",
                "ExtrinsicVersion": 4,
                "Schema": copy.deepcopy(SCHEMA),
            },
            {
                "Format": "ZCL",
                "CapabilityId": "zcl.Level@1.0",
                "ExtrinsicId": "8",
                "ExtrinsicVersion": 1,
                "Schema": [],
            },
        ],
    )
    return arguments


def every_argument_as_strings() -> dict[str, Any]:
    """``every_argument()`` with each enum given as its exact API string."""
    arguments = every_argument()
    arguments.update(
        role="CONTROLLER",
        authentication_material_type="WIFI_SETUP_QR_BAR_CODE",
        capability_schemas=[
            CapabilitySchemaItem(
                format="AWS",
                capability_id="aws.OnOff@1.4",
                extrinsic_id="0x0006",
                extrinsic_version=4,
                schema=copy.deepcopy(SCHEMA),
            ),
            CapabilitySchemaItem(
                format="ZCL", capability_id="zcl.Level@1.0", extrinsic_id="8", extrinsic_version=1, schema=[]
            ),
        ],
    )
    return arguments


# What every_argument() must put in the template, besides ServiceToken,
# ServiceTimeout and Tags (which tests check on their own). Schema documents are
# JSON strings: compare them with json.loads.
EXPECTED_PROPERTIES: dict[str, Any] = {
    "Role": "CONTROLLER",
    "AuthenticationMaterialType": "WIFI_SETUP_QR_BAR_CODE",
    "AuthenticationMaterial": MATERIAL,
    "Owner": "owner@example.com",
    "CredentialLockerId": "locker0123",
    "WiFiSimpleSetupConfiguration": {"EnableAsProvisioner": True, "EnableAsProvisionee": False, "TimeoutInMinutes": 15},
    "SerialNumber": "HUB-0001",
    "Brand": "Example Brand",
    "Model": "Hub 2",
    "Name": "Küche hub_1.0",
    "CapabilityReport": {
        "version": "1.0.0",
        "nodeId": "node-1",
        "endpoints": [
            {
                "id": "1",
                "deviceTypes": ["Hub", "Light"],
                "capabilities": [
                    {
                        "id": "aws.OnOff@1.4",
                        "name": "OnOff",
                        "version": "1",
                        "properties": ["OnOff"],
                        "actions": ["Toggle", "On"],
                        "events": ["StateChanged"],
                    },
                    {
                        "id": "aws.Level@$latest",
                        "name": "Level",
                        "version": "2",
                        "properties": [],
                        "actions": [],
                        "events": [],
                    },
                ],
            }
        ],
    },
    "CapabilitySchemas": [
        {"Format": "AWS", "CapabilityId": "aws.OnOff@1.4", "ExtrinsicId": "0x0006", "ExtrinsicVersion": 4},
        {"Format": "ZCL", "CapabilityId": "zcl.Level@1.0", "ExtrinsicId": "8", "ExtrinsicVersion": 1},
    ],
    "Capabilities": CAPABILITIES,
    "Classification": "smart-hub",
    "MetaData": {"firmware": "1.2.3", "site": "berlin/01"},
}
EXPECTED_SCHEMAS: list[Any] = [SCHEMA, []]


def device(**overrides: Any) -> dict[str, Any]:
    """The fewest arguments a valid thing needs."""
    arguments: dict[str, Any] = dict(
        role=Role.DEVICE,
        authentication_material_type=AuthenticationMaterialType.ZIGBEE_QR_BAR_CODE,
        authentication_material="Z:00124B0000000001$I:A1B2C3D4E5F6A7B8",
    )
    arguments.update(overrides)
    return arguments
