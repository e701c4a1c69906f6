"""CDK NestedStacks holding ManagedThings, synthesized for real and deployed through the real provider."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
from deploy_support import by_name, device, emulator_things, operate, run_cli, synth


def home(lamp_name: str = "Lamp", *, invalid_hub: bool = False, invalid_plug: bool = False):
    """Root stack Home: a nested stack Floor with two things, and an output of the root from a nested thing.

    Invalid things get a Role from a parameter default the service rejects (unknown at synth); the plug's
    reaches the nested stack as one of its Parameters.
    """

    def define(app: cdk.App) -> None:
        root = cdk.Stack(app, "Home")
        role = cdk.CfnParameter(root, "BadRole", default="NOT_A_ROLE").value_as_string
        floor = cdk.NestedStack(root, "Floor")
        lamp = device(floor, "Lamp", 1, name=lamp_name)
        plug = {"role": role, "meta_data": {"after": lamp.managed_thing_id}} if invalid_plug else {}
        device(floor, "Plug", 2, name="Plug", **plug)
        cdk.CfnOutput(root, "LampId", value=lamp.managed_thing_id)
        if invalid_hub:  # created after the nested stack: it uses the lamp's id
            device(root, "Hub", 3, role=role, meta_data={"after": lamp.managed_thing_id})

    return define


def test_a_nested_stack_of_things_deploys_redeploys_updates_and_destroys(tmp_path: Path, capsys) -> None:
    # GIVEN a root stack with a NestedStack of two things
    cdk_out = synth(tmp_path / "cdk.out", home())
    # WHEN deployed
    run = operate(cdk_out, "deploy")
    # THEN both things exist, the root's output is the nested thing's id, and the nested stack is named like CFN's
    assert not run.result.failed, run.output
    things = by_name(emulator_things(cdk_out))
    assert sorted(things) == ["Lamp", "Plug"]
    assert run.stack("Home").outputs == {"LampId": things["Lamp"]["Id"]}
    nested = [report.stack_name for report in run.stack("Home").nested]
    assert len(nested) == 1 and re.fullmatch(r"Home-FloorNestedStackFloorNestedStackResource[0-9A-F]{8}-[A-Z0-9]{12}",
                                             nested[0])  # fmt: skip
    assert f"{nested[0]} | CREATE_COMPLETE | Custom::ManagedThing | Lamp (" in run.output
    # WHEN deployed again unchanged, THEN no thing is touched
    again = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    assert again.code == 0, again.stderr
    assert "| Custom::ManagedThing |" not in again.stderr
    # WHEN a thing inside the nested stack is renamed, THEN it is updated in place
    synth(cdk_out, home(lamp_name="Bright lamp"))
    updated = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    assert updated.code == 0, updated.stderr
    renamed = by_name(emulator_things(cdk_out))
    assert sorted(renamed) == ["Bright lamp", "Plug"] and renamed["Bright lamp"]["Id"] == things["Lamp"]["Id"]
    # WHEN a root thing fails, THEN the root rolls back and the nested stack keeps its things
    synth(cdk_out, home(lamp_name="Bright lamp", invalid_hub=True))
    failed = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    assert failed.code == 1
    assert "Home | UPDATE_ROLLBACK_COMPLETE | AWS::CloudFormation::Stack | Home" in failed.stderr
    assert sorted(by_name(emulator_things(cdk_out))) == ["Bright lamp", "Plug"]
    # WHEN destroyed, THEN the nested things are deleted with the root
    destroyed = run_cli(capsys, "destroy", "--cdk-out", str(cdk_out))
    assert destroyed.code == 0, destroyed.stderr
    assert emulator_things(cdk_out) == {}
    # AND the summary counts the nested stack's things (not the nested stack), as the announcement did
    assert " 2 deleted\n" in destroyed.stdout and "Home | will delete 2 resources: " in destroyed.stderr


def test_a_failure_inside_a_nested_stack_rolls_the_root_back(tmp_path: Path) -> None:
    # GIVEN a first deploy whose nested stack holds a thing the service rejects
    cdk_out = synth(tmp_path / "cdk.out", home(invalid_plug=True))
    # WHEN deployed
    run = operate(cdk_out, "deploy")
    # THEN the nested stack and the root roll back, the error names the nested stack, and no thing is left
    assert run.result.failed
    assert run.stack("Home").status == "ROLLBACK_COMPLETE"
    assert "was not successfully created" in run.stack("Home").error
    assert emulator_things(cdk_out) == {}
