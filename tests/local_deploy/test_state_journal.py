"""The local state never loses a thing: a journal beside each stack's record, and the endpoint things live on."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_runtime import FakeApp, FakeRuntime, deploy_dying_at, thing
from state_support import refuse_writes

from managed_things_local.cloudformation.requests import RequestType
from managed_things_local.errors import DeployError
from managed_things_local.state.state import StateStore


@pytest.fixture
def app(tmp_path: Path) -> FakeApp:
    return FakeApp(tmp_path)


def fleet(*ids: str) -> dict[str, object]:
    return {f"T{i}": thing(identifier) for i, identifier in enumerate(ids)}


def failing_save(self: StateStore, state: object) -> None:
    raise PermissionError(13, "Permission denied")


def test_a_record_that_cannot_be_written_loses_nothing(app: FakeApp) -> None:
    # GIVEN five things and a state whose stack records cannot be written (each such transaction fails)
    app.write({"Fake": fleet("t0", "t1", "t2", "t3", "t4")})
    refuse_writes(app.store, "stacks")
    # WHEN deployed
    first = app.deploy(FakeRuntime())
    # THEN the deploy fails in one line naming the file and the journal, and the journal knows every thing
    error = first.report().error
    assert error.startswith(f"Cannot write the local state {app.store.path} (disk I/O error)") and "\n" not in error
    assert "is kept in the journal of Fake" in error
    assert app.state() == {f"T{i}": f"t{i}" for i in range(5)}
    # WHEN deployed again, THEN nothing is created again
    again = FakeRuntime()
    app.deploy(again)
    assert again.calls() == []
    # WHEN destroyed, THEN every thing is deleted and the stack is gone
    destroy = FakeRuntime()
    destroyed = app.destroy(destroy)
    assert sorted(pid for kind, _, pid in destroy.calls() if kind == "Delete") == [f"t{i}" for i in range(5)]
    assert not destroyed.report().failed
    assert app.state() == {}


def test_a_replacement_whose_state_was_never_written_is_cleaned_up_by_the_next_deploy(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a deployed thing, replaced by a run whose snapshot could not be written (the old one stays)
    app.write({"Fake": fleet("a1")})
    app.deploy(FakeRuntime())
    app.write({"Fake": fleet("a2")})
    with monkeypatch.context() as patched:
        patched.setattr(StateStore, "save", failing_save)
        app.deploy(FakeRuntime(fail={("T0", RequestType.DELETE): "the cleanup did not happen either"}))
    assert app.state() == {"T0": "a2", "T0@a1": "a1"}
    # WHEN deployed again with the snapshot writable
    runtime = FakeRuntime()
    deployed = app.deploy(runtime)
    # THEN the old thing is deleted in the cleanup, nothing is created, and the state has the new thing only
    assert runtime.calls() == [("Delete", "T0", "a1")]
    assert not deployed.report().failed
    assert app.state() == {"T0": "a2"}


def test_a_request_that_cannot_be_journaled_is_not_sent(app: FakeApp) -> None:
    # GIVEN a journal that cannot be appended to (each such transaction fails)
    app.write({"Fake": fleet("t0")})
    refuse_writes(app.store, "journal")
    runtime = FakeRuntime()
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN the stack fails in one line naming the journal, and no request reached the provider
    assert runtime.calls() == []
    assert deployed.report().error.startswith("Cannot write the local state")
    assert str(app.store.path) in deployed.report().error


def test_a_rollback_that_leaves_a_thing_keeps_it_in_the_state(app: FakeApp) -> None:
    # GIVEN a first deploy that fails, and whose rollback cannot delete what it created
    app.write({"Fake": {"A": thing("a1"), "B": thing("b1", Upstream={"Ref": "A"})}})
    runtime = FakeRuntime(fail={("B", RequestType.CREATE): "told to fail", ("A", RequestType.DELETE): "stuck"})
    # WHEN deployed
    deployed = app.deploy(runtime)
    # THEN the stack is ROLLBACK_FAILED and the state still has A for destroy to find
    assert deployed.report().status == "ROLLBACK_FAILED"
    assert app.state() == {"A": "a1"}
    destroy = FakeRuntime()
    app.destroy(destroy)
    assert destroy.calls() == [("Delete", "A", "a1")]
    assert app.state() == {}


def test_every_resource_records_the_endpoint_it_lives_on(app: FakeApp) -> None:
    # GIVEN a stack deployed against one endpoint
    app.write({"Fake": fleet("t0")})
    app.deploy(FakeRuntime(), endpoint="http://one")
    state = app.store.load("Fake")
    assert state is not None and {r.endpoint for r in state.resources.values()} == {"http://one"}


@pytest.mark.parametrize("command", ["deploy", "destroy"])
def test_another_endpoint_is_refused_naming_both_and_the_override(app: FakeApp, command: str) -> None:
    # GIVEN a stack deployed against one endpoint
    app.write({"Fake": fleet("t0")})
    app.deploy(FakeRuntime(), endpoint="http://one")
    runtime = FakeRuntime()
    # WHEN deployed or destroyed against another, THEN it is refused in one line before any request
    with pytest.raises(DeployError) as refused:
        getattr(app, command)(runtime, endpoint="http://two")
    message = str(refused.value)
    assert "http://one" in message and "http://two" in message and "--allow-endpoint-change" in message
    assert runtime.calls() == [] and app.state() == {"T0": "t0"}


def test_the_override_runs_against_the_new_endpoint(app: FakeApp) -> None:
    # GIVEN a stack deployed against one endpoint
    app.write({"Fake": fleet("t0")})
    app.deploy(FakeRuntime(), endpoint="http://one")
    runtime = FakeRuntime()
    # WHEN destroyed against another with --allow-endpoint-change, THEN the deletes go there
    app.destroy(runtime, endpoint="http://two", allow_endpoint_change=True)
    assert runtime.calls() == [("Delete", "T0", "t0")]


def test_a_create_that_never_answered_is_delivered_again_so_that_destroy_deletes_its_thing(tmp_path: Path) -> None:
    # GIVEN a deploy that died while A's Create was in flight (the provider may have created it)
    app = FakeApp(tmp_path)
    app.write({"Fake": {"A": thing("a1")}})
    sent = deploy_dying_at(app)
    # WHEN the stack is destroyed
    runtime = FakeRuntime()
    destroyed = app.destroy(runtime)
    # THEN the same Create is delivered again (same request id: the provider's idempotent Create answers its
    # thing), and the thing it answered is deleted; nothing is left
    assert runtime.calls() == [("Create", "A", "a1"), ("Delete", "A", "a1")]
    assert runtime.requests[0].request_id == sent[0].request_id
    assert any("its Create was never answered; delivering it again" in line for line in destroyed.lines)
    assert app.store.all() == []


def test_a_create_that_never_answered_is_found_by_the_next_deploy(tmp_path: Path) -> None:
    # GIVEN a deploy that died while B's Create was in flight, A created
    app = FakeApp(tmp_path)
    app.write({"Fake": {"A": thing("a1"), "B": thing("b1", Upstream={"Ref": "A"})}})
    lost = deploy_dying_at(app, "B")
    # WHEN deployed again
    runtime = FakeRuntime()
    deployed = app.deploy(runtime)
    # THEN B's lost Create is delivered again (same request id, so the service's ClientToken answers the thing
    # it committed instead of creating a second one), and the stack ends with both
    assert runtime.calls() == [("Create", "B", "b1")]
    assert runtime.requests[0].request_id == lost[0].request_id
    assert not deployed.report().failed
    assert app.state() == {"A": "a1", "B": "b1"}


def test_a_create_whose_outcome_was_learned_by_its_rollback_is_not_delivered_again(tmp_path: Path) -> None:
    # GIVEN a Create that ended without an answer, and the Delete CloudFormation sends after it
    app = FakeApp(tmp_path)
    app.write({"Fake": {"A": thing("a1")}})
    app.deploy(FakeRuntime(silent={("A", RequestType.CREATE)}))
    # WHEN deployed again
    runtime = FakeRuntime()
    app.deploy(runtime)
    # THEN only the new deploy's Create is sent
    assert [c[0] for c in runtime.calls()] == ["Create"]
