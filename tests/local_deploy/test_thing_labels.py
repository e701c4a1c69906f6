"""Fleet things named by their label from the things manifest, and counts of only what changed.

The assemblies are written by hand in the things manifest's version 2 layout: a fleet's shards are top-level stacks
of the assembly, and ``<fleet stack>.<fleet path>.things.json`` maps each key to its shard stack, logical id and
label (the key, masked at synth where its member is sensitive). The fleet's stack also holds a standalone
``ManagedThing``, named by its construct path.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_runtime import Deployed, FakeApp, FakeRuntime, nested_stack

from managed_things_local.cli import main
from managed_things_local.cli.progress import print_summary

TOKEN = {"Fn::GetAtt": ["Provider", "Arn"]}
# shard stack -> the fleet's things in it: (key, logical id)
SHARDS = {
    "Home-Plugs-Shard0": [("PLUG-0001", "ThingA1"), ("PLUG-0002", "ThingA2")],
    "Home-Plugs-Shard1": [("PLUG-0003", "ThingB1")],
    "Home-Plugs-Shard2": [("PLUG-0004", "ThingC1")],
}


def plug(key: str, name: str = "", stack: str = "Home") -> dict[str, Any]:
    """A fleet thing as a shard's template holds it (its construct path says nothing of its key)."""
    index = int(key[-2:])
    return {
        "Type": "Custom::ManagedThing",
        "Properties": {
            "ServiceToken": TOKEN,
            "Role": "DEVICE",
            "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE",
            "AuthenticationMaterial": f"Z:00124B00000000{index:02d}$I:A1B2C3D4E5F6A7B8",
            "SerialNumber": key,
            "Name": name or f"plug-{index}",
        },
        "Metadata": {"aws:cdk:path": f"{stack}/Plugs/{key[-4:]}/Resource"},
    }


def hub(stack: str = "Home") -> dict[str, Any]:
    return {**plug("HUB-0009", "hub"), "Metadata": {"aws:cdk:path": f"{stack}/Hub/Resource"}}


def write_fleet(app: FakeApp, renamed: frozenset[str] = frozenset()) -> None:
    """The fleet's stack (its standalone Hub) and its shard stacks, and the fleet's things manifest (version 2)."""
    stacks: dict[str, Any] = {"Home": {"HubThing": hub()}}
    for stack, things in SHARDS.items():
        stacks[stack] = {lid: plug(key, "renamed" if key in renamed else "") for key, lid in things}
    app.write(stacks)
    manifest = {
        "version": 2,
        "fleet": "Home/Plugs",
        "stack": "Home",
        "stackName": "Home",
        "keyMember": "SerialNumber",
        "things": {
            key: {"stack": stack, "stackName": stack, "logicalId": lid, "label": f"****{key[-4:]}"}
            for stack, things in SHARDS.items()
            for key, lid in things
        },
    }
    (app.cdk_out / "Home.Plugs.things.json").write_text(json.dumps(manifest))


def summary(reports: Any, command: str = "deploy") -> str:
    stream = io.StringIO()
    print_summary(reports, command, stream)
    return stream.getvalue()


def redeployed(app: FakeApp, write: Callable[..., None]) -> Deployed:
    """``app`` written by ``write`` and deployed, then deployed again with PLUG-0001, -0002 and -0004 renamed."""
    write(app)
    app.deploy(FakeRuntime())
    write(app, renamed=frozenset({"PLUG-0001", "PLUG-0002", "PLUG-0004"}))
    return app.deploy(FakeRuntime())


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_progress_names_fleet_things_by_label_and_standalone_things_by_path(tmp_path: Path) -> None:
    # GIVEN a fleet whose shards are stacks of their own, and a standalone thing beside it
    app = FakeApp(tmp_path)
    write_fleet(app)
    # WHEN deployed, then destroyed
    deployed = app.deploy(FakeRuntime())
    destroyed = app.destroy(FakeRuntime())
    # THEN each fleet thing is named by its label (and logical id), as in the things manifest
    assert "Home-Plugs-Shard0 | CREATE_COMPLETE | Custom::ManagedThing | ****0001 (ThingA1)" in deployed.lines
    assert "Home-Plugs-Shard2 | CREATE_COMPLETE | Custom::ManagedThing | ****0004 (ThingC1)" in deployed.lines
    assert "Home-Plugs-Shard1 | DELETE_COMPLETE | Custom::ManagedThing | ****0003 (ThingB1)" in destroyed.lines
    # AND the standalone thing by its construct path
    assert "Home | CREATE_COMPLETE | Custom::ManagedThing | Hub (HubThing)" in deployed.lines
    # AND no key of the fleet is shown (SerialNumber is sensitive: the label masks it)
    assert not any("PLUG-000" in line for line in deployed.lines + destroyed.lines)


def test_diff_names_fleet_things_by_label_and_is_silent_about_stacks_without_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a deployed fleet, then two of its things renamed in one shard
    app = FakeApp(tmp_path)
    write_fleet(app)
    app.deploy(FakeRuntime())
    write_fleet(app, renamed=frozenset({"PLUG-0001", "PLUG-0002"}))
    # WHEN diffed
    code, out, err = cli(capsys, "diff", "--cdk-out", str(app.cdk_out))
    # THEN only the stack with differences is shown, its things by label, and one closing line counts the rest
    assert code == 0, err
    assert out.splitlines() == [
        "Stack Home-Plugs-Shard0",
        "[~] Custom::ManagedThing ****0001 (ThingA1) update in place: Name",
        "[~] Custom::ManagedThing ****0002 (ThingA2) update in place: Name",
        "",
        "✨  Number of stacks with differences: 1 (3 without differences)",
    ]
    # AND --json says the same, with each thing's label
    document = json.loads(cli(capsys, "diff", "--cdk-out", str(app.cdk_out), "--json")[1])
    changed = {s["stackName"]: [t["path"] for t in s["things"]] for s in document["stacks"] if s["things"]}
    assert changed == {"Home-Plugs-Shard0": ["****0001", "****0002"]}


def test_a_diff_without_differences_says_so_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a deployed fleet, unchanged
    app = FakeApp(tmp_path)
    write_fleet(app)
    app.deploy(FakeRuntime())
    # WHEN diffed, THEN one line says there is nothing to do
    code, out, _ = cli(capsys, "diff", "--cdk-out", str(app.cdk_out))
    assert code == 0
    assert out.splitlines() == ["✨  Number of stacks with differences: 0 (4 without differences)"]


def test_a_redeploy_counts_the_things_it_changed_and_no_changes_elsewhere(tmp_path: Path) -> None:
    # GIVEN a deployed fleet, WHEN deployed again with three things renamed in two of its three shards
    deployed = redeployed(FakeApp(tmp_path), write_fleet)
    # THEN the changed shards count their updated things, the others report no changes, and the total is 3
    text = summary(deployed.reports)
    assert " ✅  Home-Plugs-Shard0\n 2 updated\n" in text
    assert " ✅  Home-Plugs-Shard2\n 1 updated\n" in text
    assert " ✅  Home-Plugs-Shard1 (no changes)\n" in text and " ✅  Home (no changes)\n" in text
    assert "✨  3 updated in 2 stacks (2 stacks without changes)" in text


def nested_fleet(app: FakeApp, renamed: frozenset[str] = frozenset()) -> None:
    """A parent with a thing of its own and three nested stacks of things (the layout before version 2)."""
    nested = {
        f"Shard{i}.nested.template.json": {
            "Resources": {lid: plug(key, "renamed" if key in renamed else "", f"Fake/Shard{i}") for key, lid in things},
        }
        for i, things in enumerate(SHARDS.values())
    }
    app.write(
        {
            "Fake": {
                "HubThing": hub("Fake"),
                **{f"Shard{i}": nested_stack(f, f"Fake/Shard{i}") for i, f in enumerate(nested)},
            }
        },
        nested,
    )


def test_nested_stacks_are_not_counted_as_updated_things(tmp_path: Path) -> None:
    # GIVEN a deployed stack with nested stacks of things, WHEN deployed again with 3 things renamed in 2 of them
    deployed = redeployed(FakeApp(tmp_path), nested_fleet)
    # THEN the summary counts the 3 things, not the nested stacks that hold them
    assert "\n 3 updated\n" in summary(deployed.reports)


def test_destroy_announces_what_its_summary_counts(tmp_path: Path) -> None:
    # GIVEN a deployed stack with a thing of its own and three nested stacks of 4 things
    app = FakeApp(tmp_path)
    nested_fleet(app)
    app.deploy(FakeRuntime())
    # WHEN destroyed
    engine, _, _ = app.engine(FakeRuntime())
    announced = engine.destruction_plan(["Fake"])
    reports = engine.destroy(["Fake"])
    # THEN the announcement and the summary count the same 5 things
    assert announced[0].startswith("Fake | will delete 5 resources: Hub (HubThing), Plugs/0001 (ThingA1), ")
    assert "\n 5 deleted\n" in summary(reports, "destroy")


def listed(capsys: pytest.CaptureFixture[str], app: FakeApp, *stacks: str) -> list[dict[str, Any]]:
    code, out, err = cli(capsys, "things", "--cdk-out", str(app.cdk_out), "--state-dir", str(app.store.directory),
                         "--json", *stacks)  # fmt: skip
    assert code == 0, err
    things: list[dict[str, Any]] = json.loads(out)["things"]
    return things


def test_things_lists_fleet_things_by_key_and_label_and_standalone_things_by_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a deployed fleet of shard stacks, and a standalone thing in the fleet's stack
    app = FakeApp(tmp_path)
    write_fleet(app)
    app.deploy(FakeRuntime())
    # WHEN listed
    things = listed(capsys, app)
    # THEN the standalone thing is there, by its construct path, beside every fleet thing, by key and label
    by_label = {t["label"]: t for t in things}
    assert by_label["Hub"] == {
        "stack": "Home", "fleet": None, "key": None, "label": "Hub", "logical_id": "HubThing", "id": "HubThing-id",
        "arn": "-",
    }  # fmt: skip
    assert by_label["****0003"] == {
        "stack": "Home-Plugs-Shard1", "fleet": "Home/Plugs", "key": "PLUG-0003", "label": "****0003",
        "logical_id": "ThingB1", "id": "ThingB1-id", "arn": "-",
    }  # fmt: skip
    assert sorted(by_label) == ["****0001", "****0002", "****0003", "****0004", "Hub"]
    # AND the text lists them by label, never by a key the label masks
    code, out, _ = cli(capsys, "things", "--cdk-out", str(app.cdk_out), "--state-dir", str(app.store.directory))
    assert code == 0
    assert "Home | - | Hub | HubThing-id | -" in out.splitlines()
    assert "Home-Plugs-Shard0 | Home/Plugs | ****0001 | ThingA1-id | -" in out.splitlines()
    assert "PLUG-" not in out
    # AND a stack selects its own things, the fleet's stack its fleet's too
    assert [t["label"] for t in listed(capsys, app, "Home-Plugs-Shard1")] == ["****0003"]
    assert len(listed(capsys, app, "Home")) == 5


def test_things_refuses_a_manifest_of_another_version_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an assembly whose things manifest was written by the previous version of the library
    app = FakeApp(tmp_path)
    write_fleet(app)
    manifest = app.cdk_out / "Home.Plugs.things.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": 1}))
    # WHEN listed, THEN one line names the file and says what to do
    code, out, err = cli(capsys, "things", "--cdk-out", str(app.cdk_out), "--state-dir", str(app.store.directory))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and f"{manifest} is version 1" in err and "synthesize the app again" in err
    # AND a deploy still runs, naming the things by their construct paths
    assert (
        "Home-Plugs-Shard0 | CREATE_COMPLETE | Custom::ManagedThing | Home/Plugs/0001 (ThingA1)"
        in app.deploy(FakeRuntime()).lines
    )


def test_destroying_several_stacks_announces_the_total_its_summary_gives(tmp_path: Path) -> None:
    # GIVEN a deployed fleet of three shard stacks and the fleet's stack
    app = FakeApp(tmp_path)
    write_fleet(app)
    app.deploy(FakeRuntime())
    # WHEN destroyed
    engine, _, _ = app.engine(FakeRuntime())
    order = engine.destroy_order([s.stack_name for s in engine.assembly.stacks])
    announced = engine.destruction_plan(order)
    reports = engine.destroy(order)
    # THEN the stack lines name the things by label, and the announced total is the summary's
    assert "Home-Plugs-Shard0 | will delete 2 resources: ****0001 (ThingA1), ****0002 (ThingA2)" in announced
    assert announced[-1] == "will delete 5 resources in 4 stacks"
    assert "✨  5 deleted in 4 stacks" in summary(reports, "destroy")


def test_a_synthesized_app_of_standalone_things_is_listed_and_reported_by_construct_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import aws_cdk as cdk
    from deploy_support import device, synth

    from constructs import Construct

    # GIVEN an app of standalone ManagedThings in two stacks, one in a construct of its own, deployed
    def define(app: cdk.App) -> None:
        home = cdk.Stack(app, "Home")
        device(home, "Lamp", 1)
        device(Construct(home, "Attic"), "Fan", 2)
        device(cdk.Stack(app, "Garage"), "Door", 3)

    fake = FakeApp(tmp_path)
    synth(fake.cdk_out, define)
    deployed = fake.deploy(FakeRuntime())
    # THEN progress names each by its construct path below its stack
    created = [line for line in deployed.lines if "CREATE_COMPLETE | Custom::ManagedThing" in line]
    assert sorted(line.split(" | ")[-1].split(" (")[0] for line in created) == ["Attic/Fan", "Door", "Lamp"]
    # AND things lists them all by construct path, each with its recorded Id
    things = listed(capsys, fake)
    assert sorted((t["stack"], t["label"], t["fleet"], t["key"]) for t in things) == [
        ("Garage", "Door", None, None), ("Home", "Attic/Fan", None, None), ("Home", "Lamp", None, None),
    ]  # fmt: skip
    recorded = fake.state("Home")
    assert all(t["id"] == recorded[t["logical_id"]] for t in things if t["stack"] == "Home")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: m["things"]["PLUG-0003"].pop("label"), "no 'label'"),
        (lambda m: m.pop("keyMember"), "no 'keyMember'"),
        (lambda m: m.update(things=["PLUG-0003"]), "AttributeError"),
    ],
)
def test_a_broken_things_manifest_is_named_without_its_keys(tmp_path: Path, change: Any, problem: str) -> None:
    from managed_things_local.cloudformation.things_manifest import read_things_manifests
    from managed_things_local.errors import DeployError

    # GIVEN a version 2 things manifest that lacks something a synth writes
    app = FakeApp(tmp_path)
    write_fleet(app)
    path = app.cdk_out / "Home.Plugs.things.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    # WHEN read, THEN the error names the file and what is missing, never a key (a key may be a serial number)
    with pytest.raises(DeployError) as error:
        read_things_manifests(app.cdk_out)
    assert str(error.value) == f"The things manifest {path} is not one a synth writes ({problem})"


def test_a_failed_fleet_thing_is_named_by_label_in_the_summary(tmp_path: Path) -> None:
    from managed_things_local.cloudformation.requests import RequestType

    # GIVEN a fleet whose thing PLUG-0003 fails to be created
    app = FakeApp(tmp_path)
    write_fleet(app)
    # WHEN deployed
    deployed = app.deploy(FakeRuntime(fail={("ThingB1", RequestType.CREATE): "Invalid request"}))
    # THEN its stack's failure names the thing by label, as the progress line does
    assert "\n ❌  Home-Plugs-Shard1 failed: ****0003 (ThingB1): Invalid request\n" in summary(deployed.reports)
    assert "Home-Plugs-Shard1 | CREATE_FAILED | Custom::ManagedThing | ****0003 (ThingB1) | Invalid request" in (
        deployed.lines
    )
