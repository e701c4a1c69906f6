"""The local deploy of a pre-synthesized fleet: deploy, redeploy with no changes, destroy; speed and peak memory.

Each command runs as a user runs it, ``managed-things deploy|destroy --cdk-out DIR`` in its own process, on fresh
state beside a cloud assembly synthesized before the clock starts, against the embedded emulator. The things the
emulator holds afterwards are counted, so a deploy that skips them (nested stacks on an engine without them) is
reported as such instead of as a fast deploy.

Targets (issue 6): per-thing wall time <= 1/10 of the handler's cold start measured in the same run;
peak RSS of all processes <= 1 GB for the 2,000 things in nested stacks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .process_tree import PeakRss
from .report import MB, REPO, BenchmarkError, synthesize_fleet, verdict

PER_THING_SHARE_OF_COLD_START = 1 / 10
FLEET_PEAK_RSS_TARGET = 1000 * MB
NESTED_STACK_TYPE = "AWS::CloudFormation::Stack"


@dataclass(frozen=True)
class CommandRun:
    """One ``managed-things`` command: its wall time, the peak RSS of its process tree, and its --json document."""

    seconds: float
    peak_rss: int
    processes_at_peak: int
    most_processes: int
    document: dict[str, Any]

    def not_deployed_types(self) -> set[str]:
        return {
            item.get("type", "")
            for stack in self.document.get("stacks", [])
            for item in stack.get("notDeployedLocally", [])
        }


@dataclass(frozen=True)
class Fleet:
    """A benchmark fleet: ``things`` ManagedThings, in one stack or spread over ``nested_stacks`` nested stacks."""

    things: int
    nested_stacks: int = 0

    @property
    def label(self) -> str:
        where = f"{self.nested_stacks} nested stacks" if self.nested_stacks else "one stack"
        return f"local deploy, {self.things} things in {where}"


def run_command(command: str, cdk_out: Path, *options: str) -> CommandRun:
    """Run ``managed-things COMMAND --cdk-out CDK_OUT --json [OPTIONS]`` and sample its process tree until it ends."""
    argv = [sys.executable, "-m", "managed_things_local", command, "--cdk-out", str(cdk_out), "--json", *options]
    environment = dict(
        os.environ, PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("local", "constructs", "lambda", "model"))
    )
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cdk_out.parent, env=environment, stdout=stdout, stderr=stderr)
        with PeakRss(process.pid) as rss:
            process.wait()
        seconds = time.perf_counter() - start
        stdout.seek(0)
        stderr.seek(0)
        output, progress = stdout.read().decode(errors="replace"), stderr.read().decode(errors="replace")
    try:
        document = json.loads(output)
    except ValueError:
        last = (progress.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkError(
            f"managed-things {command} printed no JSON document (exit {process.returncode}): {last}"
        ) from None
    if process.returncode != 0 or not document.get("success", command == "diff"):
        errors = [document.get("error")] + [s.get("error") for s in document.get("stacks", [])]
        reason = "; ".join(e for e in errors if e) or f"exit code {process.returncode}"
        raise BenchmarkError(f"managed-things {command} failed: {reason}")
    return CommandRun(seconds, rss.peak_bytes, rss.processes_at_peak, rss.most_processes, document)


def things_in_emulator(cdk_out: Path) -> int:
    """How many things the embedded emulator beside ``cdk_out`` holds (read from its state, not from the deploy)."""
    return len(emulator_things(cdk_out))


def emulator_things(cdk_out: Path) -> list[dict[str, Any]]:
    """The things the embedded emulator beside ``cdk_out`` holds, in creation order, as its state has them."""
    from managed_things_local.emulator.server import EmulatorServer
    from managed_things_local.state.state import STATE_DIR_NAME, StateStore

    database = StateStore(cdk_out.parent / STATE_DIR_NAME).emulator_database
    if not database.is_file():
        return []
    emulator = EmulatorServer(state=database)
    try:
        return emulator.backend.list_things()
    finally:
        emulator.stop()


def supports_nested_stacks() -> bool:
    """Whether this engine deploys the things of a nested stack: one thing in one nested stack, deployed."""
    with tempfile.TemporaryDirectory() as workdir:
        cdk_out = Path(workdir) / "cdk.out"
        synthesize_fleet(cdk_out, 1, nested=1)
        run = run_command("deploy", cdk_out)
        skipped = things_in_emulator(cdk_out) == 0 and NESTED_STACK_TYPE in run.not_deployed_types()
        return not skipped


def measure(fleet: Fleet, cold_start: float, rss_target: float | None = None) -> None:
    """Print the deploy, redeploy and destroy figures of ``fleet`` beside their targets."""
    if fleet.nested_stacks and not supports_nested_stacks():
        print(f"{fleet.label}: not supported by this engine (it does not deploy {NESTED_STACK_TYPE} resources)")
        return
    with tempfile.TemporaryDirectory() as workdir:
        cdk_out = Path(workdir) / "cdk.out"
        synthesize_fleet(cdk_out, fleet.things, nested=fleet.nested_stacks)
        deploy = run_command("deploy", cdk_out)
        deployed = things_in_emulator(cdk_out)
        if deployed != fleet.things:
            raise BenchmarkError(f"{fleet.label}: the emulator holds {deployed} things after the deploy")
        per_thing, target = deploy.seconds / fleet.things, cold_start * PER_THING_SHARE_OF_COLD_START
        print(
            f"{fleet.label} (pre-synthesized, fresh state, embedded emulator):\n"
            f"  deploy: {deploy.seconds:.1f} s, {fleet.things / deploy.seconds:.1f} things/s, "
            f"{per_thing * 1e3:.1f} ms per thing; target <= {target * 1e3:.1f} ms "
            f"(1/10 of the {cold_start * 1e3:.0f} ms cold start): {verdict(per_thing, target)}"
        )
        rss_verdict = (
            f"; target <= {rss_target / MB:.0f} MB: {verdict(deploy.peak_rss, rss_target)}" if rss_target else ""
        )
        print(
            f"  peak RSS of all processes: {deploy.peak_rss / MB:.0f} MB "
            f"({deploy.processes_at_peak} processes then, at most {deploy.most_processes}){rss_verdict}"
        )
        redeploy = run_command("deploy", cdk_out)
        print(f"  redeploy with no changes: {redeploy.seconds:.1f} s")
        diff = run_command("diff", cdk_out)
        differences = _differences(diff.document.get("stacks", []))
        if differences:
            raise BenchmarkError(f"{fleet.label}: diff after a redeploy lists {differences} differences")
        print(f"  diff against the deployed state: {diff.seconds:.1f} s, no differences")
        destroy = run_command("destroy", cdk_out)
        print(f"  destroy: {destroy.seconds:.1f} s, {fleet.things / destroy.seconds:.1f} things/s")


def _differences(stacks: list[dict[str, Any]]) -> int:
    """How many things the ``diff --json`` stacks (nested ones included) would change."""
    return sum(len(s.get("things", [])) + _differences(s.get("nestedStacks", [])) for s in stacks)
