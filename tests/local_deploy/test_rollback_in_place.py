"""A rollback never creates a second thing: the provider asks its stack's status, and the local engine answers."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from deploy_support import device, emulator_things, operate, run_cli, synth


def plugs(material_index: int):
    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Plugs")
        name = cdk.CfnParameter(stack, "PlugName", default="plug").value_as_string
        device(stack, "Plug", material_index, name=name)

    return define


def test_a_failed_replacement_is_rolled_back_in_place_without_a_second_thing(tmp_path: Path, capsys) -> None:
    # GIVEN a deployed thing
    cdk_out = synth(tmp_path / "cdk.out", plugs(1))
    assert run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).code == 0
    (thing_id,) = emulator_things(cdk_out)
    # WHEN a new authentication material (a replacement) is deployed with a name the API rejects
    synth(cdk_out, plugs(2))
    run = operate(cdk_out, "deploy", parameters={"Plugs": {"PlugName": "bad!name"}})
    # THEN the Update fails, and its rollback Update (properties swapped) restores the thing in place:
    # the provider learns from DescribeStacks that the stack is rolling back
    assert run.result.failed
    assert run.stack("Plugs").status == "UPDATE_ROLLBACK_COMPLETE", run.output
    assert list(emulator_things(cdk_out)) == [thing_id]
    assert run.resource("Plugs", "Plug").physical_id == thing_id
    # AND a plain redeploy of the original app changes nothing, and destroy leaves no thing
    synth(cdk_out, plugs(1))
    assert "no changes" in run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).stderr
    assert run_cli(capsys, "destroy", "--cdk-out", str(cdk_out)).code == 0
    assert emulator_things(cdk_out) == {}
