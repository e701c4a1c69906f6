"""Deploying a fleet at the API's rate: a local deploy against the embedded emulator's ``--rate-limit R``.

``managed-things deploy --cdk-out DIR --rate-limit R`` runs as a user runs it, in its own process, on fresh state,
with the default ``--concurrency`` (or ``concurrency``): the offered load exceeds R, so the emulator throttles and
the provider's retries pace the deploy. The rate is measured from **the emulator's timestamps** (each thing's
``CreatedAt``, stamped when the emulator commits the Create): things / (last CreatedAt - first CreatedAt), the
first Create to the last Create's answer. The emulator's token bucket starts full (one second's worth, R
requests), which a fleet of N things sees once: the ceiling is (N - 1) / ((N - R) / R), 52.6/s for 1,000 at 50.
Then ``destroy`` runs with the same limit and the things left in the emulator are counted.

Targets (issue 8): things/s >= 0.9 R; 0 duplicates (things in the emulator beyond the app's); 0 left after destroy.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .local_deploy import emulator_things, run_command
from .report import BenchmarkError, synthesize_fleet, verdict

RATE_LIMIT = 50.0
TARGET_SHARE_OF_RATE = 0.9

# An app: synthesizes a fleet of ``things`` things into ``cdk_out``. The one line to change for another layout.
FleetApp = Callable[[Path, int], object]


def fleet_of_rows(cdk_out: Path, things: int) -> None:
    """``benchmarks/fleet_app.py --fleet``: ``things`` rows of one ManagedThingFleet (32 shards, one provider)."""
    synthesize_fleet(cdk_out, things, fleet=True)


@dataclass(frozen=True)
class RateRun:
    """A deploy of ``things`` things at ``rate_limit`` requests a second; ``concurrency`` None: the CLI's default."""

    things: int
    rate_limit: float = RATE_LIMIT
    concurrency: int | None = None
    app: FleetApp = field(default=fleet_of_rows)

    @property
    def options(self) -> list[str]:
        concurrency = ["--concurrency", str(self.concurrency)] if self.concurrency else []
        return ["--rate-limit", f"{self.rate_limit:g}", *concurrency]

    @property
    def label(self) -> str:
        concurrency = f"--concurrency {self.concurrency}" if self.concurrency else "the default --concurrency"
        return (
            f"local deploy at the API's rate, a ManagedThingFleet of {self.things} rows, --rate-limit "
            f"{self.rate_limit:g}, {concurrency}"
        )


def measure(run: RateRun) -> None:
    """Print the deploy's things/s beside 0.9 R, the duplicates, and the things left after destroy."""
    with tempfile.TemporaryDirectory() as workdir:
        cdk_out = Path(workdir) / "cdk.out"
        run.app(cdk_out, run.things)
        deploy = run_command("deploy", cdk_out, *run.options)
        created = sorted(float(thing["CreatedAt"]) for thing in emulator_things(cdk_out))
        if len(created) < run.things:
            raise BenchmarkError(f"{run.label}: the emulator holds {len(created)} of {run.things} things after deploy")
        span = created[-1] - created[0]
        rate = (len(created) - 1) / span if span > 0 else float("inf")
        ratio = rate / run.rate_limit
        duplicates = len(created) - run.things
        print(f"{run.label}:")
        print(
            f"  deploy: {run.things} things, {span:.1f} s from the first Create to the last "
            f"(the emulator's CreatedAt), {rate:.1f} things/s = {ratio:.2f} x the rate limit "
            f"({_burst_note(run.things, run.rate_limit)}); target >= {TARGET_SHARE_OF_RATE}: "
            f"{verdict(TARGET_SHARE_OF_RATE, ratio)} (command: {deploy.seconds:.1f} s)"
        )
        print(f"  duplicates: {duplicates}; target 0: {verdict(duplicates, 0)}")
        destroy = run_command("destroy", cdk_out, *run.options)
        left = len(emulator_things(cdk_out))
        print(f"  destroy: {left} things left; target 0: {verdict(left, 0)} (command: {destroy.seconds:.1f} s)")


def _burst_note(things: int, rate_limit: float) -> str:
    """The most the ratio can be: the emulator's bucket starts full (R requests at once), then R a second."""
    if things <= rate_limit + 1:
        return "all within the emulator's initial burst"
    return f"at most {(things - 1) / (things - rate_limit):.2f} with the emulator's initial burst"
