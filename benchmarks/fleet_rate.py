"""Deploying a fleet at the API's rate: a local deploy against the embedded emulator's ``--rate-limit R``.

``managed-things deploy --cdk-out DIR --rate-limit R`` runs as a user runs it, in its own process, on fresh state,
with the default ``--concurrency`` (or ``concurrency``): the offered load exceeds R, so the emulator throttles and
the provider's retries pace the deploy. The fleet's things live in shard stacks of 450, each with its own provider
function; the engine deploys the app's stacks, all of them. The rate is measured from **the emulator's
timestamps** (each thing's ``CreatedAt``, stamped when the emulator commits the Create): things / (last CreatedAt
- first CreatedAt), the first Create to the last Create's answer, across every shard stack (the time between one
stack's last thing and the next stack's first counts). The emulator's token bucket starts full (one second's
worth, R requests), which a fleet of N things sees at least once: the ceiling is about (N - 1) / ((N - R) / R),
50.2/s for 10,000 at 50 (more if the bucket refills between stacks). Then ``destroy`` runs with the same limit and
the things left in the emulator are counted.

Targets (issues 8 and 13): things/s >= 0.9 R; 0 duplicates (things in the emulator beyond the app's); 0 left after
destroy; peak RSS of the deploy's processes (the CLI, the embedded emulator, the execution environments) <= 1.5 GB.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .local_deploy import emulator_things, run_command
from .report import MB, BenchmarkError, synthesize_fleet, verdict

RATE_LIMIT = 50.0
TARGET_SHARE_OF_RATE = 0.9
PEAK_RSS_TARGET = 1500 * MB

# An app: synthesizes a fleet of ``things`` things into ``cdk_out``. The one line to change for another layout.
FleetApp = Callable[[Path, int], object]


def fleet_of_rows(cdk_out: Path, things: int) -> None:
    """``benchmarks/fleet_app.py --fleet``: ``things`` rows of one ManagedThingFleet, placed from scratch (a fresh
    placement file beside ``cdk_out``) in shard stacks of 450 things, each with its own provider."""
    synthesize_fleet(cdk_out, things, placement=cdk_out.parent / "plugs.placement.json")


@dataclass(frozen=True)
class RateRun:
    """A deploy of ``things`` things at ``rate_limit`` requests a second; ``concurrency`` None: the CLI's default.

    ``stack_concurrency``: the stacks deployed at once (``--stack-concurrency``, an engine that deploys independent
    stacks side by side); None: the CLI's default, and no such option passed.
    """

    things: int
    rate_limit: float = RATE_LIMIT
    concurrency: int | None = None
    stack_concurrency: int | None = None
    app: FleetApp = field(default=fleet_of_rows)

    @property
    def options(self) -> list[str]:
        concurrency = ["--concurrency", str(self.concurrency)] if self.concurrency else []
        stacks = ["--stack-concurrency", str(self.stack_concurrency)] if self.stack_concurrency else []
        return ["--rate-limit", f"{self.rate_limit:g}", *concurrency, *stacks]

    @property
    def label(self) -> str:
        concurrency = f"--concurrency {self.concurrency}" if self.concurrency else "the default --concurrency"
        stacks = f", --stack-concurrency {self.stack_concurrency}" if self.stack_concurrency else ""
        return (
            f"local deploy at the API's rate, a ManagedThingFleet of {self.things} rows, --rate-limit "
            f"{self.rate_limit:g}, {concurrency}{stacks}"
        )


def measure(run: RateRun) -> None:
    """Print the deploy's things/s beside 0.9 R, the duplicates, and the things left after destroy."""
    with tempfile.TemporaryDirectory() as workdir:
        cdk_out = Path(workdir) / "cdk.out"
        run.app(cdk_out, run.things)
        deploy = run_command("deploy", cdk_out, *run.options)
        things = emulator_things(cdk_out)
        created = sorted(float(thing["CreatedAt"]) for thing in things)
        if len(created) < run.things:
            raise BenchmarkError(f"{run.label}: the emulator holds {len(created)} of {run.things} things after deploy")
        span = created[-1] - created[0]
        rate = (len(created) - 1) / span if span > 0 else float("inf")
        ratio = rate / run.rate_limit
        duplicates = len(created) - run.things
        stacks = [stack for stack in deploy.document.get("stacks", []) if _deploys_things(stack)]
        print(f"{run.label}, in {len(stacks)} shard stack{'' if len(stacks) == 1 else 's'}:")
        print(
            f"  deploy: {run.things} things, {span:.1f} s from the first Create to the last "
            f"(the emulator's CreatedAt), {rate:.1f} things/s = {ratio:.2f} x the rate limit "
            f"({_burst_note(run.things, run.rate_limit)}); target >= {TARGET_SHARE_OF_RATE}: "
            f"{verdict(TARGET_SHARE_OF_RATE, ratio)} (command: {deploy.seconds:.1f} s)"
        )
        spans = _spans_by_stack(cdk_out, things)
        if len(spans) > 1:
            busy = _covered_seconds(spans.values())
            inside = sum(count - 1 for _, _, count in spans.values()) / sum(
                last - first for first, last, _ in spans.values()
            )
            print(
                f"  by shard stack: {inside:.1f} things/s from a stack's first Create to its last; "
                f"{span - busy:.1f} s of the {span:.1f} s with no stack between its first Create and its last "
                f"(the changes from one stack to the next)"
            )
        print(f"  duplicates: {duplicates}; target 0: {verdict(duplicates, 0)}")
        print(
            f"  peak RSS of all processes during the deploy: {deploy.peak_rss / MB:.0f} MB ({deploy.processes_at_peak} "
            f"processes then, at most {deploy.most_processes}); target <= {PEAK_RSS_TARGET / MB:.0f} MB: "
            f"{verdict(deploy.peak_rss, PEAK_RSS_TARGET)}"
        )
        destroy = run_command("destroy", cdk_out, *run.options)
        left = len(emulator_things(cdk_out))
        print(f"  destroy: {left} things left; target 0: {verdict(left, 0)} (command: {destroy.seconds:.1f} s)")


def _spans_by_stack(cdk_out: Path, things: list[dict[str, Any]]) -> dict[str, tuple[float, float, int]]:
    """Stack name -> (first CreatedAt, last CreatedAt, things) of the fleet's things, by its things manifest
    (none without one)."""
    from managed_things_model.contract import THINGS_MANIFEST_SUFFIX

    manifests = [json.loads(path.read_text()) for path in cdk_out.glob(f"*{THINGS_MANIFEST_SUFFIX}")]
    if len(manifests) != 1:
        return {}
    manifest = manifests[0]
    stack_of = {key: entry["stackName"] for key, entry in manifest["things"].items()}
    spans: dict[str, tuple[float, float, int]] = {}
    for thing in things:
        stack = stack_of.get(thing.get(manifest["keyMember"], ""))
        if stack is None:
            continue
        at = float(thing["CreatedAt"])
        first, last, count = spans.get(stack, (at, at, 0))
        spans[stack] = (min(first, at), max(last, at), count + 1)
    return spans


def _covered_seconds(spans: Iterable[tuple[float, float, int]]) -> float:
    """How long at least one of ``spans`` (first, last, _) was open: their union's length."""
    covered, reached = 0.0, float("-inf")
    for first, last, _ in sorted(spans):
        if last > reached:
            covered += last - max(first, reached)
            reached = last
    return covered


def _deploys_things(stack: dict[str, Any]) -> bool:
    """Whether a stack of the deploy's --json document holds things (a shard stack, not the fleet's own stack)."""
    from managed_things_model.contract import RESOURCE_TYPE

    return any(resource.get("type") == RESOURCE_TYPE for resource in stack.get("resources", []))


def _burst_note(things: int, rate_limit: float) -> str:
    """The most the ratio can be: the emulator's bucket starts full (R requests at once), then R a second."""
    if things <= rate_limit + 1:
        return "all within the emulator's initial burst"
    return f"at most {(things - 1) / (things - rate_limit):.2f} with the emulator's initial burst"
