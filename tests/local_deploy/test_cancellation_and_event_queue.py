"""The engine as strict as CloudFormation and Lambda (issue 14): in-flight Creates cancelled when a sibling fails,
Lambda's asynchronous queue with its MaximumEventAge, and CloudFormation's ServiceTimeout, on the fake runtime."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_runtime import PROVIDER, Deployed, FakeApp, FakeClock, FakeRuntime, thing

from managed_things_local.cloudformation.requests import CustomResourceRequest, RequestType
from managed_things_local.cloudformation.service_timeout import CREATION_CANCELLED, no_response
from managed_things_local.cloudformation.stack_events import ResourceEvent, ResourceStatus

CREATE, DELETE = RequestType.CREATE, RequestType.DELETE


@pytest.fixture
def app(tmp_path: Path) -> FakeApp:
    return FakeApp(tmp_path)


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition`` holds (a liveness guard, not a timing assertion)."""
    give_up = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < give_up, f"never happened: {what}"
        time.sleep(0.01)


def failed_reasons(events: list[Any]) -> dict[str, str]:
    return {
        e.logical_id: e.reason
        for e in events
        if isinstance(e, ResourceEvent) and e.status is ResourceStatus.CREATE_FAILED
    }


def deletes(runtime: FakeRuntime) -> dict[str, CustomResourceRequest]:
    return {r.logical_id: r for r in runtime.requests if r.request_type is DELETE}


def deploy_in_background(
    app: FakeApp, runtime: FakeRuntime, **options: Any
) -> tuple[threading.Thread, Callable[[], Deployed], Any]:
    engine, lines, events = app.engine(runtime, **options)
    done: list[Deployed] = []

    def deploy() -> None:
        done.append(Deployed(engine.deploy(engine.deploy_order(engine.assembly.select([]))), lines, events))

    worker = threading.Thread(target=deploy)
    worker.start()
    return worker, lambda: done[0], engine


def test_a_failing_sibling_cancels_the_creates_in_flight_and_their_deletes_go_out_before_they_answer(
    app: FakeApp,
) -> None:
    # GIVEN three things created side by side: C fails once A and B are in flight, and A and B answer only
    # after their Deletes arrived (or after 10 s, had the engine waited for them)
    app.write({"Fake": {"A": thing("a", Color="red"), "B": thing("b"), "C": thing("c")}})
    released = {lid: threading.Event() for lid in "ABC"}
    runtime = FakeRuntime(fail={("C", CREATE): "boom"}, hold={(lid, CREATE): released[lid] for lid in "ABC"})

    def on_request(request: CustomResourceRequest) -> None:
        sent = {(r.logical_id, r.request_type) for r in runtime.requests}
        if {("A", CREATE), ("B", CREATE)} <= sent:
            released["C"].set()
        if request.request_type is DELETE and request.logical_id in released:
            released[request.logical_id].set()

    runtime.on_request = on_request

    # WHEN it is deployed
    deployed = app.deploy(runtime, concurrency=3)

    # THEN A and B are CREATE_FAILED "Resource creation cancelled", C with its own reason
    assert failed_reasons(deployed.events) == {"A": CREATION_CANCELLED, "B": CREATION_CANCELLED, "C": "boom"}
    # AND each cancelled one gets a Delete with an id made up as CloudFormation does, and its Create's properties
    creates = {r.logical_id: r for r in runtime.requests if r.request_type is CREATE}
    for lid in "AB":
        assert deletes(runtime)[lid].physical_id.startswith(f"Fake-{lid}-")
        assert deletes(runtime)[lid].properties == creates[lid].properties
    # AND each Delete was sent while its Create was still running
    eventually(lambda: ("answered", "Create", "B") in runtime.timeline, "the cancelled Creates answer")
    for lid in "AB":
        assert runtime.timeline.index(("sent", "Delete", lid)) < runtime.timeline.index(("answered", "Create", lid))
    # AND the stack rolled back to nothing: the late answers are ignored
    eventually(lambda: sum("ignored" in line for line in deployed.lines) == 2, "the late answers are reported")
    assert deployed.report().status == "ROLLBACK_COMPLETE"
    assert app.state() == {}


def with_async_config(resources: dict[str, Any], *, reserved: int, max_event_age: int) -> dict[str, Any]:
    """A template whose provider has reserved concurrency and an EventInvokeConfig, as CDK synthesizes them."""
    provider = {**PROVIDER, "Properties": {**PROVIDER["Properties"], "ReservedConcurrentExecutions": reserved}}
    config = {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {
            "FunctionName": {"Ref": "Provider"},
            "Qualifier": "$LATEST",
            "MaximumEventAgeInSeconds": max_event_age,
            "MaximumRetryAttempts": 0,
        },
    }
    return {"Resources": {"Provider": provider, "ProviderEventInvokeConfig": config, **resources}}


def test_an_event_queued_longer_than_the_maximum_event_age_is_never_delivered(app: FakeApp) -> None:
    # GIVEN a provider with reserved concurrency 1 and a MaximumEventAge of 60 s, and two things: the second
    # Create waits in Lambda's queue while the first runs
    app.write({"Fake": with_async_config({"A": thing("a"), "B": thing("b")}, reserved=1, max_event_age=60)})
    release = threading.Event()
    runtime = FakeRuntime(hold={("A", CREATE): release, ("B", CREATE): release})
    clock = FakeClock()
    worker, result, engine = deploy_in_background(app, runtime, clock=clock)
    eventually(lambda: engine.executor.events.waiting == 1, "a Create waits in the queue")
    first = runtime.requests[0].logical_id
    second = "B" if first == "A" else "A"

    # WHEN the first Create ends after the second waited 61 s, and then the second's ServiceTimeout passes
    clock.advance(61)
    release.set()
    eventually(lambda: engine.executor.events.waiting == 0, "the second event leaves the queue")
    clock.advance(3600)
    worker.join(10)

    # THEN the second Create was never delivered, and it failed as CloudFormation fails a resource that never answered
    deployed = result()
    assert [(t, lid) for _, t, lid in runtime.timeline if t == "Create"] == [("Create", first), ("Create", first)]
    assert any("MaximumEventAge of 60 s, and was dropped" in line for line in deployed.lines)
    assert failed_reasons(deployed.events)[second].startswith("CloudFormation did not receive a response")
    # AND the rollback deletes the first by its id and the second by a made-up one
    assert deletes(runtime)[first].physical_id == first.lower()
    assert deletes(runtime)[second].physical_id.startswith(f"Fake-{second}-")
    assert app.state() == {}


def test_a_create_answering_after_its_service_timeout_fails_and_its_late_answer_is_ignored(app: FakeApp) -> None:
    # GIVEN a thing with a ServiceTimeout of 30 s whose Create answers only once its Delete arrived
    app.write({"Fake": {"A": thing("a", ServiceTimeout="30")}})
    release = threading.Event()
    runtime = FakeRuntime(hold={("A", CREATE): release})
    runtime.on_request = lambda request: release.set() if request.request_type is DELETE else None
    clock = FakeClock()
    worker, result, engine = deploy_in_background(app, runtime, clock=clock)
    eventually(lambda: ("sent", "Create", "A") in runtime.timeline, "A's Create is sent")

    # WHEN its ServiceTimeout passes
    clock.advance(31)
    worker.join(10)

    # THEN A failed with CloudFormation's message, and was deleted by a made-up id
    deployed = result()
    create = next(r for r in runtime.requests if r.request_type is CREATE)
    assert failed_reasons(deployed.events) == {"A": no_response(create.request_id)}
    assert deletes(runtime)["A"].physical_id.startswith("Fake-A-")
    # AND its late SUCCESS is ignored: the state does not take it up
    eventually(lambda: any("ignored" in line for line in deployed.lines), "the late answer is reported")
    assert deployed.report().status == "ROLLBACK_COMPLETE"
    assert app.state() == {}
    assert '"physical_id": "a"' not in json.dumps(app.store.journal("Fake").entries())


def test_a_cancelled_create_whose_delete_failed_is_not_delivered_again_by_the_next_run(app: FakeApp) -> None:
    # GIVEN A's Create cancelled by B's failure, and the rollback's Delete of A (by its made-up id) failing
    app.write({"Fake": {"A": thing("a"), "B": thing("b")}})
    release = threading.Event()
    runtime = FakeRuntime(fail={("B", CREATE): "boom", ("A", DELETE): "cannot"}, hold={("A", CREATE): release})
    runtime.on_request = lambda request: release.set() if request.request_type is DELETE else None
    first = app.deploy(runtime)
    assert first.report().status == "ROLLBACK_FAILED"
    cancelled = next(r for r in runtime.requests if (r.logical_id, r.request_type) == ("A", CREATE))

    # WHEN the stack is deployed again
    again = FakeRuntime()
    app.deploy(again)

    # THEN the cancelled Create is not delivered again (the Delete sent for it is the resource's last request)
    assert cancelled.request_id not in [r.request_id for r in again.requests]
    assert app.state() == {"A": "a", "B": "b"}


def test_the_queue_settles_once_lambda_has_finished_what_it_was_sent() -> None:
    # GIVEN an event whose invocation is still running after its sender stopped waiting (a cancelled Create)
    from managed_things_local.lambda_runtime.event_queue import EventQueue
    from managed_things_local.lambda_runtime.invoker import FunctionSpec

    release, ran = threading.Event(), threading.Event()

    class Running:
        def invoke(self, function: Any, request: Any, log_name: str) -> Any:
            ran.set()
            release.wait(10)
            return None

    function = FunctionSpec("Provider", "provider", "arn:aws:lambda:eu-west-1:123456789012:function:provider", "", "")
    queue = EventQueue(Running(), concurrency=1)  # type: ignore[arg-type]
    queue.send(function, CustomResourceRequest(CREATE, "stack-id", "A", "Custom::ManagedThing", "token", {}), "log")
    eventually(ran.is_set, "the invocation started")
    # WHEN one waits for the queue to settle, THEN it has not while the invocation runs, and has once it ended
    assert not queue.settle(timeout=0)
    release.set()
    assert queue.settle(timeout=10)
