"""A redeploy recovers a stack whose creation and rollback failed, even with the template unchanged (found by the
proof): like `cdk deploy`, it deletes the ROLLBACK_FAILED stack first, then creates it."""

from __future__ import annotations

from pathlib import Path

from fake_runtime import FakeApp, FakeRuntime, thing


def test_a_redeploy_of_the_same_template_deletes_a_failed_create_kept_by_a_failed_rollback_then_creates(
    tmp_path: Path,
) -> None:
    # GIVEN a first deploy whose Create failed and whose rollback Delete failed too: ROLLBACK_FAILED, the failed
    # Create's id kept in the state (the provider may have made something under it)
    app = FakeApp(tmp_path)
    app.write({"Fake": {"Thing": thing("t1")}})
    runtime = FakeRuntime(fail={("Thing", "Create"): "no answer in time", ("Thing", "Delete"): "throttled"})
    assert app.deploy(runtime).report().status == "ROLLBACK_FAILED"
    assert app.state() == {"Thing": "Thing-failed"}
    # WHEN the same template is deployed again
    runtime = FakeRuntime()
    report = app.deploy(runtime).report()
    # THEN the resource is not skipped as unchanged: the stack is deleted (the failed id with it), then created
    assert runtime.calls() == [("Delete", "Thing", "Thing-failed"), ("Create", "Thing", "t1")]
    assert report.status == "CREATE_COMPLETE"
    assert app.state() == {"Thing": "t1"}
    assert app.store.load("Fake").status == "CREATE_COMPLETE"  # type: ignore[union-attr]
    # AND the next deploy has nothing left to do
    runtime = FakeRuntime()
    app.deploy(runtime)
    assert runtime.calls() == []
