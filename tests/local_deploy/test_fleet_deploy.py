"""A small ManagedThingFleet deployed locally through the real provider: the provider's ARN reaches the nested
stacks as a parameter, a thing's Id reaches the parent through a nested output, a changed inventory touches only
its rows, and ``managed-things things`` finds every thing by key."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from deploy_support import by_name, emulator_things, material, operate, run_cli, stack_state, state_dir, synth

from cdk_managed_things import ManagedThingFleet
from managed_things_local.engine.session import SessionOptions

DEFAULTS = {"Role": "DEVICE", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE"}


def row(index: int) -> dict[str, Any]:
    return {"SerialNumber": f"SN-{index:04d}", "Name": f"plug-{index}", "AuthenticationMaterial": material(index)}


def fleet_app(indexes: range | list[int], name_of_3: str = "plug-3"):
    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Plugs")
        rows = [row(i) if i != 3 else {**row(3), "Name": name_of_3} for i in indexes]
        fleet = ManagedThingFleet(stack, "Fleet", inventory=rows, key="SerialNumber", defaults=DEFAULTS, shards=3)
        cdk.CfnOutput(stack, "FirstId", value=fleet.thing("SN-0001").managed_thing_id)

    return define


def listed(capsys: Any, cdk_out: Path) -> dict[str, dict[str, Any]]:
    run = run_cli(capsys, "things", "--cdk-out", str(cdk_out), "--state-dir", str(cdk_out.parent / ".managed-things"),
                  "--json")  # fmt: skip
    assert run.code == 0, run.stderr
    return {thing["key"]: thing for thing in run.document["things"]}


def test_a_fleet_deploys_changes_only_its_changed_rows_and_is_found_by_key(tmp_path: Path, capsys: Any) -> None:
    # GIVEN a fleet of 10 rows over 3 shards, with the Id of one thing as an output of the parent
    cdk_out = synth(tmp_path / "cdk.out", fleet_app(range(1, 11)))
    # WHEN deployed
    run = operate(cdk_out, "deploy")
    # THEN the 10 things exist, the output is the first one's Id, and `things` lists each key's Id and ARN
    assert not run.result.failed, run.output
    things = by_name(emulator_things(cdk_out))
    assert sorted(things) == sorted(f"plug-{i}" for i in range(1, 11))
    assert run.stack("Plugs").outputs == {"FirstId": things["plug-1"]["Id"]}
    found = listed(capsys, cdk_out)
    assert {key: thing["id"] for key, thing in found.items()} == {
        f"SN-{i:04d}": things[f"plug-{i}"]["Id"] for i in range(1, 11)
    }
    assert all(thing["arn"] == things[f"plug-{int(key[3:])}"]["Arn"] for key, thing in found.items())

    # WHEN row 2 is removed, row 11 added and row 3 renamed
    synth(cdk_out, fleet_app([1, *range(3, 12)], name_of_3="plug-3-renamed"))
    changed = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    # THEN only those three things change: the others keep their Ids, the renamed one is updated in place
    assert changed.code == 0, changed.stderr
    after = by_name(emulator_things(cdk_out))
    assert sorted(after) == sorted(["plug-1", "plug-3-renamed", *(f"plug-{i}" for i in range(4, 12))])
    assert after["plug-3-renamed"]["Id"] == things["plug-3"]["Id"]
    assert all(after[f"plug-{i}"]["Id"] == things[f"plug-{i}"]["Id"] for i in [1, *range(4, 11)])
    assert changed.stderr.count("CREATE_COMPLETE | Custom::ManagedThing") == 1
    assert changed.stderr.count("DELETE_COMPLETE | Custom::ManagedThing") == 1
    assert changed.stderr.count("UPDATE_COMPLETE | Custom::ManagedThing") == 1

    # WHEN destroyed, THEN no thing is left, and `things` shows none deployed
    destroyed = run_cli(capsys, "destroy", "--cdk-out", str(cdk_out), "--force")
    assert destroyed.code == 0, destroyed.stderr
    assert emulator_things(cdk_out) == {}
    assert {thing["id"] for thing in listed(capsys, cdk_out).values()} == {"-"}


def secret_material(index: int) -> str:
    """A valid Zigbee material kept in the local vault (secrets.json holds values: not one of the scan's canaries)."""
    return f"Z:00124B00000000{index:02d}$I:C0FFEE5EC2E7CA4A"


def test_a_fleet_reads_the_secrets_its_rows_name(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a fleet whose rows name their material's secret under a prefix, and those secrets put locally
    def define(app: cdk.App) -> None:
        rows = [{"SerialNumber": f"SN-{i}", "Name": f"lock-{i}", "AuthenticationMaterialSecretName": f"fleet/locks/{i}"}
                for i in (1, 2)]  # fmt: skip
        ManagedThingFleet(cdk.Stack(app, "Locks"), "Fleet", inventory=rows, key="SerialNumber", defaults=DEFAULTS,
                          secret_name_prefix="fleet/locks/", shards=2)  # fmt: skip

    cdk_out = synth(tmp_path / "cdk.out", define)
    for i in (1, 2):
        monkeypatch.setattr("sys.stdin", io.StringIO(secret_material(i)))
        put = run_cli(capsys, "secret", "put", f"fleet/locks/{i}", "--state-dir", str(state_dir(cdk_out)))
        assert put.code == 0, put.stderr
    # WHEN deployed
    run = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    # THEN each thing was made with its own secret's value, read by name
    assert run.code == 0, run.stderr
    things = by_name(emulator_things(cdk_out))
    for i in (1, 2):
        assert (
            things[f"lock-{i}"]["AuthenticationMaterialSha256"]
            == hashlib.sha256(secret_material(i).encode()).hexdigest()
        )
    assert run_cli(capsys, "destroy", "--cdk-out", str(cdk_out), "--force").code == 0


def test_one_bad_row_rolls_back_only_its_shard_stack(tmp_path: Path, capsys: Any) -> None:
    # GIVEN a fleet over two shard stacks of 3, one row of the second naming a secret that does not exist (valid at
    # synth, refused at deploy)
    def define(app: cdk.App) -> None:
        rows = [row(i) for i in range(1, 6)]
        rows.append({"SerialNumber": "SN-0099", "Name": "plug-99", "AuthenticationMaterialSecretName": "fleet/none"})
        ManagedThingFleet(cdk.Stack(app, "Plugs"), "Fleet", inventory=rows, key="SerialNumber", defaults=DEFAULTS,
                          placement=tmp_path / "placement.json", things_per_stack=3,
                          secret_name_prefix="fleet/")  # fmt: skip

    cdk_out = synth(tmp_path / "cdk.out", define)
    placement = json.loads((tmp_path / "placement.json").read_text())["shards"]
    assert sorted(placement) == ["Shard001", "Shard002"]
    # WHEN both shard stacks are deployed side by side
    run = operate(cdk_out, "deploy", options=SessionOptions(stack_concurrency=2))
    # THEN the shard with the bad row rolls back alone, and the other keeps its three things
    assert run.result.failed
    statuses = {report.stack_name: report.status for report in run.result.reports}
    bad = next(name for name in statuses if statuses[name] == "ROLLBACK_COMPLETE")
    good = next(name for name in statuses if name != bad and name.startswith("Plugs-Fleet-"))
    assert statuses[good] == "CREATE_COMPLETE"
    things = by_name(emulator_things(cdk_out))
    assert len(things) == 3 and "plug-99" not in things
    # AND destroy leaves nothing
    assert run_cli(capsys, "destroy", "--cdk-out", str(cdk_out), "--force").code == 0
    assert emulator_things(cdk_out) == {}


def test_a_stack_holding_only_a_fleet_is_skipped_as_the_cdk_cli_skips_a_stack_without_resources(
    tmp_path: Path, capsys: Any
) -> None:
    # GIVEN a stack whose only construct is a fleet, synthesized without the CLI's metadata resource
    def define(app: cdk.App) -> None:
        ManagedThingFleet(cdk.Stack(app, "Only"), "Fleet", inventory=[row(1), row(2)], key="SerialNumber",
                          defaults=DEFAULTS, placement=tmp_path / "placement.json")  # fmt: skip

    cdk_out = synth(tmp_path / "cdk.out", define, cli_context=False)
    # WHEN deployed
    run = operate(cdk_out, "deploy")
    # THEN the shard stack holds the things, and the empty stack is skipped with the CDK CLI's warning, not deployed
    assert not run.result.failed, run.output
    assert "Only | stack has no resources, skipping deployment." in run.output
    assert len(emulator_things(cdk_out)) == 2
    assert not stack_state(cdk_out, "Only").exists()
    assert run_cli(capsys, "destroy", "--cdk-out", str(cdk_out), "--force").code == 0
    assert emulator_things(cdk_out) == {}
