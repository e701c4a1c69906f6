"""The deploy pipeline's pure ends: the plan computed before anything runs, and the report folded from events."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from fake_runtime import FakeApp, FakeRuntime, deploy_dying_at, nested_stack, thing

from managed_things_local.cloudformation.plan import plan_stack
from managed_things_local.cloudformation.records import OutputState, ResourceState, StackState
from managed_things_local.cloudformation.requests import RequestType
from managed_things_local.cloudformation.stack_events import (
    Action,
    Phase,
    ResourceEvent,
    ResourceStatus,
    StackEvent,
    StackStatus,
    StackSummary,
    StackWarning,
)
from managed_things_local.engine.report import Reports

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/Fake/00000000-0000-0000-0000-000000000000"


def recorded(logical_id: str, physical_id: str, **values: Any) -> ResourceState:
    return ResourceState(logical_id, "Custom::ManagedThing", physical_id, {"Id": physical_id}, **values)


def state(*resources: ResourceState, **keyed: ResourceState) -> StackState:
    return StackState(
        "Fake", STACK_ID, "eu-west-1", "123456789012", resources={r.logical_id: r for r in resources} | keyed
    )


def everything(logical_id: str, resource: Any) -> bool:
    return True


TEMPLATE = {
    "Resources": {
        "Role": {"Type": "AWS::IAM::Role"},
        "A": thing("a1"),
        "B": thing("b1", Upstream={"Ref": "Glue"}),
        "Glue": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Ref": "A"}}},
        "Off": {**thing("o1"), "Condition": "Never"},
    }
}


def test_the_plan_says_create_update_and_delete_before_anything_runs() -> None:
    # GIVEN a stack that recorded A and a removed R, and a template with A, B and a thing whose condition is false
    previous = state(recorded("A", "a1"), recorded("R", "r1", deletion_policy="Retain"))
    # WHEN planned
    plan = plan_stack("Fake", TEMPLATE, previous, lambda lid, r: lid != "Off")
    # THEN B is created, A updated (if its properties changed), R removed with its policy, the rest listed
    assert {lid: step.action for lid, step in plan.steps.items()} == {"A": Action.UPDATE, "B": Action.CREATE}
    assert plan.steps["A"].previous == previous.resources["A"]
    assert [(r.key, r.resource.physical_id, r.policy, r.retained) for r in plan.removals] == [
        ("R", "r1", "Retain", True)
    ]
    assert plan.not_deployed == (("Role", "AWS::IAM::Role"), ("Glue", "AWS::SSM::Parameter"))
    # AND B waits for A through the resource between them, which is not deployed locally
    assert plan.steps["B"].prerequisites == {"A"} and plan.order() == ["A", "B"]


def test_the_old_resource_of_an_unfinished_replacement_is_removed_with_its_replace_policy() -> None:
    # GIVEN a state that kept the old resource of a replacement whose cleanup never ran
    previous = state(recorded("A", "a2"), **{"A@a1": recorded("A", "a1", update_replace_policy="Retain")})
    # WHEN planned with A still in the template
    plan = plan_stack("Fake", {"Resources": {"A": thing("a2")}}, previous, everything)
    # THEN the old one is removed by its UpdateReplacePolicy
    assert [(r.key, r.policy) for r in plan.removals] == [("A@a1", "Retain")]


def test_a_cycle_is_refused_when_planning() -> None:
    template = {"Resources": {"A": thing("a", Up={"Ref": "B"}), "B": thing("b", Up={"Ref": "A"})}}
    with pytest.raises(Exception, match="cycle"):
        plan_stack("Fake", template, None, everything)


def test_the_report_is_a_fold_of_the_events() -> None:
    # GIVEN the events of a deploy that created B, left A unchanged, failed to delete R and warned once
    reports = Reports()
    unchanged = recorded("A", "a1", status="CREATE_COMPLETE")
    created = recorded("B", "b1", status="CREATE_COMPLETE")
    events = [
        StackEvent("Fake", StackStatus.UPDATE_IN_PROGRESS, STACK_ID),
        ResourceEvent(
            "Fake", "B", "Custom::ManagedThing", "B", ResourceStatus.CREATE_IN_PROGRESS, Action.CREATE, Phase.DEPLOY
        ),
        ResourceEvent(
            "Fake", "B", "Custom::ManagedThing", "B", ResourceStatus.CREATE_COMPLETE, Action.CREATE, Phase.DEPLOY, "b1"
        ),
        ResourceEvent(
            "Fake",
            "R",
            "Custom::ManagedThing",
            "R",
            ResourceStatus.DELETE_FAILED,
            Action.DELETE,
            Phase.CLEANUP,
            "r1",
            "no",
        ),
        StackWarning("Fake", "R: r1 was not deleted"),
        StackEvent(
            "Fake",
            StackStatus.UPDATE_COMPLETE,
            STACK_ID,
            summary=StackSummary(
                outputs={"Out": OutputState("b1", export_name="Ex"), "Gone": OutputState(unavailable="why")},
                resources={"A": unchanged, "B": created},
            ),
        ),
    ]
    # WHEN folded
    for event in events:
        reports(event)
    report = reports.report("Fake")
    # THEN the report says what the events said, the unchanged resource from the summary, in template order
    assert (report.status, report.region, report.account_id, report.failed) == (
        "UPDATE_COMPLETE",
        "eu-west-1",
        "123456789012",
        False,
    )
    assert [(e.logical_id, str(e.status), str(e.action), e.physical_id) for e in report.resources.values()] == [
        ("A", "CREATE_COMPLETE", "none", "a1"),
        ("B", "CREATE_COMPLETE", "create", "b1"),
        ("R", "DELETE_FAILED", "delete", "r1"),
    ]
    assert report.action_counts() == {"create": 1, "delete": 1}
    assert (report.outputs, report.exports, report.unavailable_outputs) == (
        {"Out": "b1"},
        {"Ex": "b1"},
        {"Gone": "why"},
    )
    assert report.warnings == ["R: r1 was not deleted"]


def test_a_rollback_keeps_the_reason_it_undoes_and_adds_its_own_failures() -> None:
    reports = Reports()
    fail = ResourceEvent(
        "Fake", "B", "Custom::ManagedThing", "B", ResourceStatus.CREATE_FAILED, Action.CREATE, Phase.DEPLOY, "b9", "bad"
    )
    undo = ResourceEvent(
        "Fake",
        "B",
        "Custom::ManagedThing",
        "B",
        ResourceStatus.DELETE_FAILED,
        Action.ROLLBACK,
        Phase.ROLLBACK,
        "b9",
        "rollback delete failed: gone wrong",
    )
    started = dataclasses.replace(undo, status=ResourceStatus.DELETE_IN_PROGRESS, reason="")
    for event in (fail, StackEvent("Fake", StackStatus.ROLLBACK_IN_PROGRESS, STACK_ID, "B: bad"), started, undo):
        reports(event)
    report = reports.report("Fake")
    assert report.resources["B"].reason == "bad; rollback delete failed: gone wrong"
    assert report.error == "B: bad"


def test_a_rolled_back_replacement_does_not_keep_the_replacement_note(tmp_path: Path) -> None:
    # GIVEN a deployed chain, then A replaced while B's update fails
    app = FakeApp(tmp_path)
    app.write({"Fake": {"A": thing("a1"), "B": thing("b1", Upstream={"Ref": "A"})}})
    app.deploy(FakeRuntime())
    app.write({"Fake": {"A": thing("a2"), "B": thing("b1", Upstream={"Ref": "A"}, Note="x")}})
    # WHEN deployed
    report = app.deploy(FakeRuntime(fail={("B", RequestType.UPDATE): "told to fail"})).report()
    # THEN A's entry says its new resource was deleted by the rollback, B's keeps why the stack rolled back
    a, b = report.resources["A"], report.resources["B"]
    assert (a.status, a.action, a.physical_id, a.reason) == ("DELETE_COMPLETE", "rollback", "a2", "")
    assert (b.status, b.action, b.reason) == ("UPDATE_COMPLETE", "rollback", "told to fail")


def test_a_nested_stack_is_found_by_a_destroy_even_if_the_deploy_died_inside_it(tmp_path: Path) -> None:
    # GIVEN a root whose nested stack holds two things, and a deploy that dies (the process ends) at the second
    app = FakeApp(tmp_path)
    floor = {"Resources": {"Lamp1": thing("l1"), "Lamp2": thing("l2", Upstream={"Ref": "Lamp1"})}}
    app.write({"Fake": {"Floor": nested_stack("Floor.json", "Fake/Floor")}}, nested={"Floor.json": floor})

    deploy_dying_at(app, "Lamp2")
    # WHEN the root is destroyed
    runtime = FakeRuntime()
    app.destroy(runtime)
    # THEN the thing the nested stack created is deleted, and no state is left
    assert ("Delete", "Lamp1", "l1") in runtime.calls()
    assert app.store.all() == []
    assert runtime.calls()[-1][0] == str(RequestType.DELETE)
