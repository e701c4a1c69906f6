"""The benchmarks run: every figure group prints its figure, its target and a verdict, on tiny sizes.

No timing is asserted (the figures are the benchmark's to print); what is asserted is that each
measurement is taken through the real pieces (a synthesized app, ``managed-things deploy``/``destroy``,
the provider's asset in a warm process) and reported, and that the process tree's memory is summed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from types import ModuleType

import psutil
import pytest
from e2e_support import REPO_ROOT, run

pytestmark = pytest.mark.slow

TINY = [
    "--only",
    "warm,deploy,nested,fleet-synth,cli,fleet-rate",
    "--init-repeat",
    "1",
    "--warm-events",
    "3",
    "--deploy-things",
    "2",
    "--fleet-things",
    "2",
    "--nested-stacks",
    "1",
    "--cli-repeat",
    "1",
    "--rate-things",
    "2",
    "--fleet-synth-rows",
    "451",
    "--repeat",
    "1",
]
VERDICT = r"target <= [0-9.]+ (ms|MB): (met|MISSED)"
# A parent that starts a child holding 64 MB, so only a sum over the tree reaches it.
PARENT_OF_A_BIG_CHILD = textwrap.dedent(
    """
    import subprocess, sys
    child = "import sys, time; block = bytearray(64 * 1024 * 1024); print('ready', flush=True); time.sleep(30)"
    process = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    print(process.stdout.readline().strip(), flush=True)
    process.wait()
    """
)


@pytest.fixture(scope="module")
def tiny_run() -> str:
    """``python -m benchmarks`` on tiny sizes, from the repository, as ``make bench`` runs it."""
    return run([sys.executable, "-m", "benchmarks", *TINY], cwd=REPO_ROOT, timeout=600).stdout


@pytest.fixture
def process_tree(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    from benchmarks import process_tree

    yield process_tree


def test_the_warm_handler_figure_is_its_overhead_beyond_the_api_calls(tiny_run: str) -> None:
    # GIVEN the tiny run's output
    lines = tiny_run.splitlines()

    # WHEN the warm handler's block is read
    start = lines.index("warm handler, 3 Create events in one process (embedded emulator, local ResponseURL):")
    per_event, overhead, parts = lines[start + 1 : start + 4]

    # THEN the API calls are split off, the rest judged against 5 ms, and the answer's share of it shown
    assert re.search(r"per event: median [0-9.]+ ms, of which [0-9.]+ ms in 1 API call\(s\)", per_event)
    assert re.search(r"overhead beyond the API calls: median [0-9.]+ ms \(p90 [0-9.]+\); " + VERDICT, overhead)
    assert re.search(
        r"crhelper's answer on the ResponseURL median [0-9.]+ ms \(its SSL context [0-9.]+, "
        r"TCP connection and TLS handshake [0-9.]+, the PUT and the rest [0-9.]+\)",
        parts,
    )


def test_the_one_stack_deploy_prints_speed_memory_redeploy_and_destroy(tiny_run: str) -> None:
    # GIVEN the tiny run's output
    lines = tiny_run.splitlines()

    # WHEN the one-stack deploy's block is read
    start = lines.index("local deploy, 2 things in one stack (pre-synthesized, fresh state, embedded emulator):")
    deploy, rss, redeploy, diff, destroy = lines[start + 1 : start + 6]

    # THEN each figure is there, the per-thing time beside its share of the cold start measured in the same run
    assert re.search(
        r"deploy: [0-9.]+ s, [0-9.]+ things/s, [0-9.]+ ms per thing; "
        r"target <= [0-9.]+ ms \(1/10 of the [0-9]+ ms cold start\): (met|MISSED)",
        deploy,
    )
    assert re.search(r"peak RSS of all processes: [0-9]+ MB \([0-9]+ processes then, at most [0-9]+\)", rss)
    assert re.search(r"redeploy with no changes: [0-9.]+ s", redeploy)
    assert re.search(r"diff against the deployed state: [0-9.]+ s, no differences", diff)
    assert re.search(r"destroy: [0-9.]+ s, [0-9.]+ things/s", destroy)


def test_the_nested_stack_deploy_is_measured_or_said_to_be_unsupported(tiny_run: str) -> None:
    # GIVEN the tiny run's output
    lines = tiny_run.splitlines()

    # WHEN the nested-stack deploy's lines are read
    label = "local deploy, 2 things in 1 nested stacks"
    block = [line for line in lines if line.startswith(label)]

    # THEN the engine either deployed them (figures, memory against 1 GB) or says it cannot: never a fake figure
    assert len(block) == 1
    if block[0].endswith("not supported by this engine (it does not deploy AWS::CloudFormation::Stack resources)"):
        return
    rss = lines[lines.index(block[0]) + 2]
    assert re.search(r"peak RSS of all processes: .*; target <= 1000 MB: (met|MISSED)", rss)


def test_the_cli_start_up_is_timed_for_version_help_and_a_preflight_error(tiny_run: str) -> None:
    # GIVEN the tiny run's output
    lines = [line for line in tiny_run.splitlines() if line.startswith("managed-things ")]

    # THEN each of the three answers the CLI gives without deploying has its wall time beside the 300 ms target
    assert [line.split(":")[0] for line in lines] == [
        "managed-things --version",
        "managed-things --help",
        "managed-things deploy refused by a check before synth",
    ]
    for line in lines:
        assert re.search(r": median [0-9]+ ms \(min [0-9]+, max [0-9]+, n=1\); target <= 300 ms: (met|MISSED)$", line)


def test_the_deploy_at_the_api_rate_prints_things_per_second_duplicates_and_what_destroy_left(tiny_run: str) -> None:
    # GIVEN the tiny run's output
    lines = tiny_run.splitlines()

    # WHEN the block of the deploy against the embedded emulator's rate limit is read
    label = (
        "local deploy at the API's rate, a ManagedThingFleet of 2 rows, --rate-limit 50, the default --concurrency, "
        "--stack-concurrency 2, in 1 shard stack:"
    )
    start = lines.index(label)
    deploy, duplicates, rss, destroy = lines[start + 1 : start + 5]

    # THEN the rate comes from the emulator's timestamps beside 0.9 x the limit, the counts beside 0, and the
    # deploy's memory beside 1.5 GB
    assert re.search(
        r"deploy: 2 things, [0-9.]+ s from the first Create to the last \(the emulator's CreatedAt\), "
        r"[0-9.inf]+ things/s = [0-9.inf]+ x the rate limit \(all within the emulator's initial burst\); "
        r"target >= 0.9: (met|MISSED) \(command: [0-9.]+ s\)",
        deploy,
    )
    assert duplicates == "  duplicates: 0; target 0: met"
    assert re.search(
        r"peak RSS of all processes during the deploy: [0-9]+ MB \([0-9]+ processes then, at most [0-9]+\); "
        r"target <= 1500 MB: (met|MISSED)$",
        rss,
    )
    assert re.search(r"destroy: 0 things left; target 0: met \(command: [0-9.]+ s\)", destroy)


def test_the_fleet_synth_compares_the_fleet_with_raw_resources_in_the_same_shard_stacks(tiny_run: str) -> None:
    # GIVEN the tiny run's output
    lines = tiny_run.splitlines()

    # WHEN the fleet synth's block is read
    start = next(i for i, line in enumerate(lines) if line.startswith("fleet synth of 451 rows"))
    timing, rss = lines[start : start + 2]

    # THEN both synths were taken over two shard stacks (450 things and 1; a raw side whose templates differ from
    # the fleet's fails the run instead), the time ratio and both peak RSS figures beside their targets
    assert re.search(
        r"fleet synth of 451 rows in 2 shard stacks \(whole process, n=1\): ManagedThingFleet median [0-9.]+ s, "
        r"raw CfnResources in the same shard stacks median [0-9.]+ s, ratio [0-9.]+; target <= 1.20: (met|MISSED)$",
        timing,
    )
    assert re.search(
        r"peak RSS \(Python \+ Node.js\): ManagedThingFleet [0-9]+ MB, raw [0-9]+ MB, ratio [0-9.]+; "
        r"target <= 1.20: (met|MISSED)$",
        rss,
    )


def test_an_unknown_group_is_refused_in_one_line() -> None:
    # GIVEN / WHEN the benchmarks are asked for a group that does not exist
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "deploy,speed"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    # THEN argparse refuses it, naming the groups there are, without a traceback
    assert result.returncode == 2
    assert "expected groups of asset, init, synth, warm, deploy, nested" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_time_with_no_shard_stack_creating_things_is_what_no_stack_span_covers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the spans (first Create, last Create, things) of stacks deployed one after another, and side by side
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    from benchmarks.fleet_rate import _covered_seconds

    one_after_another = [(10.0, 19.0, 450), (0.0, 9.0, 450), (20.5, 21.0, 100)]
    side_by_side = [(0.0, 9.0, 450), (1.0, 10.0, 450), (2.0, 5.0, 100), (12.0, 13.0, 10)]

    # WHEN the seconds covered by at least one span are summed
    # THEN gaps between stacks are left out, and overlapping spans count once
    assert _covered_seconds(one_after_another) == pytest.approx(18.5)
    assert _covered_seconds(side_by_side) == pytest.approx(11.0)


def test_peak_rss_sums_the_whole_process_tree(process_tree: ModuleType) -> None:
    # GIVEN a process whose child holds 64 MB
    parent = subprocess.Popen([sys.executable, "-c", PARENT_OF_A_BIG_CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"

        # WHEN the tree is sampled
        sampler = process_tree.PeakRss(parent.pid)
        sampler.sample()
    finally:
        for process in [*psutil.Process(parent.pid).children(recursive=True), psutil.Process(parent.pid)]:
            process.kill()
        parent.wait()

    # THEN both processes are counted, and the child's block with them
    assert sampler.processes_at_peak == 2
    assert sampler.peak_bytes >= 64 * 1024 * 1024
