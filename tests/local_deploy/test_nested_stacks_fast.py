"""Nested stacks (AWS::CloudFormation::Stack) through the fake runtime: deployed, updated, rolled back, destroyed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fake_runtime import FakeApp, FakeRuntime, nested_stack, thing

from managed_things_local.cloudformation.assembly import read_assembly
from managed_things_local.cloudformation.plan import Removal
from managed_things_local.cloudformation.records import ResourceState, StackState
from managed_things_local.cloudformation.requests import RequestType
from managed_things_local.cloudformation.stack_events import Phase
from managed_things_local.cloudformation.templates import NESTED_STACK
from managed_things_local.engine.executor import Executor
from managed_things_local.engine.session import destroy_selection
from managed_things_local.state.state import StateStore


def failing_save(self: StateStore, state: object) -> None:
    raise PermissionError(13, "Permission denied")


FLOOR = "Floor.nested.template.json"


@pytest.fixture
def app(tmp_path: Path) -> FakeApp:
    return FakeApp(tmp_path)


def home(app: FakeApp, lamp_name: str = "lamp", *, fail_root: bool = False) -> None:
    """Root stack Fake: the nested stack Floor (two lamps, an output), and a hub using Floor's output."""
    floor: dict[str, Any] = {
        "Parameters": {"Prefix": {"Type": "String"}},
        "Resources": {
            "Lamp1": thing("l1", Name={"Fn::Sub": "${Prefix}-" + lamp_name}),
            "Lamp2": thing("l2", Upstream={"Ref": "Lamp1"}),
        },
        "Outputs": {"LampId": {"Value": {"Ref": "Lamp1"}}},
    }
    hub = thing("h1", Lamp={"Fn::GetAtt": ["Floor", "Outputs.LampId"]}, Floor={"Ref": "Floor"})
    if fail_root:
        hub["Properties"]["Note"] = "fail"
    app.write({"Fake": {"Floor": nested_stack(FLOOR, "Fake/Floor", Prefix="home"), "Hub": hub}}, nested={FLOOR: floor})


def nested_name(app: FakeApp) -> str:
    state = app.store.load("Fake")
    assert state is not None
    return str(state.resources["Floor"].data["StackName"])


def test_a_nested_stack_is_deployed_before_what_uses_its_outputs(app: FakeApp) -> None:
    # GIVEN a root stack whose hub uses a nested stack's output
    home(app)
    runtime = FakeRuntime()
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN the nested things come first, the hub gets the output and the nested stack's id
    assert runtime.calls() == [("Create", "Lamp1", "l1"), ("Create", "Lamp2", "l2"), ("Create", "Hub", "h1")]
    assert runtime.requests[0].properties["Name"] == "home-lamp"  # the nested stack's Parameters
    name = nested_name(app)
    assert re.fullmatch(r"Fake-Floor-[A-Z0-9]{12}", name)
    hub = runtime.requests[2].properties
    assert hub["Lamp"] == "l1"
    assert re.fullmatch(rf"arn:aws:cloudformation:[a-z0-9-]+:123456789012:stack/{name}/[0-9a-f-]{{36}}", hub["Floor"])
    assert app.state(name) == {"Lamp1": "l1", "Lamp2": "l2"}
    # AND progress shows the nested stack as a resource of its parent and as a stack of its own
    assert f"{name} | CREATE_COMPLETE | AWS::CloudFormation::Stack | {name}" in deployed.lines
    assert (
        "Fake | CREATE_COMPLETE | AWS::CloudFormation::Stack | Floor.NestedStack/Floor.NestedStackResource (Floor)"
        in (deployed.lines)
    )
    assert [n.stack_name for n in deployed.report().nested] == [name]


def test_a_redeploy_without_changes_sends_nothing_and_an_update_inside_updates_only_it(app: FakeApp) -> None:
    # GIVEN a deployed root with a nested stack
    home(app)
    app.deploy(FakeRuntime())
    name = nested_name(app)
    # WHEN deployed again unchanged, THEN nothing is sent and the nested stack keeps its name
    unchanged = FakeRuntime()
    app.deploy(unchanged)
    assert unchanged.calls() == [] and nested_name(app) == name
    # WHEN a nested thing changes, THEN only it is updated, in place
    home(app, lamp_name="bright")
    updated = FakeRuntime()
    app.deploy(updated)
    assert updated.calls() == [("Update", "Lamp1", "l1")]
    assert updated.requests[0].properties["Name"] == "home-bright"


def test_a_failure_in_the_root_rolls_back_its_nested_stack(app: FakeApp) -> None:
    # GIVEN a root whose hub fails after the nested stack was created
    home(app)
    runtime = FakeRuntime(fail={("Hub", RequestType.CREATE): "told to fail"})
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN the hub is deleted, then the nested stack with its things (dependents first), and nothing is recorded
    deletes = [(lid, pid) for kind, lid, pid in runtime.calls() if kind == "Delete"]
    assert deletes == [("Hub", "Hub-failed"), ("Lamp2", "l2"), ("Lamp1", "l1")]
    assert deployed.report().status == "ROLLBACK_COMPLETE"
    assert app.store.all() == []


def test_a_failure_inside_a_nested_stack_rolls_back_the_nested_stack_and_the_root(app: FakeApp) -> None:
    # GIVEN a deployed home, then an update whose nested Lamp1 update fails
    home(app)
    app.deploy(FakeRuntime())
    name = nested_name(app)
    home(app, lamp_name="bright")
    runtime = FakeRuntime(fail={("Lamp1", RequestType.UPDATE): "told to fail"})
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN the nested stack rolls back (Lamp1 back to its old name), the root fails naming the nested stack
    assert runtime.calls() == [("Update", "Lamp1", "l1"), ("Update", "Lamp1", "l1")]
    assert runtime.requests[1].properties["Name"] == "home-lamp"
    report = deployed.report()
    assert report.status == "UPDATE_ROLLBACK_COMPLETE" and report.failed_resource == "Floor"
    assert "was not successfully updated" in report.error and "told to fail" in report.error
    assert app.state(name) == {"Lamp1": "l1", "Lamp2": "l2"}


def test_destroy_deletes_the_nested_stack_and_its_things(app: FakeApp) -> None:
    # GIVEN a deployed home
    home(app)
    app.deploy(FakeRuntime())
    # WHEN destroyed
    runtime = FakeRuntime()
    destroyed = app.destroy(runtime)
    # THEN the hub goes first (it uses the nested stack), then the nested things, dependents first
    assert runtime.calls() == [("Delete", "Hub", "h1"), ("Delete", "Lamp2", "l2"), ("Delete", "Lamp1", "l1")]
    assert not destroyed.report().failed
    assert app.store.all() == []


def test_a_root_and_nested_state_that_cannot_be_written_still_destroy_every_nested_thing(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a home deployed while no snapshot can be written
    home(app)
    with monkeypatch.context() as patched:
        patched.setattr(StateStore, "save", failing_save)
        failed = app.deploy(FakeRuntime())
    assert failed.report().error.startswith("Cannot write the local state")
    # WHEN destroyed
    runtime = FakeRuntime()
    app.destroy(runtime)
    # THEN the journals lead to every thing, the nested ones included
    assert sorted(lid for kind, lid, _ in runtime.calls() if kind == "Delete") == ["Hub", "Lamp1", "Lamp2"]
    assert app.store.all() == []


def test_a_glob_selects_the_root_for_destroy_never_its_nested_stack_alone(app: FakeApp) -> None:
    # GIVEN a deployed home, whose nested stack's name also matches Fake*
    home(app)
    app.deploy(FakeRuntime())
    engine, _, _ = app.engine(FakeRuntime())
    # WHEN stacks are selected for destroy by a glob, THEN only the root is
    assert destroy_selection(engine.assembly, app.store, ["Fake*"]) == ["Fake"]


def test_updated_nested_stacks_are_rolled_back_each_after_those_that_depend_on_it(app: FakeApp) -> None:
    # GIVEN two deployed nested stacks, Upstairs using Downstairs' output, and a root thing
    def write(version: str, fail: bool = False) -> None:
        down = {"Resources": {"Lamp": thing("d1", Note=version)}, "Outputs": {"LampId": {"Value": {"Ref": "Lamp"}}}}
        up = {"Parameters": {"Below": {"Type": "String"}}, "Resources": {"Lamp": thing("u1", Note=version)}}
        hub = thing("h1", Note="fail" if fail else "ok")
        app.write(
            {
                "Fake": {
                    "Down": nested_stack("Down.json", "Fake/Down"),
                    "Up": nested_stack("Up.json", "Fake/Up", Below={"Fn::GetAtt": ["Down", "Outputs.LampId"]}),
                    "Hub": {**hub, "DependsOn": ["Up"]},
                }
            },
            nested={"Down.json": down, "Up.json": up},
        )

    write("v1")
    app.deploy(FakeRuntime())
    # WHEN both are updated and the root then fails
    write("v2", fail=True)
    runtime = FakeRuntime(fail={("Hub", RequestType.UPDATE): "told to fail"})
    deployed = app.deploy(runtime)
    # THEN both nested stacks are rolled back, Upstairs before Downstairs, to their old properties
    rollbacks = [r for r in runtime.requests if r.request_type is RequestType.UPDATE and r.properties["Note"] == "v1"]
    assert [r.physical_id for r in rollbacks] == ["u1", "d1"]
    statuses = {n.stack_name.split("-")[1]: n.status for n in deployed.report().nested}
    assert statuses == {"Down": "UPDATE_ROLLBACK_COMPLETE", "Up": "UPDATE_ROLLBACK_COMPLETE"}


class RecordingNestedStacks:
    """A NestedStacks collaborator that destroys nothing: it records what the executor asked of it."""

    def __init__(self, destroyed: bool) -> None:
        self.destroyed = destroyed
        self.asked: list[tuple[str, str]] = []

    def destroy(self, stack_name: str, parent: str) -> bool:
        self.asked.append((stack_name, parent))
        return self.destroyed


@pytest.mark.parametrize("destroyed", [True, False])
def test_the_executor_deletes_a_nested_stack_through_the_collaborator_it_was_built_with(
    app: FakeApp, destroyed: bool
) -> None:
    # GIVEN an executor built with a NestedStacks collaborator (nothing patched on it afterwards)
    home(app)
    collaborator = RecordingNestedStacks(destroyed)
    executor = Executor(
        read_assembly(app.cdk_out), app.store, FakeRuntime(), nested_stacks=lambda executor: collaborator
    )
    state = StackState(
        "Fake", "arn:aws:cloudformation:eu-west-1:123456789012:stack/Fake/1", "eu-west-1", "123456789012"
    )
    floor = ResourceState("Floor", NESTED_STACK, "arn:floor", {}, data={"StackName": "Fake-Floor-1"})
    # WHEN it deletes a nested stack
    failures = executor.delete_all(state, [Removal("Floor", floor, "Delete")], phase=Phase.DESTROY)
    # THEN the collaborator destroys it, and its answer is the Delete's outcome
    assert collaborator.asked == [("Fake-Floor-1", "Fake")]
    assert failures == {"Floor": None if destroyed else "not destroyed"}
