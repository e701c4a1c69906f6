"""Independent stacks deployed and destroyed side by side, as ``cdk deploy --concurrency N`` does, in-process.

The CDK CLI's work graph starts a stack once every stack it depends on is
deployed, up to N at once; a failed stack stops every stack that has not started
while those in flight finish. Overlap is proved by the order of requests (a
barrier that only opens when both stacks' requests are in flight), not by timing.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from deploy_support import by_name, device, emulator_things, run_cli, synth
from fake_runtime import FakeApp, FakeRuntime, thing
from test_output_at_scale import Terminal

from managed_things_local.cli.progress import Progress
from managed_things_local.cloudformation.requests import CustomResourceRequest, RequestType
from managed_things_local.cloudformation.stack_events import (
    Action,
    DeployEvent,
    Phase,
    ResourceEvent,
    ResourceStatus,
    StackEvent,
    StackStatus,
)
from managed_things_local.services.stack_status import StackStatuses
from managed_things_local.state.journal import answer_entry, request_entry, stack_entry
from managed_things_local.state.state import ResourceState, StackState, StateStore
from managed_things_model.contract import RESOURCE_TYPE

CREATE, DELETE = RequestType.CREATE, RequestType.DELETE
HANG_GUARD_SECONDS = 10  # only so that stacks run one after another fail the test instead of hanging it


@pytest.fixture
def app(tmp_path: Path) -> FakeApp:
    return FakeApp(tmp_path)


def meeting(*logical_ids: str) -> Callable[[CustomResourceRequest], None]:
    """An ``on_request`` that holds the first request of each of ``logical_ids`` until all of them are in flight."""
    barrier = threading.Barrier(len(logical_ids), timeout=HANG_GUARD_SECONDS)
    met: set[str] = set()

    def meet(request: CustomResourceRequest) -> None:
        if request.logical_id in logical_ids and request.logical_id not in met:
            met.add(request.logical_id)
            barrier.wait()

    return meet


def stack_event_index(events: list[DeployEvent], stack: str, status: str) -> int:
    """The position of ``stack``'s first event of ``status``."""
    return next(
        i for i, e in enumerate(events) if isinstance(e, StackEvent) and e.stack_name == stack and e.status == status
    )


def requested(runtime: FakeRuntime, stack: str) -> list[tuple[str, str]]:
    return [(str(r.request_type), r.logical_id) for r in runtime.requests if f":stack/{stack}/" in r.stack_id]


def test_independent_stacks_deploy_at_once_each_with_its_own_status_and_counts(app: FakeApp) -> None:
    # GIVEN two stacks that do not depend on each other
    app.write({"Left": {"L1": thing("l1"), "L2": thing("l2")}, "Right": {"R1": thing("r1")}})
    runtime = FakeRuntime(on_request=meeting("L1", "R1"))

    # WHEN deployed two stacks at once
    deployed = app.deploy(runtime, stack_concurrency=2)

    # THEN Right's Create was sent while Left's was in flight: each stack started before the other completed
    assert stack_event_index(deployed.events, "Right", "CREATE_IN_PROGRESS") < stack_event_index(
        deployed.events, "Left", "CREATE_COMPLETE"
    )
    assert stack_event_index(deployed.events, "Left", "CREATE_IN_PROGRESS") < stack_event_index(
        deployed.events, "Right", "CREATE_COMPLETE"
    )
    # AND each stack reports its own status and counts, in the deploy's order
    assert [(r.stack_name, r.status, r.action_counts()) for r in deployed.reports] == [
        ("Left", "CREATE_COMPLETE", {"create": 2}),
        ("Right", "CREATE_COMPLETE", {"create": 1}),
    ]
    assert app.state("Left") == {"L1": "l1", "L2": "l2"} and app.state("Right") == {"R1": "r1"}


def test_a_failing_stack_rolls_back_alone_while_the_other_completes(app: FakeApp) -> None:
    # GIVEN two independent stacks, Left's thing failing while Right's is in flight
    app.write({"Left": {"L1": thing("l1")}, "Right": {"R1": thing("r1")}})
    runtime = FakeRuntime(fail={("L1", CREATE): "told to fail"}, on_request=meeting("L1", "R1"))

    # WHEN deployed two stacks at once
    deployed = app.deploy(runtime, stack_concurrency=2)

    # THEN Left rolls back alone, and Right completes
    left, right = deployed.reports
    assert (left.stack_name, left.status, left.failed_resource) == ("Left", "ROLLBACK_COMPLETE", "L1")
    assert "L1: told to fail" in left.error
    assert (right.stack_name, right.status, right.failed) == ("Right", "CREATE_COMPLETE", False)
    assert requested(runtime, "Left") == [("Create", "L1"), ("Delete", "L1")]
    assert requested(runtime, "Right") == [("Create", "R1")]
    assert app.state("Left") == {} and app.state("Right") == {"R1": "r1"}


def test_after_a_failure_no_stack_starts_and_the_dependents_of_the_failed_one_never_do(app: FakeApp) -> None:
    # GIVEN Base failing while Busy is in flight, Dependent depending on Base, and Queued waiting for room
    app.write(
        {
            "Base": {"B1": thing("b1")},
            "Busy": {"U1": thing("u1")},
            "Dependent": {"D1": thing("d1")},
            "Queued": {"Q1": thing("q1")},
        },
        dependencies={"Dependent": ["Base"]},
    )
    base_failed = threading.Event()
    meet = meeting("B1", "U1")

    def busy_until_base_failed(request: CustomResourceRequest) -> None:
        meet(request)
        if (request.logical_id, request.request_type) == ("U1", CREATE):
            base_failed.wait(HANG_GUARD_SECONDS)  # Busy is still in flight when the engine takes Base's failure

    runtime = FakeRuntime(fail={("B1", CREATE): "told to fail"}, on_request=busy_until_base_failed)
    runtime.on_line = lambda text: base_failed.set() if text.startswith("Base failed") else None

    # WHEN deployed two stacks at once
    deployed = app.deploy(runtime, stack_concurrency=2)

    # THEN Base rolls back, Busy finishes, and neither Queued nor Base's Dependent starts
    assert [(r.stack_name, r.status) for r in deployed.reports] == [
        ("Base", "ROLLBACK_COMPLETE"),
        ("Busy", "CREATE_COMPLETE"),
    ]
    assert requested(runtime, "Queued") == [] and requested(runtime, "Dependent") == []
    assert app.state("Busy") == {"U1": "u1"} and app.state("Queued") == {} and app.state("Dependent") == {}
    # AND the output says which stacks were not started, and why
    assert "Not deployed, as Base failed: Queued, Dependent" in deployed.lines


def test_destroy_deletes_independent_stacks_at_once_and_what_they_depend_on_last(app: FakeApp) -> None:
    # GIVEN a deployed Producer, two Consumers that depend on it, and an Independent stack
    app.write(
        {
            "Producer": {"P1": thing("p1")},
            "ConsumerA": {"A1": thing("a1")},
            "ConsumerB": {"B1": thing("b1")},
            "Independent": {"I1": thing("i1")},
        },
        dependencies={"ConsumerA": ["Producer"], "ConsumerB": ["Producer"]},
    )
    app.deploy(FakeRuntime())
    runtime = FakeRuntime(on_request=meeting("A1", "B1", "I1"))

    # WHEN destroyed three stacks at once
    destroyed = app.destroy(runtime, stack_concurrency=3)

    # THEN both Consumers and Independent were deleted side by side, and Producer only once both Consumers were gone
    producer_started = stack_event_index(destroyed.events, "Producer", "DELETE_IN_PROGRESS")
    assert stack_event_index(destroyed.events, "ConsumerA", "DELETE_COMPLETE") < producer_started
    assert stack_event_index(destroyed.events, "ConsumerB", "DELETE_COMPLETE") < producer_started
    assert [(r.stack_name, r.status) for r in destroyed.reports] == [
        ("ConsumerA", "DELETE_COMPLETE"),
        ("ConsumerB", "DELETE_COMPLETE"),
        ("Independent", "DELETE_COMPLETE"),
        ("Producer", "DELETE_COMPLETE"),
    ]
    assert app.store.all() == []


def test_a_ctrl_c_rolls_back_every_stack_in_flight_and_starts_no_other(app: FakeApp) -> None:
    # GIVEN Left and Right in flight when Ctrl-C is pressed (during Left's Create), and Queued waiting for room
    app.write({"Left": {"L1": thing("l1")}, "Right": {"R1": thing("r1")}, "Queued": {"Q1": thing("q1")}})
    meet = meeting("L1", "R1")
    runtime = FakeRuntime(interrupt={("L1", CREATE)})

    def in_flight_until_interrupted(request: CustomResourceRequest) -> None:
        meet(request)
        if (request.logical_id, request.request_type) == ("R1", CREATE):
            runtime.interrupt_seen.wait(HANG_GUARD_SECONDS)

    runtime.on_request = in_flight_until_interrupted

    # WHEN deployed two stacks at once
    deployed = app.deploy(runtime, stack_concurrency=2)

    # THEN both finish their Creates and roll back, and Queued never starts
    assert [(r.stack_name, r.status, r.error) for r in deployed.reports] == [
        ("Left", "ROLLBACK_COMPLETE", "Interrupted by the user"),
        ("Right", "ROLLBACK_COMPLETE", "Interrupted by the user"),
    ]
    assert requested(runtime, "Queued") == []
    assert app.store.all() == []
    # AND the output blames the interrupt, not a stack
    assert "Not deployed, as the run was interrupted: Queued" in deployed.lines
    assert not [line for line in deployed.lines if "no other stack starts" in line]


def test_a_second_ctrl_c_leaves_every_stack_in_flight_as_it_is_for_the_next_run(app: FakeApp) -> None:
    # GIVEN Left and Right in flight, Ctrl-C pressed twice during Left's Create
    app.write({"Left": {"L1": thing("l1")}, "Right": {"R1": thing("r1")}})
    meet, release = meeting("L1", "R1"), threading.Event()
    runtime = FakeRuntime()

    def ctrl_c_twice(request: CustomResourceRequest) -> None:
        meet(request)
        if (request.logical_id, request.request_type) == ("L1", CREATE):
            signal.raise_signal(signal.SIGINT)
            runtime.interrupt_seen.wait(HANG_GUARD_SECONDS)
            signal.raise_signal(signal.SIGINT)
        release.wait(HANG_GUARD_SECONDS)  # providers that answer after the engine stopped waiting

    runtime.on_request = ctrl_c_twice

    # WHEN deployed two stacks at once
    try:
        with pytest.raises(KeyboardInterrupt):
            app.deploy(runtime, stack_concurrency=2)
    finally:
        release.set()
    # (the abandoned stacks' threads end once their providers answered)
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while any(t.name.startswith(("stack", "resource")) for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)

    # THEN nothing more was sent once the engine stopped waiting: no rollback runs behind the user's back
    assert sorted(runtime.calls()) == [("Create", "L1", "l1"), ("Create", "R1", "r1")]
    # AND what the providers answered is in each stack's journal, for the next deploy or destroy
    assert app.state("Left") == {"L1": "l1"} and app.state("Right") == {"R1": "r1"}


def test_every_stack_reads_whole_while_the_stacks_beside_it_save(tmp_path: Path) -> None:
    # GIVEN two stacks whose runs journal and save a thing with a new sensitive value again and again (as stacks
    # deployed side by side do), and a third run reading every stack's state meanwhile (as each stack does as it
    # starts, for the exports it imports)
    store = StateStore(tmp_path / ".managed-things")

    def state(name: str, version: int) -> StackState:
        properties = {
            "Role": "DEVICE",
            "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE",
            "AuthenticationMaterial": f"material-{version}",  # sensitive: in the vault, referred to by the files
        }
        thing_state = ResourceState("Thing", RESOURCE_TYPE, f"id-{version}", properties)
        return StackState(name, f"arn:{name}", "eu-west-1", "123456789012", resources={"Thing": thing_state})

    for name in ("Left", "Right"):
        store.save(state(name, 0))
    reading, problems = threading.Event(), []

    def run(name: str) -> None:
        version = 0
        while reading.is_set() or version == 0:
            version += 1
            journal, saved = store.journal(name), state(name, version)
            journal.append(stack_entry(saved))
            journal.append(request_entry(f"request-{version}", "Update", saved.resources["Thing"], None))
            journal.append(answer_entry(f"request-{version}", True, f"id-{version}", {}))
            store.save(saved)

    reading.set()
    runs = [threading.Thread(target=run, args=(name,)) for name in ("Left", "Right")]
    for thread in runs:
        thread.start()
    try:
        # WHEN the third run reads every stack, many times
        for _ in range(300):
            try:
                names = sorted(s.stack_name for s in store.all())
            except Exception as error:  # the failure this test is about
                problems.append(f"{type(error).__name__}: {error}")
            else:
                if names != ["Left", "Right"]:
                    problems.append(f"read {names}")
    finally:
        reading.clear()
        for thread in runs:
            thread.join()

    # THEN it always read both stacks whole: never a value missing from the vault, nor a journal gone meanwhile
    assert problems == []


def test_the_bar_says_how_many_stacks_are_in_progress_and_done_when_several_run() -> None:
    # GIVEN a progress bar on a terminal
    terminal = Terminal()
    progress = Progress(terminal, bar=True)
    # WHEN two stacks (one with a nested stack) start side by side, and one of them completes
    progress(StackEvent("Left", StackStatus.CREATE_IN_PROGRESS))
    progress(StackEvent("Right", StackStatus.CREATE_IN_PROGRESS))
    progress(StackEvent("Right-Shard-1", StackStatus.CREATE_IN_PROGRESS, parent="Right"))
    progress(
        ResourceEvent("Left", "L1", RESOURCE_TYPE, "", ResourceStatus.CREATE_IN_PROGRESS, Action.CREATE, Phase.DEPLOY)
    )
    progress(StackEvent("Left", StackStatus.CREATE_COMPLETE))
    progress(
        ResourceEvent("Right", "R1", RESOURCE_TYPE, "", ResourceStatus.CREATE_IN_PROGRESS, Action.CREATE, Phase.DEPLOY)
    )
    progress.close()
    # THEN the bar counts the stacks of the app (a nested stack is part of its parent), and each line names its stack
    output = terminal.getvalue()
    assert "stacks: 2 in progress, 0 done" in output and "stacks: 1 in progress, 1 done" in output
    assert "Left | CREATE_COMPLETE | AWS::CloudFormation::Stack | Left" in output


def test_the_cli_deploys_and_destroys_stacks_side_by_side_through_the_real_runtime(tmp_path: Path, capsys) -> None:
    # GIVEN an app of two independent stacks of managed things, and a third that depends on the first
    def rooms(app: cdk.App) -> None:
        kitchen, garden, hall = (cdk.Stack(app, name) for name in ("Kitchen", "Garden", "Hall"))
        for index, (stack, name) in enumerate(
            [(kitchen, "Fridge"), (kitchen, "Oven"), (garden, "Pump"), (hall, "Lamp")]
        ):
            device(stack, name, index + 1, name=name)
        hall.add_dependency(kitchen)

    cdk_out = synth(tmp_path / "cdk.out", rooms)

    # WHEN deployed two stacks at once
    deployed = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out), "--stack-concurrency", "2", "--json")

    # THEN every stack is deployed, and the JSON document lists each with its own status and resources
    assert deployed.code == 0, deployed.stderr
    assert [(s["stackName"], s["status"], len(s["resources"])) for s in deployed.document["stacks"]] == [
        ("Kitchen", "CREATE_COMPLETE", 2),
        ("Garden", "CREATE_COMPLETE", 1),
        ("Hall", "CREATE_COMPLETE", 1),
    ]
    assert sorted(by_name(emulator_things(cdk_out))) == ["Fridge", "Lamp", "Oven", "Pump"]

    # WHEN destroyed two stacks at once
    destroyed = run_cli(capsys, "destroy", "--cdk-out", str(cdk_out), "--stack-concurrency", "2", "--json")

    # THEN Hall went before the Kitchen it depends on, and nothing is left
    assert destroyed.code == 0, destroyed.stderr
    assert destroyed.stderr.index("Hall | DELETE_COMPLETE | AWS::CloudFormation::Stack") < (
        destroyed.stderr.index("Kitchen | DELETE_IN_PROGRESS | AWS::CloudFormation::Stack")
    )
    assert {s["stackName"] for s in destroyed.document["stacks"]} == {"Kitchen", "Garden", "Hall"}
    assert emulator_things(cdk_out) == {}


def test_of_two_stacks_exporting_one_name_side_by_side_the_second_is_refused_as_cloudformation_does(
    app: FakeApp,
) -> None:
    # GIVEN two stacks that do not depend on each other, exporting the same name
    def exporting(logical_id: str, identifier: str) -> dict[str, object]:
        output = {"Value": {"Ref": logical_id}, "Export": {"Name": "Shared"}}
        return {"Resources": {logical_id: thing(identifier)}, "Outputs": {"ThingId": output}}

    app.write({"Left": exporting("L1", "l1"), "Right": exporting("R1", "r1")})

    # WHEN deployed two stacks at once
    deployed = app.deploy(FakeRuntime(), stack_concurrency=2)

    # THEN the first exports it, and the second is refused and rolled back, as CloudFormation refuses it
    left, right = deployed.reports
    assert (left.status, left.exports) == ("CREATE_COMPLETE", {"Shared": "l1"})
    assert right.status == "ROLLBACK_COMPLETE"
    assert "Export with name Shared is already exported by stack Left" in right.error


def test_the_json_document_names_the_stacks_a_failure_kept_from_starting(tmp_path: Path, capsys) -> None:
    # GIVEN an app whose first stack fails (its thing's name is an IAM role's ARN, which is not deployed locally),
    # and a second stack that depends on it
    def rooms(app: cdk.App) -> None:
        broken, later = cdk.Stack(app, "Broken"), cdk.Stack(app, "Later")
        role = iam.Role(broken, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        device(broken, "Lamp", 1, name=role.role_arn)
        device(later, "Fan", 2, name="Fan")
        later.add_dependency(broken)

    cdk_out = synth(tmp_path / "cdk.out", rooms)

    # WHEN deployed
    deployed = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out), "--stack-concurrency", "2", "--json")

    # THEN the document gives the failed stack, and names the one that never started
    assert deployed.code == 1
    assert [(s["stackName"], s["status"]) for s in deployed.document["stacks"]] == [("Broken", "ROLLBACK_COMPLETE")]
    assert deployed.document["notStarted"] == ["Later"]
    assert "Not deployed, as Broken failed: Later" in deployed.stderr


def test_describe_stacks_answers_each_stack_its_own_status_while_they_overlap(app: FakeApp) -> None:
    # GIVEN Left failing and rolling back while Right's Create is still in flight, and the statuses DescribeStacks
    # answers the providers from
    app.write({"Left": {"L1": thing("l1")}, "Right": {"R1": thing("r1")}})
    left_rolling_back, seen = threading.Event(), {}
    statuses = StackStatuses()
    meet = meeting("L1", "R1")

    def described() -> dict[str, str]:
        return {name: record.status for name in ("Left", "Right") if (record := statuses.find(name)) is not None}

    def overlap(request: CustomResourceRequest) -> None:
        meet(request)
        if (request.logical_id, request.request_type) == ("L1", DELETE):  # Left's rollback, Right in flight
            seen.update(described())
            left_rolling_back.set()
        if (request.logical_id, request.request_type) == ("R1", CREATE):
            left_rolling_back.wait(HANG_GUARD_SECONDS)

    runtime = FakeRuntime(fail={("L1", CREATE): "told to fail"}, on_request=overlap)
    engine, _, _ = app.engine(runtime, stack_concurrency=2)
    engine.executor.listeners.append(statuses)

    # WHEN deployed two stacks at once
    engine.deploy(engine.deploy_order(engine.assembly.select([])))

    # THEN while Left rolled back, each stack's DescribeStacks answered its own status; then each its last one
    assert seen == {"Left": "ROLLBACK_IN_PROGRESS", "Right": "CREATE_IN_PROGRESS"}
    assert described() == {"Left": "ROLLBACK_COMPLETE", "Right": "CREATE_COMPLETE"}
