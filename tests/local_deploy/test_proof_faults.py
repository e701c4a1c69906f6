"""Proof, part 1: real local deploys (a Session, a synthesized app, the real provider) against a running emulator
that throttles, fails and is slow, with siblings that fail and a deadline that passes. After every deploy and
after destroy, the emulator's things are exactly what the state records (``assert_converged``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import aws_cdk as cdk
import pytest
from deploy_support import Operation, device, operate, state_dir, synth
from proof_support import FAULTS, SlowFirst, assert_converged, live_things, set_faults

from managed_things_local.emulator.faults import EmulatorOptions
from managed_things_local.emulator.server import EmulatorServer
from managed_things_local.engine.session import SessionOptions
from managed_things_local.state.state import StateStore


def fleet(materials: tuple[int, ...] = (1, 2, 3), suffix: str = "", tags: dict[str, str] | None = None):
    """Plugs, and a Sibling created after them whose Name is a parameter (``bad!name`` fails it, before any call)."""

    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Fleet")
        sibling_name = cdk.CfnParameter(stack, "SiblingName", default="sibling").value_as_string
        plugs = [
            device(stack, f"Plug{i}", material, name=f"plug-{i}{suffix}", tags=tags)
            for i, material in enumerate(materials)
        ]
        sibling = device(stack, "Sibling", 90, name=sibling_name)
        for plug in plugs:
            sibling.node.add_dependency(plug)

    return define


@pytest.fixture
def faulty() -> Iterator[EmulatorServer]:
    with EmulatorServer(options=FAULTS) as server:
        yield server


def serial(url: str) -> SessionOptions:
    """One resource at a time against the emulator at ``url``: its seeded faults then fall on the same calls in
    every run, so a scenario is the same sequence each time (with resources side by side, which call draws which
    fault varies per run)."""
    return SessionOptions(concurrency=1, endpoint_url=url)


def deploy(cdk_out: Path, url: str, sibling_name: str | None = None) -> Operation:
    parameters = {"Fleet": {"SiblingName": sibling_name}} if sibling_name else None
    return operate(cdk_out, "deploy", options=serial(url), parameters=parameters)


def destroy(cdk_out: Path, url: str) -> Operation:
    return operate(cdk_out, "destroy", options=serial(url))


def test_a_lifecycle_under_throttling_5xx_and_latency_converges_after_every_deploy(
    tmp_path: Path, faulty: EmulatorServer
) -> None:
    # GIVEN an emulator throttling 30 % of calls, failing 5 % (before, or after a committed Create) and slow
    cdk_out = tmp_path / "cdk.out"
    store = StateStore(state_dir(cdk_out))
    url = faulty.url
    steps = [
        fleet(),  # create
        fleet(suffix="-renamed", tags={"room": "kitchen"}),  # update in place, tags added
        fleet(materials=(1, 5, 3), suffix="-renamed"),  # Plug1 replaced (new material), tags removed
        fleet(materials=(1, 5)),  # Plug2 removed, the rest renamed back
    ]
    for define in steps:
        # WHEN each version is deployed
        synth(cdk_out, define)
        run = deploy(cdk_out, url)
        # THEN it succeeds despite the faults, and the things are exactly the recorded resources
        assert not run.result.failed, run.output
        assert run.stack("Fleet").status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        assert_converged(faulty, store)
        assert len(live_things(faulty)) == len(store.load("Fleet").resources)  # type: ignore[union-attr]
    # AND destroy leaves nothing
    assert not destroy(cdk_out, url).result.failed
    assert_converged(faulty, store)
    assert live_things(faulty) == {}


def rolled_back(run: Operation, store: StateStore, server: EmulatorServer, expected: str) -> bool:
    """The failed deploy rolled back to ``expected``, or (the emulator failing a rollback Delete or Update five
    times over) to its *_FAILED twin; converged either way. Whether it is the *_FAILED one."""
    assert run.result.failed
    status = run.stack("Fleet").status
    assert status in (expected, expected.replace("_COMPLETE", "_FAILED")), run.output
    assert_converged(server, store, allow_failed=True)
    return status.endswith("_FAILED")


def test_a_failing_sibling_rolls_back_creates_updates_and_replacements_without_a_trace(
    tmp_path: Path, faulty: EmulatorServer
) -> None:
    cdk_out = tmp_path / "cdk.out"
    store = StateStore(state_dir(cdk_out))
    url = faulty.url
    # GIVEN a first deploy whose last resource fails: every thing created is deleted again (ROLLBACK_COMPLETE)
    synth(cdk_out, fleet())
    run = deploy(cdk_out, url, "bad!name")
    if not rolled_back(run, store, faulty, "ROLLBACK_COMPLETE"):
        assert live_things(faulty) == {}
    # AND a plain redeploy recovers (from ROLLBACK_FAILED too)
    assert not deploy(cdk_out, url).result.failed
    assert_converged(faulty, store)
    before = set(live_things(faulty))
    # WHEN an update renames two plugs in place, replaces one (new material) and the sibling then fails
    synth(cdk_out, fleet(materials=(7, 2, 3), suffix="-v2", tags={"room": "hall"}))
    run = deploy(cdk_out, url, "bad!name")
    # THEN the rollback restores the plugs in place and deletes the replacement: the same things as before
    if not rolled_back(run, store, faulty, "UPDATE_ROLLBACK_COMPLETE"):
        assert set(live_things(faulty)) == before
        assert {t["Name"] for t in live_things(faulty).values()} == {"plug-0", "plug-1", "plug-2", "sibling"}
    else:  # CloudFormation never retries a rollback: `managed-things rollback` continues it, as `cdk rollback`
        run = operate(cdk_out, "rollback", options=serial(url))
        assert not run.result.failed, run.output
        assert_converged(faulty, store)
    # AND the same update with a good sibling goes through, and destroy removes everything
    assert not deploy(cdk_out, url).result.failed
    assert_converged(faulty, store)
    assert not destroy(cdk_out, url).result.failed
    assert_converged(faulty, store)
    assert live_things(faulty) == {}


def side_by_side(materials: tuple[int, ...]):
    """Plugs and a Sibling that depends on none of them: deployed side by side, the Sibling (``bad!name``, a
    parameter) fails while Creates of the plugs are in flight."""

    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Fleet")
        sibling_name = cdk.CfnParameter(stack, "SiblingName", default="sibling").value_as_string
        for i, material in enumerate(materials):
            device(stack, f"Plug{i}", material, name=f"plug-{i}")
        device(stack, "Sibling", 90, name=sibling_name)

    return define


def test_a_sibling_failing_while_creates_are_in_flight_under_faults_leaves_no_trace(
    tmp_path: Path, faulty: EmulatorServer
) -> None:
    # GIVEN eight plugs and a sibling deployed four at a time against the faulty emulator, the sibling failing at once
    cdk_out = tmp_path / "cdk.out"
    store = StateStore(state_dir(cdk_out))
    synth(cdk_out, side_by_side(tuple(range(1, 9))))
    options = SessionOptions(concurrency=4, endpoint_url=faulty.url)
    parameters = {"Fleet": {"SiblingName": "bad!name"}}
    # WHEN it is deployed (three times: the first deploy, then again once rolled back)
    outputs = []
    for _ in range(3):
        run = operate(cdk_out, "deploy", options=options, parameters=parameters)
        outputs.append(run.output)
        # THEN once Lambda is done no thing is left, whatever the Creates in flight did
        if not rolled_back(run, store, faulty, "ROLLBACK_COMPLETE"):
            assert live_things(faulty) == {}, run.output
    # (not vacuous: Creates were in flight, and cancelled, when the sibling failed)
    assert any("Resource creation cancelled" in output for output in outputs)
    # AND with a good sibling it deploys, and destroy removes everything
    assert not operate(cdk_out, "deploy", options=options).result.failed
    assert_converged(faulty, store)
    assert not operate(cdk_out, "destroy", options=options).result.failed
    assert live_things(faulty) == {}


def short_timeout(cdk_out: Path, seconds: int) -> None:
    """The provider function's Timeout in the synthesized template, as if the app had set it."""
    path = cdk_out / "Fleet.template.json"
    template = json.loads(path.read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Timeout"] = seconds
    path.write_text(json.dumps(template))


def one_plug(app: cdk.App) -> None:
    device(cdk.Stack(app, "Fleet"), "Plug", 1, name="plug")


def test_a_create_the_service_commits_after_the_deadline_is_deleted_by_the_rollback(tmp_path: Path) -> None:
    # GIVEN a provider with an 8 s Timeout (3 s to call AWS) and a service that commits the Create but answers 4 s late
    cdk_out = synth(tmp_path / "cdk.out", one_plug)
    short_timeout(cdk_out, 8)
    store = StateStore(state_dir(cdk_out))
    with EmulatorServer() as server:
        server.responses.faults = SlowFirst(4.0)  # the rollback's calls are answered at once
        # WHEN the stack is deployed
        run = deploy(cdk_out, server.url)
        # THEN the Create times out, answered FAILED with a recoverable id: its rollback Delete finds the thing the
        # service committed after the deadline and deletes it
        assert run.result.failed
        assert run.stack("Fleet").status == "ROLLBACK_COMPLETE", run.output
        log = (state_dir(cdk_out) / "logs" / "Fleet.log").read_text()
        assert "Create outcome unknown" in log and "Deleted what a Create of unknown outcome made" in log
        assert_converged(server, store)
        assert live_things(server) == {}
        # AND a plain redeploy creates the thing
        assert not deploy(cdk_out, server.url).result.failed
        assert_converged(server, store)
        assert not destroy(cdk_out, server.url).result.failed
        assert live_things(server) == {}


def test_a_service_slow_through_the_rollback_leaves_rollback_failed_which_a_plain_redeploy_recovers(
    tmp_path: Path,
) -> None:
    # GIVEN a provider with an 8 s Timeout and a service that takes 4 s for every call
    cdk_out = synth(tmp_path / "cdk.out", one_plug)
    short_timeout(cdk_out, 8)
    store = StateStore(state_dir(cdk_out))
    with EmulatorServer(options=EmulatorOptions(latency=4.0)) as server:
        # WHEN the stack is deployed: the Create times out, and so does the rollback's Delete
        run = deploy(cdk_out, server.url)
        assert run.result.failed
        assert run.stack("Fleet").status == "ROLLBACK_FAILED", run.output
        # THEN the state still holds the recoverable id of what the service committed
        (recorded,) = store.load("Fleet").resources.values()  # type: ignore[union-attr]
        assert recorded.physical_id.startswith("ClientToken/")
        # (the service carries out the calls the provider gave up on: wait for the last one to finish)
        time.sleep(4.5)
        assert len(live_things(server)) == 1
        # AND once the service is fast again, a plain redeploy creates the thing and deletes the one of unknown
        # outcome: converged
        set_faults(server)
        run = deploy(cdk_out, server.url)
        assert not run.result.failed, run.output
        assert_converged(server, store)
        assert len(live_things(server)) == 1
        assert not destroy(cdk_out, server.url).result.failed
        assert_converged(server, store)
        assert live_things(server) == {}
