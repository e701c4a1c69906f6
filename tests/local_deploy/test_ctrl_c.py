"""Ctrl-C during a real ``managed-things deploy``, as a terminal sends it: SIGINT to the CLI's process.

The app has a real managed thing (``First``) and, after it, a Custom::ManagedThing
whose provider (``Slow``) takes its time to answer a Create: the interrupt
arrives while Slow's Create is in flight. A first Ctrl-C lets it finish and
rolls the stack back; a second one stops waiting for it. Either way the command
exits 130 (128 + SIGINT), no process of it is left, and a later destroy leaves
nothing in the emulator. The last tests drive the engine, and the blocks the CLI stops in, in-process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import psutil
import pytest
from aws_cdk import aws_lambda as lambda_
from deploy_support import device, emulator_things, state_dir, synth
from fake_runtime import FakeApp, FakeRuntime, thing

from managed_things_local.cli import EXIT_INTERRUPTED
from managed_things_local.cloudformation.requests import CustomResourceRequest, RequestType
from managed_things_local.engine.interrupts import Stopping, StopWaiting
from managed_things_local.state.state import StateStore

STACK = "Interrupted"
HANG_GUARD_SECONDS = 120  # only so that a broken interrupt fails the test instead of hanging it

# Answers requests of type ``SlowOn`` after ``Seconds``, having written its pid to PID_DIR; others at once.
# Idempotent like a real provider: the same request delivered again (same RequestId) answers at once.
SLOW_PROVIDER = r"""
import json
import os
import ssl
import time
import urllib.request


def handler(event, context):
    properties = event["ResourceProperties"]
    started = os.path.join(os.environ["PID_DIR"], os.pardir, "requests", event["RequestId"])
    if event["RequestType"] == properties["SlowOn"] and not os.path.exists(started):
        os.makedirs(os.path.dirname(started), exist_ok=True)
        open(started, "w").close()
        with open(os.path.join(os.environ["PID_DIR"], str(os.getpid())), "w"):
            pass
        time.sleep(float(properties["Seconds"]))
    physical_id = "slow-1" if event["RequestType"] == "Create" else event["PhysicalResourceId"]
    body = json.dumps({
        "Status": "SUCCESS", "PhysicalResourceId": physical_id, "StackId": event["StackId"],
        "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"], "Data": {},
    }).encode()
    answer = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(answer, context=ssl.create_default_context()) as response:
        response.read()
"""


def slow_app(tmp_path: Path, seconds: int, slow_on: str = "Create") -> tuple[Path, Path]:
    """(cdk.out, the directory where the slow provider writes the pid of each slow request it serves)."""
    code_dir, pid_dir = tmp_path / "slow", tmp_path / "pids"
    code_dir.mkdir()
    pid_dir.mkdir()
    (code_dir / "slow.py").write_text(SLOW_PROVIDER)

    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, STACK)
        first = device(stack, "First", 1, name="First")
        function = lambda_.Function(
            stack,
            "SlowProvider",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="slow.handler",
            code=lambda_.Code.from_asset(str(code_dir)),
            timeout=cdk.Duration.seconds(900),
            environment={"PID_DIR": str(pid_dir)},
        )
        slow = cdk.CfnResource(
            stack,
            "Slow",
            type="Custom::ManagedThing",
            properties={"ServiceToken": function.function_arn, "Seconds": seconds, "SlowOn": slow_on},
        )
        slow.node.add_dependency(first)

    return synth(tmp_path / "cdk.out", define), pid_dir


class Command:
    """The CLI in a process of its own, its stderr collected as it comes."""

    def __init__(self, cwd: Path, *argv: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "managed_things_local", *argv],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        give_up = time.monotonic() + HANG_GUARD_SECONDS
        while not condition():
            assert self.process.poll() is None, f"ended before {what}:\n{self.stderr}"
            assert time.monotonic() < give_up, f"never saw {what}:\n{self.stderr}"
            time.sleep(0.05)

    def ctrl_c(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def finish(self) -> int:
        try:
            code = self.process.wait(HANG_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"still running {HANG_GUARD_SECONDS} s after Ctrl-C:\n{self.stderr}") from None
        self._reader.join()
        return code


def run(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "managed_things_local", *argv],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )


def until_slow_runs(cwd: Path, pid_dir: Path, *argv: str) -> tuple[Command, list[psutil.Process]]:
    """The command, once Slow's slow request is in flight; the processes it started by then."""
    command = Command(cwd, *argv)
    command.wait_for(lambda: any(pid_dir.iterdir()), "Slow's slow request")
    started = psutil.Process(command.process.pid).children(recursive=True)
    assert any(p.pid == int(f.name) for p in started for f in pid_dir.iterdir())
    return command, started


def deploy_until_slow_runs(tmp_path: Path, seconds: int) -> tuple[Command, Path, list[psutil.Process]]:
    """A deploy whose Slow Create is in flight; the processes it started, then."""
    cdk_out, pid_dir = slow_app(tmp_path, seconds)
    deploy, started = until_slow_runs(tmp_path, pid_dir, "deploy", "--cdk-out", str(cdk_out))
    return deploy, cdk_out, started


def left_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_a_ctrl_c_finishes_what_runs_rolls_back_and_exits_130(tmp_path: Path) -> None:
    # GIVEN a deploy whose slow Create is in flight, after First was created
    deploy, cdk_out, started = deploy_until_slow_runs(tmp_path, seconds=3)

    # WHEN Ctrl-C is pressed once
    deploy.ctrl_c()
    code = deploy.finish()

    # THEN Slow's Create finished, the stack rolled back (First is gone again), and the deploy exits 130 like cdk's
    assert code == EXIT_INTERRUPTED, deploy.stderr
    assert "Interrupted: finishing what is in progress" in deploy.stderr
    assert f"{STACK} | CREATE_COMPLETE | Custom::ManagedThing | Slow" in deploy.stderr.splitlines()
    assert "ROLLBACK_COMPLETE" in deploy.stderr
    assert "Traceback" not in deploy.stderr
    assert emulator_things(cdk_out) == {}
    # AND no process of it is left
    assert left_running(started) == []

    # AND a later destroy succeeds and leaves nothing in the emulator
    destroy = run(tmp_path, "destroy", "--cdk-out", str(cdk_out))
    assert destroy.returncode == 0, destroy.stderr
    assert emulator_things(cdk_out) == {}


def test_a_second_ctrl_c_stops_waiting_exits_130_and_leaves_a_state_that_destroys(tmp_path: Path) -> None:
    # GIVEN a deploy whose Create of Slow would take many minutes, after First was created
    deploy, cdk_out, started = deploy_until_slow_runs(tmp_path, seconds=600)
    created = emulator_things(cdk_out)
    assert [thing["Name"] for thing in created.values()] == ["First"]

    # WHEN Ctrl-C is pressed, and again once the deploy said it is finishing what is in progress
    deploy.ctrl_c()
    deploy.wait_for(lambda: "Ctrl-C again to stop waiting" in deploy.stderr, "the first interrupt's message")
    deploy.ctrl_c()
    code = deploy.finish()

    # THEN it stops waiting for Slow and exits 130, with one line saying so and what to do, and no traceback
    assert code == EXIT_INTERRUPTED, deploy.stderr
    assert deploy.stderr.rstrip().endswith(
        "Stopped without waiting for what was in progress (Ctrl-C twice): run `managed-things deploy` again to "
        "finish, or `managed-things destroy` to delete what was deployed"
    )
    assert "Traceback" not in deploy.stderr
    # AND Slow, whose environment it stopped, is not reported as the provider's failure
    assert "CREATE_FAILED" not in deploy.stderr
    # AND no process of it is left: Slow's execution environment was stopped too
    assert left_running(started) == []
    assert not any(psutil.pid_exists(int(f.name)) for f in (tmp_path / "pids").iterdir())
    # AND the local state knows First, by the Id the emulator gave it
    state = StateStore(state_dir(cdk_out)).load(STACK)
    assert state is not None
    assert [r.physical_id for r in state.resources.values() if r.logical_id.startswith("First")] == list(created)

    # AND a later destroy first delivers Slow's unanswered Create again (Lambda delivers at least once), then
    # deletes everything: nothing is left in the emulator
    destroy = run(tmp_path, "destroy", "--cdk-out", str(cdk_out))
    assert destroy.returncode == 0, destroy.stderr
    assert "Slow: its Create was never answered; delivering it again" in destroy.stderr
    assert emulator_things(cdk_out) == {}
    assert StateStore(state_dir(cdk_out)).journal(STACK).entries() == []


def test_a_ctrl_c_during_a_destroy_finishes_its_deletes_and_exits_130(tmp_path: Path) -> None:
    # GIVEN a deployed app whose Slow takes its time to delete
    cdk_out, pid_dir = slow_app(tmp_path, seconds=3, slow_on="Delete")
    deployed = run(tmp_path, "deploy", "--cdk-out", str(cdk_out))
    assert deployed.returncode == 0, deployed.stderr
    assert len(emulator_things(cdk_out)) == 1

    # WHEN it is destroyed, and Ctrl-C is pressed while Slow's Delete is in flight
    destroy, started = until_slow_runs(tmp_path, pid_dir, "destroy", "--cdk-out", str(cdk_out))
    destroy.ctrl_c()
    code = destroy.finish()

    # THEN the deletes under way finish (Slow's, then First's: nothing is left), and it exits 130
    assert code == EXIT_INTERRUPTED, destroy.stderr
    assert "Interrupted: finishing what is in progress" in destroy.stderr
    assert "Traceback" not in destroy.stderr
    assert emulator_things(cdk_out) == {}
    assert left_running(started) == []


def test_a_second_ctrl_c_stops_the_engine_waiting_for_an_invocation_in_flight(tmp_path: Path) -> None:
    # GIVEN a deploy whose Create of A is slow to answer
    app = FakeApp(tmp_path)
    app.write({"Fake": {"A": thing("a1"), "B": thing("b1", Upstream={"Ref": "A"})}})
    runtime = FakeRuntime()
    release, answered = threading.Event(), threading.Event()

    def slow_create_of_a(request: CustomResourceRequest) -> None:
        if (request.logical_id, request.request_type) == ("A", RequestType.CREATE):
            # WHEN Ctrl-C is pressed while it runs, and again once the engine said it is finishing what runs
            signal.raise_signal(signal.SIGINT)
            runtime.interrupt_seen.wait(HANG_GUARD_SECONDS)
            signal.raise_signal(signal.SIGINT)
            release.wait(HANG_GUARD_SECONDS)  # a provider that takes its time
            answered.set()

    runtime.on_request = slow_create_of_a
    try:
        # THEN the deploy stops waiting: the second Ctrl-C reaches the caller while A's Create has not answered
        with pytest.raises(KeyboardInterrupt):
            app.deploy(runtime)
        assert not answered.is_set()
        # AND B was never started
        assert runtime.calls() == [("Create", "A", "a1")]
    finally:
        release.set()


def test_once_stopping_further_ctrl_cs_cannot_cut_the_stop_short_and_nothing_abandoned_is_reported() -> None:
    # GIVEN a command's blocks around what it started, and the Ctrl-C handling before it ran
    stopping, reported = Stopping(), []
    before = signal.getsignal(signal.SIGINT)

    with pytest.raises(StopWaiting):
        with stopping.restoring():
            try:
                with stopping.reporting(reported.append) as report:
                    report("in flight")
                    raise StopWaiting  # WHEN a second Ctrl-C stops waiting
            finally:
                # AND Ctrl-C is pressed again while what was started is being stopped, which then ends
                signal.raise_signal(signal.SIGINT)
                report("abandoned, then stopped")

    # THEN that Ctrl-C did not interrupt the stop, the abandoned work's end was not reported, and Ctrl-C works again
    assert reported == ["in flight"]
    assert signal.getsignal(signal.SIGINT) is before
