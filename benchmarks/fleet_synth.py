"""Synth of a fleet: ManagedThingFleet vs the same raw resources in the same shard stacks, in the same run.

Target (issue 8, on issue 13's layout): N rows through ``ManagedThingFleet`` synthesize within 1.2 x the
whole-process time of N raw ``CfnResource``s of type ``Custom::ManagedThing`` with the same values, in the same
shard stacks (names, logical ids, order) each with the library's own provider: the figure is the fleet's
per-thing cost, placement and the things manifest included. The fleet places from scratch every run (a fresh
placement file). Both sides' templates and stack names are compared after each pair of runs: they must be the same,
or the comparison is void. Peak RSS (the process and jsii's Node.js child, summed) is printed for both; its
target, ours, is the same 1.2 x.
"""

from __future__ import annotations

import filecmp
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .process_tree import PeakRss
from .report import FLEET_APP, MB, REPO, BenchmarkError, child_environment, synth_environment, verdict

ROWS = (2_000, 10_000)
QUICK_ROWS = (200,)
RATIO_TARGET = 1.2
RSS_RATIO_TARGET = 1.2
KINDS = ("raw", "fleet")


def measure(rows: tuple[int, ...], *, repeat: int) -> None:
    """For each size: the whole-process seconds and peak RSS of both synths, medians of ``repeat`` alternating runs."""
    for count in rows:
        seconds: dict[str, list[float]] = {kind: [] for kind in KINDS}
        peaks: dict[str, list[int]] = {kind: [] for kind in KINDS}
        stacks = 0
        for run in range(repeat):  # alternate (first one side, then the other), so drift in load hits both alike
            with tempfile.TemporaryDirectory() as workdir:
                outdirs = {kind: Path(workdir) / kind / "cdk.out" for kind in KINDS}
                for kind in KINDS if run % 2 == 0 else KINDS[::-1]:
                    placement = Path(workdir) / "placement.json"
                    wall, peak = _synthesize(outdirs[kind], count, raw=kind == "raw", placement=placement)
                    seconds[kind].append(wall)
                    peaks[kind].append(peak)
                stacks = _same_templates(outdirs["fleet"], outdirs["raw"])
        fleet, raw = statistics.median(seconds["fleet"]), statistics.median(seconds["raw"])
        fleet_rss, raw_rss = statistics.median(peaks["fleet"]), statistics.median(peaks["raw"])
        print(
            f"fleet synth of {count} rows in {stacks - 1} shard stack{'' if stacks == 2 else 's'} (whole process, "
            f"n={repeat}): ManagedThingFleet median {_spread(seconds['fleet'])}, raw CfnResources in the same shard "
            f"stacks median {_spread(seconds['raw'])}, ratio {fleet / raw:.2f}; target <= {RATIO_TARGET:.2f}: "
            f"{verdict(fleet / raw, RATIO_TARGET)}"
        )
        print(
            f"  peak RSS (Python + Node.js): ManagedThingFleet {fleet_rss / MB:.0f} MB, raw {raw_rss / MB:.0f} MB, "
            f"ratio {fleet_rss / raw_rss:.2f}; target <= {RSS_RATIO_TARGET:.2f}: "
            f"{verdict(fleet_rss / raw_rss, RSS_RATIO_TARGET)}"
        )


def _spread(samples: list[float]) -> str:
    """The median, and the range when there is one: on a shared machine, the spread says how far to trust it."""
    median = f"{statistics.median(samples):.2f} s"
    return median if len(samples) == 1 else f"{median} (min {min(samples):.2f}, max {max(samples):.2f})"


def _synthesize(outdir: Path, rows: int, *, raw: bool, placement: Path) -> tuple[float, int]:
    """Synthesize the raw twin, or the fleet through ``placement`` (not there yet: it places from scratch)."""
    command = [sys.executable, str(FLEET_APP), str(outdir), str(rows), "--fleet"]
    command += ["--raw"] if raw else ["--placement", str(placement)]
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=child_environment(synth_environment()),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    with PeakRss(process.pid) as rss:
        _, stderr = process.communicate()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkError(f"the fleet synth ({'raw' if raw else 'ManagedThingFleet'}) failed: {last}")
    return wall, rss.peak_bytes


def _same_templates(fleet: Path, raw: Path) -> int:
    """How many templates both assemblies hold, once each is known to be the same file on both sides, under the
    same stack name."""
    names = sorted(path.name for path in fleet.glob("*.template.json"))
    raw_names = sorted(path.name for path in raw.glob("*.template.json"))
    if names != raw_names:
        raise BenchmarkError(f"the fleet synth: the raw side's stacks {raw_names} are not the fleet's {names}")
    differing = [name for name in names if not filecmp.cmp(fleet / name, raw / name, shallow=False)]
    if differing:
        raise BenchmarkError(f"the fleet synth: the raw side's templates differ from the fleet's: {differing}")
    if _stack_names(raw) != _stack_names(fleet):
        raise BenchmarkError("the fleet synth: the raw side's stack names differ from the fleet's")
    return len(names)


def _stack_names(cdk_out: Path) -> dict[str, str]:
    """Artifact id -> stack name, from the cloud assembly's manifest (no stackName: the artifact id)."""
    artifacts = json.loads((cdk_out / "manifest.json").read_text())["artifacts"]
    return {
        artifact_id: artifact.get("properties", {}).get("stackName", artifact_id)
        for artifact_id, artifact in artifacts.items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
