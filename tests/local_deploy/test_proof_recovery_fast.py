"""A plain redeploy recovers a stack whose rollback failed, even with the template unchanged (found by the proof)."""

from __future__ import annotations

from pathlib import Path

from fake_runtime import FakeApp, FakeRuntime, thing


def test_a_redeploy_of_the_same_template_recreates_a_failed_create_kept_by_a_failed_rollback(tmp_path: Path) -> None:
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
    # THEN the resource is not skipped as unchanged: an Update creates it, the cleanup deletes the failed id
    assert runtime.calls() == [("Update", "Thing", "Thing-failed"), ("Delete", "Thing", "Thing-failed")]
    assert report.status == "UPDATE_COMPLETE"
    assert app.state() == {"Thing": "t1"}
    assert app.store.load("Fake").status == "UPDATE_COMPLETE"  # type: ignore[union-attr]
    # AND the next deploy has nothing left to do
    runtime = FakeRuntime()
    app.deploy(runtime)
    assert runtime.calls() == []
