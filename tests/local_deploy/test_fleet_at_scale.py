"""A 2,000-row fleet from a CSV inventory, synthesized for real and deployed through the real provider: created,
one row changed in place, one added, one removed, destroyed; the emulator's things checked after every step."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from deploy_support import emulator_things, material, operate, run_cli, synth

from cdk_managed_things import ManagedThingFleet
from managed_things_local.cloudformation.assembly import read_assembly
from managed_things_local.engine.session import SessionOptions

ROWS = 2_000
DEFAULTS = {"Role": "DEVICE", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE", "Brand": "Acme"}


def row(index: int, name: str | None = None) -> dict[str, str]:
    # material() repeats every 100 indexes; the prefix keeps each row's material its own (and the canary suffix)
    return {
        "SerialNumber": f"SN-{index:06d}",
        "Name": name or f"Plug {index}",
        "AuthenticationMaterial": f"{index:06d}{material(index % 100)}",
        "MetaData": json.dumps({"floor": str(index % 5)}),
    }


def write_inventory(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def fleet_app(inventory: Path):  # type: ignore[no-untyped-def]
    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Fleet")
        ManagedThingFleet(stack, "Plugs", inventory=str(inventory), key="SerialNumber", defaults=DEFAULTS)

    return define


def by_serial(cdk_out: Path) -> dict[str, dict[str, Any]]:
    things = emulator_things(cdk_out)
    serials = [thing["SerialNumber"] for thing in things.values()]
    assert len(serials) == len(set(serials)), "a serial number has two things"
    return {thing["SerialNumber"]: thing for thing in things.values()}


@pytest.mark.slow
def test_a_2000_row_fleet_deploys_changes_grows_shrinks_and_destroys(tmp_path: Path, capsys: Any) -> None:
    rows = [row(index) for index in range(ROWS)]
    inventory = write_inventory(tmp_path / "devices.csv", rows)
    cdk_out = synth(tmp_path / "cdk.out", fleet_app(inventory))

    # WHEN the fleet is deployed, THEN every row is one thing, with its row's values and the defaults
    created = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    assert created.code == 0, created.stderr[-2000:]
    things = by_serial(cdk_out)
    assert sorted(things) == sorted(r["SerialNumber"] for r in rows)
    sample = things["SN-000123"]
    assert (sample["Name"], sample["Role"], sample["Brand"], sample["MetaData"]) == (
        "Plug 123",
        "DEVICE",
        "Acme",
        {"floor": "3"},
    )
    ids = {serial: thing["Id"] for serial, thing in things.items()}

    # WHEN one row's Name changes, THEN that thing is updated in place and no other thing changes
    rows[123] = row(123, name="Kitchen plug")
    synth(cdk_out, fleet_app(write_inventory(inventory, rows)))
    changed = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    assert changed.code == 0, changed.stderr[-2000:]
    things = by_serial(cdk_out)
    assert things["SN-000123"]["Name"] == "Kitchen plug"
    assert {serial: thing["Id"] for serial, thing in things.items()} == ids

    # WHEN a row is added, THEN one thing is created and every other keeps its Id
    rows.append(row(ROWS))
    synth(cdk_out, fleet_app(write_inventory(inventory, rows)))
    grown = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    assert grown.code == 0, grown.stderr[-2000:]
    things = by_serial(cdk_out)
    assert len(things) == ROWS + 1
    assert {serial: things[serial]["Id"] for serial in ids} == ids

    # WHEN a row is removed, THEN exactly its thing is deleted
    removed = rows.pop(7)
    synth(cdk_out, fleet_app(write_inventory(inventory, rows)))
    shrunk = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    assert shrunk.code == 0, shrunk.stderr[-2000:]
    things = by_serial(cdk_out)
    assert removed["SerialNumber"] not in things and len(things) == ROWS
    assert all(things[serial]["Id"] == ids[serial] for serial in ids if serial != removed["SerialNumber"])

    # WHEN destroyed, THEN no thing is left
    destroyed = run_cli(capsys, "destroy", "--cdk-out", str(cdk_out))
    assert destroyed.code == 0, destroyed.stderr[-2000:]
    assert emulator_things(cdk_out) == {}


@pytest.mark.slow
def test_one_failing_row_of_a_2000_row_fleet_leaves_no_orphan(tmp_path: Path) -> None:
    # GIVEN a 2,000-row fleet (5 shard stacks) in which one row, in the middle of its shard, names a secret that does
    # not exist (valid at synth, refused at deploy)
    rows = [{**row(index), "AuthenticationMaterialSecretName": ""} for index in range(ROWS)]
    rows[1000] = {**row(1000), "AuthenticationMaterial": "", "AuthenticationMaterialSecretName": "fleet/none"}
    inventory = write_inventory(tmp_path / "devices.csv", rows)

    def define(app: cdk.App) -> None:
        ManagedThingFleet(cdk.Stack(app, "Fleet"), "Plugs", inventory=str(inventory), key="SerialNumber",
                          defaults=DEFAULTS, secret_name_prefix="fleet/")  # fmt: skip

    cdk_out = synth(tmp_path / "cdk.out", define)
    # WHEN every stack is deployed at once, 8 Creates in flight in each (on the strict engine, the failing row cancels
    # its shard's Creates in flight, whose Deletes go out with made-up ids while they still run)
    run = operate(cdk_out, "deploy", options=SessionOptions(concurrency=8, stack_concurrency=6))
    # THEN only that row's shard rolls back, with Creates cancelled
    assert run.result.failed
    statuses = {report.stack_name: report.status for report in run.result.reports}
    assert sorted(statuses.values()).count("ROLLBACK_COMPLETE") == 1, statuses
    assert all(status in ("CREATE_COMPLETE", "ROLLBACK_COMPLETE") for status in statuses.values()), statuses
    assert "Resource creation cancelled" in run.output
    # AND the things that exist are exactly those of the stacks CloudFormation believes deployed: no orphan
    deployed = [s for s in read_assembly(cdk_out).stacks if statuses.get(s.stack_name) == "CREATE_COMPLETE"]
    believed = {
        resource["Properties"]["SerialNumber"]
        for stack in deployed
        for resource in stack.template.get("Resources", {}).values()
        if resource["Type"] == "Custom::ManagedThing"
    }
    assert set(by_serial(cdk_out)) == believed
    assert "SN-001000" not in believed and len(believed) < ROWS - 1
    # AND destroy leaves nothing
    assert not operate(cdk_out, "destroy").result.failed
    assert emulator_things(cdk_out) == {}
