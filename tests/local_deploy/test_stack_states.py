"""Stack states follow CloudFormation's state machine, with the CDK CLI's behaviour on top: a failed creation is
deleted and created again, an UPDATE_ROLLBACK_FAILED stack is refused until `rollback` continues its rollback
(ContinueUpdateRollback, --orphan as ResourcesToSkip), and a DELETE_FAILED stack is destroyed retaining what
cannot be deleted (DeleteStack's RetainResources). Through the engine's objects and the fake runtime."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_runtime import FakeApp, FakeRuntime, nested_stack, thing
from state_support import records_text

from managed_things_local.cli.progress import StackReport
from managed_things_local.cloudformation.requests import RequestType
from managed_things_local.cloudformation.stack_states import (
    DeployChoice,
    continue_rollback_refusal,
    deploy_choice,
    update_refusal,
)
from managed_things_local.errors import DeployError

CREATE, UPDATE, DELETE = RequestType.CREATE, RequestType.UPDATE, RequestType.DELETE


@pytest.fixture
def app(tmp_path: Path) -> FakeApp:
    return FakeApp(tmp_path)


def status(app: FakeApp, stack: str = "Fake") -> str | None:
    state = app.store.load(stack)
    return state.status if state else None


def rollback(app: FakeApp, runtime: FakeRuntime, orphan: tuple[str, ...] = (), force: bool = False) -> StackReport:
    engine, _, _ = app.engine(runtime)
    [report] = engine.rollback(["Fake"], orphan, force=force)
    return report


def destroy(app: FakeApp, runtime: FakeRuntime, retain: tuple[str, ...] = ()) -> StackReport:
    engine, _, _ = app.engine(runtime)
    [report] = engine.destroy(engine.destroy_order(["Fake"]), retain_resources=retain)
    return report


def update_rollback_failed(app: FakeApp) -> None:
    """A deployed A and B; then A updated in place while B fails, and A's rollback Update fails too."""
    app.write({"Fake": {"A": thing("a1"), "B": thing("b1", Upstream={"Ref": "A"})}})
    app.deploy(FakeRuntime())
    app.write({"Fake": {"A": thing("a1", Name="new"), "B": thing("b1", Upstream={"Ref": "A"}, Note="x")}})
    calls = 0

    def second_update_of_a_fails(request) -> None:
        nonlocal calls
        if request.logical_id == "A":
            calls += 1
            if calls == 2:
                runtime.fail[("A", UPDATE)] = "stuck"

    runtime = FakeRuntime(fail={("B", UPDATE): "told to fail"}, on_request=second_update_of_a_fails)
    assert app.deploy(runtime).report().status == "UPDATE_ROLLBACK_FAILED"


# --- the state machine, pure ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack_status", "choice"),
    [
        (None, DeployChoice.CREATE),
        ("CREATE_COMPLETE", DeployChoice.UPDATE),
        ("UPDATE_ROLLBACK_COMPLETE", DeployChoice.UPDATE),
        ("ROLLBACK_COMPLETE", DeployChoice.RECREATE),
        ("ROLLBACK_FAILED", DeployChoice.RECREATE),
        ("UPDATE_ROLLBACK_FAILED", DeployChoice.REFUSE),
        ("DELETE_FAILED", DeployChoice.REFUSE),
    ],
)
def test_what_a_deploy_does_with_each_status_is_the_cdk_clis(stack_status: str | None, choice: DeployChoice) -> None:
    assert deploy_choice(stack_status) is choice


@pytest.mark.parametrize("stack_status", ["ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED"])
def test_an_update_is_refused_with_cloudformations_message(stack_status: str) -> None:
    stack_id = "arn:aws:cloudformation:eu-west-1:123456789012:stack/Fake/1"
    assert (
        update_refusal(stack_id, stack_status) == f"Stack:{stack_id} is in {stack_status} state and can not be updated."
    )
    assert update_refusal(stack_id, "UPDATE_COMPLETE") == ""


def test_only_update_rollback_failed_can_be_rolled_back_as_the_cdk_cli_says() -> None:
    assert continue_rollback_refusal("Fake", "UPDATE_ROLLBACK_FAILED") == ""
    assert (
        continue_rollback_refusal("Fake", "UPDATE_COMPLETE") == "Stack Fake does not need a rollback: UPDATE_COMPLETE"
    )
    assert "failed creation and rollback. This state cannot be rolled back" in continue_rollback_refusal(
        "Fake", "ROLLBACK_FAILED"
    )


# --- ROLLBACK_FAILED ------------------------------------------------------------------------------------------


def rollback_failed(app: FakeApp) -> None:
    """A first deploy whose Create failed and whose rollback Delete failed too."""
    app.write({"Fake": {"Thing": thing("t1")}})
    runtime = FakeRuntime(fail={("Thing", CREATE): "no answer in time", ("Thing", DELETE): "throttled"})
    assert app.deploy(runtime).report().status == "ROLLBACK_FAILED"


def test_a_failed_rollback_of_a_creation_leaves_the_stack_rollback_failed(app: FakeApp) -> None:
    # GIVEN / WHEN a first deploy whose rollback could not delete what the Create answered
    rollback_failed(app)
    # THEN the state says ROLLBACK_FAILED, like DescribeStacks would, with the resource left (a redeploy deletes
    # the stack first, then creates it: test_proof_recovery_fast.py)
    assert status(app) == "ROLLBACK_FAILED"
    assert app.state() == {"Thing": "Thing-failed"}


def test_a_redeploy_whose_delete_fails_stops_with_the_cdk_clis_message_and_the_way_out(app: FakeApp) -> None:
    # GIVEN a stack in ROLLBACK_FAILED whose leftover still cannot be deleted
    rollback_failed(app)
    runtime = FakeRuntime(fail={("Thing", DELETE): "still throttled"})
    # WHEN deployed again
    report = app.deploy(runtime).report()
    # THEN nothing is created, the stack is DELETE_FAILED, and the error says how to get out
    assert runtime.calls() == [("Delete", "Thing", "Thing-failed")]
    assert report.failed and "managed-things destroy Fake --retain-resources Thing" in report.error
    assert len(report.error) <= 256
    assert any(
        w.startswith("Failed deleting stack Fake that had previously failed creation (current state: DELETE_FAILED)")
        for w in report.warnings
    )
    assert status(app) == "DELETE_FAILED"


# --- DELETE_FAILED and RetainResources --------------------------------------------------------------------------


def test_a_failed_destroy_says_how_to_retain_and_a_second_destroy_retains(app: FakeApp) -> None:
    # GIVEN a stack in ROLLBACK_FAILED whose destroy cannot delete its leftover
    rollback_failed(app)
    first = destroy(app, FakeRuntime(fail={("Thing", DELETE): "still throttled"}))
    assert first.status == "DELETE_FAILED" and status(app) == "DELETE_FAILED"
    assert "`managed-things destroy Fake --retain-resources Thing`" in first.error
    # WHEN destroyed again, retaining it
    runtime = FakeRuntime()
    second = destroy(app, runtime, retain=("Thing",))
    # THEN no Delete is sent for it, and the stack is gone
    assert runtime.calls() == []
    assert second.status == "DELETE_COMPLETE" and not second.failed
    assert second.resources["Thing"].action == "retain"
    assert app.store.load("Fake") is None


def test_retaining_is_refused_unless_the_stack_is_delete_failed(app: FakeApp) -> None:
    # GIVEN a stack in ROLLBACK_FAILED (a first delete has not failed yet)
    rollback_failed(app)
    runtime = FakeRuntime()
    engine, _, _ = app.engine(runtime)
    # WHEN destroyed with --retain-resources, THEN it is refused before any request, as CloudFormation would
    with pytest.raises(DeployError, match="applies only to a stack in DELETE_FAILED state"):
        engine.destroy(["Fake"], retain_resources=["Thing"])
    assert runtime.calls() == [] and status(app) == "ROLLBACK_FAILED"


# --- UPDATE_ROLLBACK_FAILED and `rollback` ---------------------------------------------------------------------


def test_a_deploy_of_an_update_rollback_failed_stack_is_refused_with_cloudformations_message(app: FakeApp) -> None:
    # GIVEN a stack in UPDATE_ROLLBACK_FAILED
    update_rollback_failed(app)
    assert status(app) == "UPDATE_ROLLBACK_FAILED"
    runtime = FakeRuntime()
    # WHEN deployed again
    report = app.deploy(runtime).report()
    # THEN nothing is sent; the error is CloudFormation's and names the command that gets out
    assert runtime.calls() == []
    stack_id = app.store.load("Fake").stack_id  # type: ignore[union-attr]
    assert report.failed and report.error.startswith(
        f"Stack:{stack_id} is in UPDATE_ROLLBACK_FAILED state and can not be updated."
    )
    assert "managed-things rollback Fake" in report.error
    assert status(app) == "UPDATE_ROLLBACK_FAILED"


def test_rollback_retries_the_failed_rollback_update_and_a_deploy_then_works(app: FakeApp) -> None:
    # GIVEN a stack in UPDATE_ROLLBACK_FAILED (A's rollback Update failed)
    update_rollback_failed(app)
    runtime = FakeRuntime()
    # WHEN its rollback is continued
    report = rollback(app, runtime)
    # THEN A's rollback Update is sent again (old properties back, the attempted ones as old), then B's, which never
    # started, and the stack is UPDATE_ROLLBACK_COMPLETE at its previous deployment
    assert runtime.calls() == [("Update", "A", "a1"), ("Update", "B", "b1")]
    request = runtime.requests[0]
    assert request.properties.get("Name") is None and request.old_properties["Name"] == "new"
    assert report.status == "UPDATE_ROLLBACK_COMPLETE" and not report.failed
    state = app.store.load("Fake")
    assert state is not None and state.status == "UPDATE_ROLLBACK_COMPLETE" and not state.rollback_from
    assert {lid: r.status for lid, r in state.resources.items()} == {"A": "UPDATE_COMPLETE", "B": "UPDATE_COMPLETE"}
    # AND the template deploys again
    runtime = FakeRuntime()
    assert not app.deploy(runtime).report().failed
    assert runtime.calls() == [("Update", "A", "a1"), ("Update", "B", "b1")]


def test_rollback_that_fails_again_stays_update_rollback_failed_and_says_what_to_do(app: FakeApp) -> None:
    update_rollback_failed(app)
    report = rollback(app, FakeRuntime(fail={("A", UPDATE): "still stuck"}))
    assert report.status == "UPDATE_ROLLBACK_FAILED" and "still stuck" in report.error
    assert "--orphan LOGICAL_ID or --force" in report.error
    assert status(app) == "UPDATE_ROLLBACK_FAILED"
    # AND a later rollback still has A's rollback to retry, with the same properties
    runtime = FakeRuntime()
    assert rollback(app, runtime).status == "UPDATE_ROLLBACK_COMPLETE"
    assert runtime.requests[0].old_properties["Name"] == "new"


@pytest.mark.parametrize("how", ["orphan", "force"])
def test_rollback_orphan_or_force_skips_the_resource_and_completes(app: FakeApp, how: str) -> None:
    # GIVEN a stack in UPDATE_ROLLBACK_FAILED
    update_rollback_failed(app)
    runtime = FakeRuntime()
    # WHEN its rollback is continued skipping A (ResourcesToSkip)
    report = rollback(app, runtime, orphan=("A",) if how == "orphan" else (), force=how == "force")
    # THEN nothing is sent for A, which is UPDATE_COMPLETE as CloudFormation marks it; B's rollback, which never
    # started, is sent (--force skips it too: it is in UPDATE_FAILED); the stack completes its rollback
    assert runtime.calls() == ([("Update", "B", "b1")] if how == "orphan" else [])
    assert report.status == "UPDATE_ROLLBACK_COMPLETE"
    assert any("rollback skipped" in w for w in report.warnings)
    state = app.store.load("Fake")
    assert state is not None and state.resources["A"].status == "UPDATE_COMPLETE" and not state.rollback_from


def test_rollback_refuses_to_orphan_a_resource_whose_rollback_did_not_fail(app: FakeApp) -> None:
    update_rollback_failed(app)
    runtime = FakeRuntime()
    report = rollback(app, runtime, orphan=("Nope",))
    assert runtime.calls() == [] and report.failed and "cannot skip Nope" in report.error
    engine, _, _ = app.engine(runtime)
    with pytest.raises(DeployError, match="Cannot combine --force with --orphan"):
        engine.rollback(["Fake"], ["A"], force=True)


def test_rollback_of_a_stable_stack_does_nothing_as_the_cdk_cli(app: FakeApp) -> None:
    app.write({"Fake": {"A": thing("a1")}})
    app.deploy(FakeRuntime())
    runtime = FakeRuntime()
    report = rollback(app, runtime)
    assert runtime.calls() == [] and not report.failed
    assert "Stack Fake does not need a rollback: CREATE_COMPLETE" in report.warnings


def test_rollback_retries_the_delete_of_a_replacement_and_keeps_the_old_one(app: FakeApp) -> None:
    # GIVEN a deployed A and B; then A replaced (a2) while B fails, and the rollback Delete of a2 fails
    app.write({"Fake": {"A": thing("a1"), "B": thing("b1", Upstream={"Ref": "A"})}})
    app.deploy(FakeRuntime())
    app.write({"Fake": {"A": thing("a2"), "B": thing("b1", Upstream={"Ref": "A"})}})
    failing = FakeRuntime(fail={("B", UPDATE): "told to fail", ("A", DELETE): "stuck"})
    assert app.deploy(failing).report().status == "UPDATE_ROLLBACK_FAILED"
    # WHEN its rollback is continued
    runtime = FakeRuntime()
    report = rollback(app, runtime)
    # THEN a2 is deleted and A is a1 again
    assert runtime.calls() == [("Delete", "A", "a2")]
    assert report.status == "UPDATE_ROLLBACK_COMPLETE"
    assert app.state() == {"A": "a1", "B": "b1"}


def test_rollback_continues_the_failed_rollback_of_a_nested_stack(app: FakeApp) -> None:
    # GIVEN a root stack with a nested stack; an update renames the nested Lamp while the root's Hub fails, and the
    # Lamp's rollback Update fails: both stacks UPDATE_ROLLBACK_FAILED
    floor_file = "Floor.nested.template.json"

    def write(name: str, note: str = "") -> None:
        floor = {"Resources": {"Lamp": thing("l1", Name=name)}}
        hub = thing("h1", Floor={"Ref": "Floor"}, **({"Note": note} if note else {}))
        app.write({"Fake": {"Floor": nested_stack(floor_file, "Fake/Floor"), "Hub": hub}}, nested={floor_file: floor})

    write("lamp")
    app.deploy(FakeRuntime())
    write("lamp-renamed", note="x")
    lamp_updates: list[str] = []

    def lamp_rollback_fails(request) -> None:
        if request.logical_id == "Lamp":
            lamp_updates.append(request.logical_id)
            if len(lamp_updates) == 2:
                runtime.fail[("Lamp", UPDATE)] = "stuck"

    runtime = FakeRuntime(fail={("Hub", UPDATE): "told to fail"}, on_request=lamp_rollback_fails)
    assert app.deploy(runtime).report().status == "UPDATE_ROLLBACK_FAILED"
    child = str(app.store.load("Fake").resources["Floor"].data["StackName"])  # type: ignore[union-attr]
    assert status(app, child) == "UPDATE_ROLLBACK_FAILED"
    # WHEN the root's rollback is continued
    runtime = FakeRuntime()
    report = rollback(app, runtime)
    # THEN the nested Lamp's rollback Update is sent again (its old name back), and both stacks complete
    assert runtime.calls() == [("Update", "Lamp", "l1")]
    assert runtime.requests[0].properties["Name"] == "lamp"
    assert report.status == "UPDATE_ROLLBACK_COMPLETE", report.error
    assert status(app) == status(app, child) == "UPDATE_ROLLBACK_COMPLETE"


def test_what_rollback_retries_keeps_sensitive_values_by_reference_only(app: FakeApp) -> None:
    # GIVEN A's serial number changed in place while B fails, and A's rollback Update fails: the attempted serial
    # number is kept for the retried rollback Update's OldResourceProperties
    app.write({"Fake": {"A": thing("a1", SerialNumber="SN-OLD-0001"), "B": thing("b1", Upstream={"Ref": "A"})}})
    app.deploy(FakeRuntime())
    app.write(
        {"Fake": {"A": thing("a1", SerialNumber="SN-NEW-0002"), "B": thing("b1", Upstream={"Ref": "A"}, Note="x")}}
    )
    updates: list[str] = []

    def second_update_of_a_fails(request) -> None:
        if request.logical_id == "A":
            updates.append("A")
            if len(updates) == 2:
                runtime.fail[("A", UPDATE)] = "stuck"

    runtime = FakeRuntime(fail={("B", UPDATE): "told to fail"}, on_request=second_update_of_a_fails)
    assert app.deploy(runtime).report().status == "UPDATE_ROLLBACK_FAILED"
    # THEN the snapshot holds neither serial number in plain text
    snapshot = records_text(app.store)
    assert "SN-NEW-0002" not in snapshot and "SN-OLD-0001" not in snapshot and '"rollback_from"' in snapshot
    # AND `rollback` sends the exact values back
    runtime = FakeRuntime()
    rollback(app, runtime)
    request = runtime.requests[0]
    assert request.properties["SerialNumber"] == "SN-OLD-0001"
    assert request.old_properties["SerialNumber"] == "SN-NEW-0002"
