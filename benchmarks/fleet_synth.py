"""Synth of a fleet: ManagedThingFleet vs the same raw resources in the same nested stacks, in the same run.

Target (issue 8): 10,000 rows through ``ManagedThingFleet`` synthesize within 1.2 x the whole-process time of
10,000 raw ``CfnResource``s of type ``AWS::IoTManagedIntegrations::ManagedThing`` with the same values, under
the same logical ids in the same nested stacks (laid out by the fleet's own shard function). Peak RSS (the
process and jsii's Node.js child, summed) is printed for both; its target, ours, is the same 1.2 x.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .process_tree import PeakRss
from .report import FLEET_APP, MB, REPO, BenchmarkError, child_environment, synth_environment, verdict

ROWS = 10_000
QUICK_ROWS = 200
RATIO_TARGET = 1.2
RSS_RATIO_TARGET = 1.2


def measure(*, quick: bool, repeat: int) -> None:
    """Print the whole-process seconds and peak RSS of both synths (medians of ``repeat`` alternating runs)."""
    rows = QUICK_ROWS if quick else ROWS
    seconds: dict[str, list[float]] = {"raw": [], "fleet": []}
    peaks: dict[str, list[int]] = {"raw": [], "fleet": []}
    for _ in range(repeat):  # alternate, so drift in machine load hits both alike
        for kind in seconds:
            wall, peak = _synthesize(rows, raw=kind == "raw")
            seconds[kind].append(wall)
            peaks[kind].append(peak)
    fleet, raw = statistics.median(seconds["fleet"]), statistics.median(seconds["raw"])
    fleet_rss, raw_rss = statistics.median(peaks["fleet"]), statistics.median(peaks["raw"])
    print(
        f"fleet synth of {rows} rows (whole process): ManagedThingFleet median {fleet:.2f} s, raw CfnResources in "
        f"the same nested stacks median {raw:.2f} s, ratio {fleet / raw:.2f}; target <= {RATIO_TARGET:.2f}: "
        f"{verdict(fleet / raw, RATIO_TARGET)}"
    )
    print(
        f"  peak RSS (Python + Node.js): ManagedThingFleet {fleet_rss / MB:.0f} MB, raw {raw_rss / MB:.0f} MB, "
        f"ratio {fleet_rss / raw_rss:.2f}; target <= {RSS_RATIO_TARGET:.2f}: "
        f"{verdict(fleet_rss / raw_rss, RSS_RATIO_TARGET)}"
    )


def _synthesize(rows: int, *, raw: bool) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as outdir:
        command = [sys.executable, str(FLEET_APP), str(Path(outdir) / "cdk.out"), str(rows), "--fleet"]
        start = time.perf_counter()
        process = subprocess.Popen(
            [*command, *(["--raw"] if raw else [])],
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
