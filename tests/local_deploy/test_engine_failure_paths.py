"""Rollback, retain, interrupt and every failure path of the engine, through the in-process fake runtime."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_runtime import FakeApp, FakeRuntime, thing

from managed_things_local.cloudformation.requests import RequestType
from managed_things_local.cloudformation.stack_events import ResourceEvent, StackEvent, StackStatus
from managed_things_local.errors import DeployError

CREATE, UPDATE, DELETE = RequestType.CREATE, RequestType.UPDATE, RequestType.DELETE


@pytest.fixture
def app(tmp_path: Path) -> FakeApp:
    return FakeApp(tmp_path)


def chain(a_id: str = "a1", b_id: str = "b1", **b_properties: object) -> dict[str, object]:
    """A, then B which depends on A."""
    return {"A": thing(a_id), "B": thing(b_id, Upstream={"Ref": "A"}, **b_properties)}


def stack_statuses(events: list) -> list[str]:
    return [str(e.status) for e in events if isinstance(e, StackEvent)]


def test_a_failed_create_rolls_back_what_the_deploy_created(app: FakeApp) -> None:
    # GIVEN a first deploy whose second resource fails
    app.write({"Fake": chain()})
    runtime = FakeRuntime(fail={("B", CREATE): "told to fail"})
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN A is created, B fails, and like CloudFormation both get a Delete (B by the id its failure answered),
    # dependents first; no state is recorded
    assert runtime.calls() == [
        ("Create", "A", "a1"),
        ("Create", "B", "b1"),
        ("Delete", "B", "B-failed"),
        ("Delete", "A", "a1"),
    ]
    report = deployed.report()
    assert report.failed and report.failed_resource == "B" and "B: told to fail" in report.error
    assert stack_statuses(deployed.events) == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    assert app.state() == {}
    assert "Fake | CREATE_FAILED | Custom::ManagedThing | B | told to fail" in deployed.lines


def test_a_failed_in_place_update_is_rolled_back_with_old_and_new_swapped(app: FakeApp) -> None:
    # GIVEN a deployed stack, then A updated in place while B's update fails
    app.write({"Fake": chain()})
    app.deploy(FakeRuntime())
    app.write({"Fake": {"A": thing("a1", Name="new"), "B": thing("b1", Upstream={"Ref": "A"}, Note="x")}})
    runtime = FakeRuntime(fail={("B", UPDATE): "told to fail"})
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN A and B are rolled back to their old properties, in dependency order, and the state stays
    assert runtime.calls() == [
        ("Update", "A", "a1"),
        ("Update", "B", "b1"),
        ("Update", "A", "a1"),
        ("Update", "B", "b1"),
    ]
    rollback_a = runtime.requests[2]
    assert rollback_a.properties.get("Name") is None and rollback_a.old_properties["Name"] == "new"
    assert stack_statuses(deployed.events)[-1] == StackStatus.UPDATE_ROLLBACK_COMPLETE
    assert app.state() == {"A": "a1", "B": "b1"}


def test_a_failed_replacement_deletes_the_new_resource_and_keeps_the_old(app: FakeApp) -> None:
    # GIVEN a deployed stack, then A replaced (new Id) while B fails
    app.write({"Fake": chain()})
    app.deploy(FakeRuntime())
    app.write({"Fake": chain(a_id="a2")})
    runtime = FakeRuntime(fail={("B", UPDATE): "told to fail"})
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN the new A is deleted, the old A is never deleted, and the state is the previous deployment
    assert runtime.calls() == [
        ("Update", "A", "a1"),
        ("Update", "B", "b1"),
        ("Update", "B", "b1"),
        ("Delete", "A", "a2"),
    ]
    assert deployed.report().status == StackStatus.UPDATE_ROLLBACK_COMPLETE
    assert app.state() == {"A": "a1", "B": "b1"}


def test_retained_resources_outlive_removal_and_destroy(app: FakeApp) -> None:
    # GIVEN a retained resource and a deleted one
    retained = {**thing("r1"), "DeletionPolicy": "Retain"}
    app.write({"Fake": {"R": retained, "D": thing("d1"), "K": {**thing("k1"), "DeletionPolicy": "Retain"}}})
    app.deploy(FakeRuntime())
    # WHEN R is removed from the template, then the stack destroyed
    app.write({"Fake": {"D": thing("d1"), "K": {**thing("k1"), "DeletionPolicy": "Retain"}}})
    removal = FakeRuntime()
    app.deploy(removal)
    destroy = FakeRuntime()
    destroyed = app.destroy(destroy)
    # THEN no Delete is sent for a retained resource, D is deleted, and the stack is gone
    assert removal.calls() == []
    assert destroy.calls() == [("Delete", "D", "d1")]
    assert destroyed.report().resources["K"].action == "retain"
    assert app.state() == {}


def test_an_interrupt_mid_deploy_finishes_what_runs_and_rolls_back(app: FakeApp) -> None:
    # GIVEN a deploy interrupted (Ctrl-C) while A is being created
    app.write({"Fake": chain()})
    runtime = FakeRuntime(interrupt={("A", CREATE)})
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN A's create finishes, B never starts, A is deleted, and the report says why
    assert runtime.calls() == [("Create", "A", "a1"), ("Delete", "A", "a1")]
    assert deployed.report().error == "Interrupted by the user"
    assert any(line.startswith("Interrupted: finishing what is in progress") for line in deployed.lines)
    assert app.state() == {}


def test_a_provider_that_never_answers_fails_and_its_resource_gets_a_made_up_id_for_the_delete(app: FakeApp) -> None:
    # GIVEN B's provider that ends without answering
    app.write({"Fake": chain()})
    runtime = FakeRuntime(silent={("B", CREATE)})
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN B fails with the reason, and the rollback deletes B by a made-up id, then A
    assert "ended without answering" in deployed.report().error
    deletes = [(lid, pid) for kind, lid, pid in runtime.calls() if kind == "Delete"]
    assert [lid for lid, _ in deletes] == ["B", "A"]
    assert deletes[0][1].startswith("Fake-B-") and len(deletes[0][1]) == len("Fake-B-") + 12


def test_a_rollback_answering_a_new_id_fails_the_rollback_naming_both_ids(app: FakeApp) -> None:
    # GIVEN a deployed stack, then an in-place update of A while B fails, and A's rollback answers another id
    app.write({"Fake": chain()})
    app.deploy(FakeRuntime())
    app.write({"Fake": {"A": thing("a1", Name="new"), "B": thing("b1", Upstream={"Ref": "A"}, Note="x")}})
    runtime = FakeRuntime(fail={("B", UPDATE): "told to fail"})
    calls = 0

    def second_update_of_a_answers_a_new_id(request) -> None:
        nonlocal calls
        if request.logical_id == "A":
            calls += 1
            if calls == 2:
                runtime.new_id[("A", UPDATE)] = "a9"

    runtime.on_request = second_update_of_a_answers_a_new_id
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN the rollback fails, naming the new id instead of the old one
    report = deployed.report()
    assert report.status == StackStatus.UPDATE_ROLLBACK_FAILED
    assert any("answered a new physical id a9 instead of a1" in w for w in report.warnings)


def test_a_failed_cleanup_warns_and_the_update_stands(app: FakeApp) -> None:
    # GIVEN a deployed stack, then A replaced, and the Delete of the old A fails
    app.write({"Fake": chain()})
    app.deploy(FakeRuntime())
    app.write({"Fake": chain(a_id="a2")})
    runtime = FakeRuntime(fail={("A", DELETE): "cannot delete"})
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN the replacement stands, the old A is named in a warning, and the state has the new A
    report = deployed.report()
    assert not report.failed and report.status == StackStatus.UPDATE_COMPLETE
    assert runtime.calls()[-1] == ("Delete", "A", "a1")
    assert any("a1 was not deleted (cannot delete)" in w and "the stack update stands" in w for w in report.warnings)
    assert app.state() == {"A": "a2", "B": "b1"}
    assert "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" in stack_statuses(deployed.events)


def test_cleanup_runs_after_every_create_and_update_in_reverse_order(app: FakeApp) -> None:
    # GIVEN A and B replaced, and C removed
    app.write({"Fake": {**chain(), "C": thing("c1", Upstream={"Ref": "B"})}})
    app.deploy(FakeRuntime())
    app.write({"Fake": chain(a_id="a2", b_id="b2")})
    runtime = FakeRuntime()
    # WHEN deployed
    app.deploy(runtime)
    # THEN the creates come first, then the deletes, dependents first
    assert runtime.calls() == [
        ("Update", "A", "a1"),
        ("Update", "B", "b1"),
        ("Delete", "C", "c1"),
        ("Delete", "B", "b1"),
        ("Delete", "A", "a1"),
    ]


def test_a_cycle_between_resources_is_one_line_naming_it(app: FakeApp) -> None:
    # GIVEN two resources that depend on each other
    app.write({"Fake": {"A": thing("a1", Other={"Ref": "B"}), "B": thing("b1", Other={"Ref": "A"})}})
    # WHEN deployed
    deployed = app.deploy(FakeRuntime())
    # THEN the stack fails naming the cycle, before any request
    assert "the resources depend on each other in a cycle: " in deployed.report().error
    assert "A -> B" in deployed.report().error or "B -> A" in deployed.report().error


def test_a_cycle_between_stacks_is_one_line_naming_it(app: FakeApp) -> None:
    # GIVEN two stacks importing each other's exports
    def stack(name: str, other: str) -> dict[str, object]:
        return {
            "Resources": {"T": thing(name, Other={"Fn::ImportValue": f"{other}-Id"})},
            "Outputs": {"Id": {"Value": "x", "Export": {"Name": f"{name}-Id"}}},
        }

    app.write({"One": stack("One", "Two"), "Two": stack("Two", "One")})
    # WHEN the deploy is ordered, THEN it is refused naming the cycle
    with pytest.raises(
        DeployError, match=r"The stacks depend on each other in a cycle: (One -> Two -> One|Two -> One -> Two)"
    ):
        app.deploy(FakeRuntime())


def test_events_are_typed_and_every_resource_event_names_its_stack(app: FakeApp) -> None:
    # GIVEN a stack of two things, WHEN deployed
    app.write({"Fake": chain()})
    deployed = app.deploy(FakeRuntime())
    # THEN each status change is one typed event, in order, and progress is a line per event
    resources = [(e.logical_id, str(e.status)) for e in deployed.events if isinstance(e, ResourceEvent)]
    assert resources == [
        ("A", "CREATE_IN_PROGRESS"),
        ("A", "CREATE_COMPLETE"),
        ("B", "CREATE_IN_PROGRESS"),
        ("B", "CREATE_COMPLETE"),
    ]
    assert "Fake | CREATE_COMPLETE | AWS::CloudFormation::Stack | Fake" in deployed.lines
