"""End to end: synthesized ManagedThing stacks, deployed through the real provider against the embedded emulator."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ssm as ssm
from deploy_support import by_name, device, emulator_things, operate, run_cli, stack_state, synth, template_tags

from cdk_managed_things import (
    AuthenticationMaterialType,
    ManagedThing,
    Role,
    WiFiSimpleSetupConfiguration,
)


def fleet(hub_name: str = "Hub one", sensor_tags: dict[str, str] | None = None, *, with_hub: bool = True,
          sensor_role: Role = Role.DEVICE):  # fmt: skip
    """Stack "Fleet": a CONTROLLER hub with nested members and tags, a DEVICE sensor, exported outputs."""

    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Fleet")
        if with_hub:
            hub = ManagedThing(
                stack,
                "Hub",
                role=Role.CONTROLLER,
                authentication_material_type=AuthenticationMaterialType.WIFI_SETUP_QR_BAR_CODE,
                authentication_material="WIFI:S:hub;T:WPA;P:example;;",
                name=hub_name,
                wifi_simple_setup_configuration=WiFiSimpleSetupConfiguration(
                    enable_as_provisioner=True, enable_as_provisionee=False, timeout_in_minutes=10
                ),
                tags={"fleet": "home"},
            )
            cdk.CfnOutput(stack, "HubId", value=hub.managed_thing_id, export_name="Fleet-HubId")
        sensor = device(stack, "Sensor", 1, role=sensor_role, name="Sensor", tags=sensor_tags)
        cdk.CfnOutput(stack, "SensorArn", value=sensor.managed_thing_arn)

    return define


def test_deploy_creates_every_thing_and_a_second_deploy_changes_nothing(tmp_path: Path, capsys) -> None:
    # GIVEN a synthesized stack with a hub and a sensor
    cdk_out = synth(tmp_path / "cdk.out", fleet())

    # WHEN it is deployed
    run = operate(cdk_out, "deploy")

    # THEN the emulator holds both things, with the template's values in their API types
    assert not run.result.failed, run.output
    things = by_name(emulator_things(cdk_out))
    assert sorted(things) == ["Hub one", "Sensor"]
    hub = things["Hub one"]
    assert hub["Role"] == "CONTROLLER"
    assert template_tags(hub) == {"fleet": "home"}
    assert hub["WiFiSimpleSetupConfiguration"] == {
        "EnableAsProvisioner": True,
        "EnableAsProvisionee": False,
        "TimeoutInMinutes": 10,
    }
    # AND the outputs are the things' attributes, progress said it like cdk deploy
    stack = run.stack("Fleet")
    assert stack.status == "CREATE_COMPLETE"
    assert stack.outputs == {"HubId": hub["Id"], "SensorArn": things["Sensor"]["Arn"]}
    assert stack.exports == {"Fleet-HubId": hub["Id"]}
    assert run.resource("Fleet", "Hub").physical_id == hub["Id"]
    assert "Fleet | CREATE_IN_PROGRESS | Custom::ManagedThing | Hub (" in run.output
    assert "Fleet | CREATE_COMPLETE | Custom::ManagedThing | Sensor (" in run.output
    assert (
        "Fleet | 6 resources of other types not deployed locally (AWS::CDK::Metadata, AWS::IAM::Policy, "
        "AWS::IAM::Role, ...)\n" in run.output
    )
    assert {kind for _, kind in stack.not_deployed} >= {"AWS::Lambda::Function", "AWS::IAM::Role"}

    # WHEN the same assembly is deployed again, by the CLI
    again = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))

    # THEN nothing is sent to the provider and the outputs are printed like cdk deploy's
    assert again.code == 0, again.stderr
    assert "| Custom::ManagedThing |" not in again.stderr
    assert "Fleet | no changes" in again.stderr
    assert "not deployed locally" not in again.stderr  # said only when the stack changes
    assert f"Fleet.HubId = {hub['Id']}" in again.stdout
    assert emulator_things(cdk_out).keys() == {hub["Id"], things["Sensor"]["Id"]}


def test_name_and_tag_changes_update_in_place(tmp_path: Path, capsys) -> None:
    # GIVEN a deployed stack
    cdk_out = synth(tmp_path / "cdk.out", fleet())
    assert run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).code == 0
    before = by_name(emulator_things(cdk_out))

    # WHEN the hub is renamed and the sensor gets tags, and the app is deployed again
    synth(cdk_out, fleet(hub_name="Hub two", sensor_tags={"room": "kitchen"}))
    run = operate(cdk_out, "deploy")

    # THEN both are updated in place: same Ids, new Name and Tags in the emulator
    assert not run.result.failed, run.output
    after = by_name(emulator_things(cdk_out))
    assert sorted(after) == ["Hub two", "Sensor"]
    assert after["Hub two"]["Id"] == before["Hub one"]["Id"]
    assert after["Sensor"]["Id"] == before["Sensor"]["Id"]
    assert template_tags(after["Sensor"]) == {"room": "kitchen"}
    assert template_tags(after["Hub two"]) == {"fleet": "home"}
    assert run.resource("Fleet", "Hub").action == "update"
    assert run.resource("Fleet", "Sensor").status == "UPDATE_COMPLETE"
    assert "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" not in run.output


def test_replacement_and_removal_are_cleaned_up_and_destroy_empties_the_emulator(tmp_path: Path, capsys) -> None:
    # GIVEN a deployed hub and sensor
    cdk_out = synth(tmp_path / "cdk.out", fleet())
    assert run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).code == 0
    before = by_name(emulator_things(cdk_out))

    # WHEN the sensor's Role changes (UpdateManagedThing cannot change it) and the hub leaves the app
    synth(cdk_out, fleet(with_hub=False, sensor_role=Role.CONTROLLER))
    run = operate(cdk_out, "deploy")

    # THEN the sensor is replaced by a new thing, and the old sensor and the hub are deleted in the cleanup
    assert not run.result.failed, run.output
    things = emulator_things(cdk_out)
    assert len(things) == 1
    (new_sensor,) = things.values()
    assert new_sensor["Role"] == "CONTROLLER"
    assert new_sensor["Id"] != before["Sensor"]["Id"]
    sensor = run.resource("Fleet", "Sensor")
    assert (sensor.physical_id, sensor.action) == (new_sensor["Id"], "replace")
    assert run.resource("Fleet", "Hub").status == "DELETE_COMPLETE"
    cleanup = run.output.index("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    assert run.output.index("UPDATE_COMPLETE | Custom::ManagedThing | Sensor") < cleanup
    assert run.output.index("DELETE_COMPLETE | Custom::ManagedThing | Hub") > cleanup
    assert run.stack("Fleet").outputs == {"SensorArn": new_sensor["Arn"]}

    # WHEN the app is destroyed
    destroyed = run_cli(capsys, "destroy", "--cdk-out", str(cdk_out))

    # THEN the emulator is empty and the local state is gone
    assert destroyed.code == 0, destroyed.stderr
    assert emulator_things(cdk_out) == {}
    assert not stack_state(cdk_out, "Fleet").exists()
    assert "Fleet | DELETE_COMPLETE | AWS::CloudFormation::Stack | Fleet" in destroyed.stderr


def test_retained_things_outlive_removal_and_destroy(tmp_path: Path, capsys) -> None:
    # GIVEN two kept things (RETAIN) and one ordinary thing, deployed
    def define(keep_removed: bool):
        def build(app: cdk.App) -> None:
            stack = cdk.Stack(app, "Keep")
            if not keep_removed:
                device(stack, "Removed", 1, name="Removed", removal_policy=cdk.RemovalPolicy.RETAIN)
            device(stack, "Keeper", 2, name="Keeper", removal_policy=cdk.RemovalPolicy.RETAIN)
            device(stack, "Temp", 3, name="Temp")

        return build

    cdk_out = synth(tmp_path / "cdk.out", define(keep_removed=False))
    assert run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).code == 0

    # WHEN one retained thing leaves the app
    synth(cdk_out, define(keep_removed=True))
    removal = operate(cdk_out, "deploy")

    # THEN it is not deleted, only forgotten
    assert not removal.result.failed, removal.output
    assert sorted(by_name(emulator_things(cdk_out))) == ["Keeper", "Removed", "Temp"]
    assert removal.resource("Keep", "Removed").status == "DELETE_SKIPPED"
    assert "Keep | DELETE_SKIPPED | Custom::ManagedThing | Removed" in removal.output
    assert "Removed" not in json.loads(stack_state(cdk_out, "Keep").read_text())["resources"].get("Removed", {})

    # WHEN the stack is destroyed
    run = operate(cdk_out, "destroy")

    # THEN the retained thing stays in the emulator, the other one is deleted
    assert not run.result.failed, run.output
    assert sorted(by_name(emulator_things(cdk_out))) == ["Keeper", "Removed"]
    assert "DELETE_SKIPPED | Custom::ManagedThing | Keeper" in run.output and "retained" in run.output
    assert "DELETE_COMPLETE | Custom::ManagedThing | Temp" in run.output
    assert not stack_state(cdk_out, "Keep").exists()


def invalid_role_app(*, good_name: str, with_bad: bool):
    """Stack "Checked": a valid thing, and one whose Role comes from a parameter default the model rejects."""

    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Checked")
        good = device(stack, "Good", 1, name=good_name)
        if with_bad:
            role = cdk.CfnParameter(stack, "BadRole", default="NOT_A_ROLE")
            # MetaData refers to the good thing: the bad one is created after it
            device(stack, "Bad", 2, role=role.value_as_string, meta_data={"after": good.managed_thing_id})

    return define


def test_a_value_invalid_only_at_deploy_time_rolls_back_the_first_deploy(tmp_path: Path, capsys) -> None:
    # GIVEN a stack whose second thing gets an invalid Role from a parameter default (unknown at synth)
    cdk_out = synth(tmp_path / "cdk.out", invalid_role_app(good_name="Good", with_bad=True))

    # WHEN it is deployed
    run = operate(cdk_out, "deploy")

    # THEN the provider rejects it, the thing created before it is deleted again, nothing is recorded
    assert run.result.failed
    assert emulator_things(cdk_out) == {}
    stack = run.stack("Checked")
    assert stack.status == "ROLLBACK_COMPLETE"
    assert stack.failed_resource.startswith("Bad")
    assert "Bad" in stack.error and "Role" in stack.error
    assert run.resource("Checked", "Good").status == "DELETE_COMPLETE"
    assert "Checked | CREATE_FAILED | Custom::ManagedThing | Bad (" in run.output
    assert run.output.index("CREATE_FAILED") < run.output.index("DELETE_COMPLETE | Custom::ManagedThing | Good")
    assert not stack_state(cdk_out, "Checked").exists()

    # WHEN it is deployed again with a valid value for the parameter
    fixed = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out), "--parameters", "Checked:BadRole=DEVICE")

    # THEN both things are created
    assert fixed.code == 0, fixed.stderr
    assert sorted(t["Role"] for t in emulator_things(cdk_out).values()) == ["DEVICE", "DEVICE"]


def test_a_failed_update_rolls_back_to_the_previous_deployment(tmp_path: Path, capsys) -> None:
    # GIVEN a deployed valid thing
    cdk_out = synth(tmp_path / "cdk.out", invalid_role_app(good_name="Before", with_bad=False))
    assert run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).code == 0
    (original,) = emulator_things(cdk_out).values()
    recorded = stack_state(cdk_out, "Checked").read_text()

    # WHEN it is renamed in the same deploy that adds a thing the provider rejects
    synth(cdk_out, invalid_role_app(good_name="After", with_bad=True))
    run = operate(cdk_out, "deploy")

    # THEN the rename is rolled back in place and the state is the previous deployment's
    assert run.result.failed
    assert run.stack("Checked").status == "UPDATE_ROLLBACK_COMPLETE"
    things = emulator_things(cdk_out)
    assert list(things) == [original["Id"]]
    assert things[original["Id"]]["Name"] == "Before"
    assert stack_state(cdk_out, "Checked").read_text() == recorded
    assert "UPDATE_FAILED" not in run.output.split("UPDATE_ROLLBACK_IN_PROGRESS")[1]


def test_a_property_that_needs_an_undeployed_resource_fails_naming_it(tmp_path: Path, capsys) -> None:
    # GIVEN a thing whose name comes from an SSM parameter of the same stack (not deployed locally)
    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Parametric")
        parameter = ssm.StringParameter(stack, "SensorName", string_value="Sensor")
        device(stack, "Sensor", 1, name=parameter.string_value)

    cdk_out = synth(tmp_path / "cdk.out", define)

    # WHEN it is deployed
    run = operate(cdk_out, "deploy")

    # THEN it fails before any call, naming the parameter as not deployed locally
    assert run.result.failed
    error = run.stack("Parametric").error
    assert "Sensor" in error
    assert "SensorName" in error and "AWS::SSM::Parameter" in error and "not deployed locally" in error
    assert emulator_things(cdk_out) == {}
