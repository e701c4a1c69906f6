"""``managed-things diff``: what a deploy would do to each thing, planned by the provider's own code."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from deploy_support import device, material, run_cli, synth


def fleet(version: int):
    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Fleet")
        device(stack, "Renamed", 1, name="before" if version == 1 else "after", tags={"a": "1"})
        device(stack, "Kept", 2, name="kept")
        if version == 1:
            device(stack, "Removed", 3)
            device(stack, "Rekeyed", 4)
        else:
            device(stack, "Added", 5)
            # the same thing, a new authentication material: the provider must replace it
            device(stack, "Rekeyed", 6)

    return define


def test_diff_says_what_a_deploy_would_do_without_showing_values(tmp_path: Path, capsys) -> None:
    # GIVEN a deployed stack, then a changed app
    cdk_out = synth(tmp_path / "cdk.out", fleet(1))
    assert run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).code == 0
    synth(cdk_out, fleet(2))
    # WHEN diffed
    run = run_cli(capsys, "diff", "--cdk-out", str(cdk_out))
    # THEN each changed thing has one line: update in place with its members, replace and why, create, delete
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "Stack Fleet"
    assert "[~] Custom::ManagedThing Renamed (" in run.stdout and "update in place: Name" in run.stdout
    assert any(
        line.startswith("[-/+] Custom::ManagedThing Rekeyed (") and "replace: AuthenticationMaterial changed" in line
        for line in lines
    )
    assert any(line.startswith("[+] Custom::ManagedThing Added (") and line.endswith(" create") for line in lines)
    assert any(line.startswith("[-] Custom::ManagedThing Removed (") and line.endswith(" delete") for line in lines)
    assert "Kept" not in run.stdout
    # AND no value is shown, the sensitive material least of all
    for secret in (material(4), material(6), "after", "before"):
        assert secret not in run.stdout
    # AND --json says the same, and the diff changed nothing
    document = run_cli(capsys, "diff", "--cdk-out", str(cdk_out), "--json").document
    actions = {t["path"]: t["action"] for t in document["stacks"][0]["things"]}
    assert actions == {"Renamed": "update", "Rekeyed": "replace", "Added": "create", "Removed": "delete"}
    again = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out))
    assert "Fleet | UPDATE_IN_PROGRESS | Custom::ManagedThing | Renamed (" in again.stderr


def test_a_member_the_update_cannot_clear_is_said_to_be_kept() -> None:
    from managed_things_local.engine.diff import _planned

    # GIVEN a thing whose Brand the template no longer sets (UpdateManagedThing cannot clear it)
    old = {
        "ServiceToken": "arn",
        "Role": "DEVICE",
        "AuthenticationMaterial": "m",
        "AuthenticationMaterialType": "WIFI_SETUP_QR_BAR_CODE",
        "Brand": "Acme",
    }
    new = {k: v for k, v in old.items() if k != "Brand"}
    # WHEN planned
    planned = _planned("Plug", "Plug", old, new)
    # THEN it is updated in place, and the diff says the thing keeps the value
    assert planned.action == "update"
    assert planned.reasons == ["Brand is no longer set but the thing keeps its value"]
    assert "(Brand is no longer set but the thing keeps its value)" in planned.line()
