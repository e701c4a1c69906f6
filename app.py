#!/usr/bin/env python3
"""Example app: one CONTROLLER hub with Wi-Fi Simple Setup and capabilities, two DEVICEs, and a fleet of plugs
read from inventory/plugs.csv."""

import os
from pathlib import Path

# Before jsii starts (so `npx cdk synth` too): Node.js 20 is past jsii's support date, and says so at length on
# every synth. Either variable set by the user wins.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402

from cdk_managed_things import (
    AuthenticationMaterialType,
    CapabilityReport,
    CapabilityReportCapability,
    CapabilityReportEndpoint,
    CapabilitySchemaFormat,
    CapabilitySchemaItem,
    ManagedThing,
    ManagedThingFleet,
    Role,
    WiFiSimpleSetupConfiguration,
)
from constructs import Construct  # noqa: E402


class HomeFleetStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)

        hub = ManagedThing(
            self,
            "Hub",
            role=Role.CONTROLLER,
            authentication_material_type=AuthenticationMaterialType.WIFI_SETUP_QR_BAR_CODE,
            authentication_material="WIFI:S:demo-hub;T:WPA;P:example-only;;",
            name="Living room hub",
            serial_number="HUB-0001",
            brand="Example",
            model="Hub 2",
            wifi_simple_setup_configuration=WiFiSimpleSetupConfiguration(
                enable_as_provisioner=True, enable_as_provisionee=False, timeout_in_minutes=10
            ),
            capability_report=CapabilityReport(
                node_id="1",
                endpoints=[
                    CapabilityReportEndpoint(
                        id="1",
                        device_types=["Hub"],
                        capabilities=[
                            CapabilityReportCapability(
                                id="aws.OnOff@1.4", name="OnOff", version="1", properties=["OnOff"], actions=["Toggle"]
                            )
                        ],
                    )
                ],
            ),
            capability_schemas=[
                CapabilitySchemaItem(
                    format=CapabilitySchemaFormat.AWS,
                    capability_id="aws.OnOff@1.4",
                    extrinsic_id="0x0006",
                    extrinsic_version=1,
                    schema={"properties": {"OnOff": {"type": "boolean", "default": False}}, "revision": 4},
                )
            ],
            tags={"fleet": "home"},
        )

        # The demo's setup codes are not secret; a real fleet passes
        # authentication_material_secret and never sees this warning.
        cdk.Annotations.of(self).acknowledge_warning(
            "cdk-managed-things:plaintextAuthenticationMaterial", "Demo setup codes, not real devices"
        )
        # Environment-agnostic, so that `managed-things deploy` runs it anywhere; on AWS, deploy it with a profile
        # whose region has Managed Integrations (see README, Limits).
        cdk.Annotations.of(self).acknowledge_warning(
            "cdk-managed-things:environmentAgnostic", "An example: deployed locally or to the profile's region"
        )

        devices = [
            ManagedThing(
                self,
                f"Device{index}",
                role=Role.DEVICE,
                authentication_material_type=AuthenticationMaterialType.ZIGBEE_QR_BAR_CODE,
                authentication_material=f"Z:00124B00000000{index:02d}$I:A1B2C3D4E5F6A7B8",
            )
            for index in (1, 2)
        ]

        for construct_id, thing in [("Hub", hub), *((f"Device{i}", d) for i, d in enumerate(devices, start=1))]:
            cdk.CfnOutput(
                self,
                f"{construct_id}Id",
                value=thing.managed_thing_id,
                export_name=f"{self.stack_name}-{construct_id}Id",
            )
            cdk.CfnOutput(
                self,
                f"{construct_id}Arn",
                value=thing.managed_thing_arn,
                export_name=f"{self.stack_name}-{construct_id}Arn",
            )

        # A fleet: one thing per row of the inventory, in shard stacks of their own (HomeFleet/Plugs/Shard001,
        # ...). Which shard holds each thing is kept in inventory/plugs.placement.json, written at synth: commit it.
        plugs = ManagedThingFleet(
            self,
            "Plugs",
            inventory=Path(__file__).resolve().parent / "inventory" / "plugs.csv",
            key="SerialNumber",
            defaults={"Role": "DEVICE", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE", "Brand": "Acme"},
        )
        cdk.Tags.of(plugs).add("fleet", "plugs")
        # Two plugs' Id and Arn as outputs of the shard stack that holds each (where the value is its own, not an
        # import), exported under names other stacks can import.
        for serial_number in ("PLUG-0001", "PLUG-0002"):
            plug, output_id = plugs.thing(serial_number), serial_number.replace("-", "")
            shard = plugs.locate(serial_number).stack
            for attribute, value in (("Id", plug.managed_thing_id), ("Arn", plug.managed_thing_arn)):
                export_name = f"{self.stack_name}-{output_id}{attribute}"
                cdk.CfnOutput(shard, f"{output_id}{attribute}", value=value, export_name=export_name)


app = cdk.App()
HomeFleetStack(app, "HomeFleet")
app.synth()
