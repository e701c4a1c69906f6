"""The issue's two state failures, through real synthesized apps, the real provider and the embedded emulator."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from deploy_support import device, emulator_things, run_cli, state_dir, synth
from state_support import refuse_writes

from managed_things_local.emulator.server import EmulatorServer
from managed_things_local.state.state import StateStore


def five_things(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Five")
    for index in range(5):
        device(stack, f"Thing{index}", index)


def test_a_stack_state_that_cannot_be_written_loses_no_thing(tmp_path: Path, capsys) -> None:
    # GIVEN five things, and a state database whose stack records cannot be written
    cdk_out = synth(tmp_path / "cdk.out", five_things)
    store = StateStore(state_dir(cdk_out))
    refuse_writes(store, "stacks")
    # WHEN deployed
    run = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    # THEN it fails with one line naming the state file, no traceback, and the five things exist
    assert run.code == 1
    assert "Traceback" not in run.stderr + run.stdout
    assert f"Five failed: Cannot write the local state {store.path} (disk I/O error)" in run.stdout
    created = set(emulator_things(cdk_out))
    assert len(created) == 5
    # WHEN deployed again, THEN no thing is created again
    again = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    assert "CREATE_IN_PROGRESS | Custom::ManagedThing" not in again.stderr
    assert set(emulator_things(cdk_out)) == created
    # WHEN destroyed, THEN every thing is deleted
    destroyed = run_cli(capsys, "destroy", "--cdk-out", str(cdk_out))
    assert destroyed.code == 0, destroyed.stderr
    assert emulator_things(cdk_out) == {}


def test_another_endpoint_is_refused_and_the_embedded_things_stay_managed(tmp_path: Path, capsys) -> None:
    # GIVEN things deployed on the embedded emulator, and another emulator running
    cdk_out = synth(tmp_path / "cdk.out", five_things)
    assert run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).code == 0
    created = set(emulator_things(cdk_out))
    with EmulatorServer() as other:
        # WHEN deployed, then destroyed, against the other one
        deploy = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out), "--endpoint-url", other.url)
        destroy = run_cli(capsys, "destroy", "--cdk-out", str(cdk_out), "--endpoint-url", other.url)
    # THEN both refuse in one line naming both endpoints and the override, and nothing changed
    for refused in (deploy, destroy):
        assert refused.code == 1
        message = refused.stderr.strip().splitlines()[-1]
        assert "embedded emulator" in message and other.url in message and "--allow-endpoint-change" in message
    assert set(emulator_things(cdk_out)) == created
    # AND the embedded deploy still destroys them
    assert run_cli(capsys, "destroy", "--cdk-out", str(cdk_out)).code == 0
    assert emulator_things(cdk_out) == {}
