"""Print the performance budget's figures, each beside its target with a verdict.

  asset   Lambda asset <= 1.2 MB zipped
  init    handler cold init (fresh process: import, crhelper set-up, client) <= 250 ms
  synth   synth of N ManagedThings <= 1.2 x synth of N raw CfnResources with the same values
  warm    the handler's warm per-event overhead beyond its API calls <= 5 ms
  deploy  local deploy of a pre-synthesized stack of 494 things: per-thing wall time <= 1/10 of the cold init;
          then a redeploy with no changes and a destroy
  nested  the same for 2,000 things in 5 nested stacks, and peak RSS of all processes <= 1 GB
  fleet-synth  synth of 2,000 and of 10,000 rows through ManagedThingFleet (placed from scratch) <= 1.2 x the
          same raw Custom::ManagedThing CfnResources in the same shard stacks, each with the library's provider
          (whole process; both sides' templates must be identical); peak RSS of both
  cli     managed-things --version, --help and a preflight error: wall time of a fresh process <= 300 ms each
  fleet-rate  local deploy of a 10,000-row ManagedThingFleet (23 shard stacks, a provider each) against the
          embedded emulator's --rate-limit 50: things/s (the emulator's timestamps) >= 0.9 x 50, 0 duplicates,
          0 things left after destroy, peak RSS of all the deploy's processes <= 1.5 GB

A stack holds at most 494 things: CloudFormation allows 500 resources per stack (CDK checks it at synth),
and the provider takes 5 of them in every stack, nested ones included, and CDK's version metadata 1. A
ManagedThingFleet puts 450 in each of its shard stacks (its default things_per_stack).

Timings are medians where repeated; run on an otherwise idle machine. The cold init is measured whenever a
deploy figure is, since its target is a share of it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from . import cli_startup, fleet_rate, fleet_synth, local_deploy, static_figures, warm_handler
from .report import LIBRARY_PATH, SYNTH_ENV, BenchmarkError

# CloudFormation's 500 resources per stack, less the provider's 5 (function, role, policy, log group, invoke config).
THINGS_PER_STACK = 494
GROUPS = ("asset", "init", "synth", "warm", "deploy", "nested", "fleet-synth", "cli", "fleet-rate")
# --quick: the same figures on small sizes, for a check that everything runs (not for the targets' verdicts).
QUICK = {
    "things": 50,
    "repeat": 1,
    "init_repeat": 3,
    "warm_events": 20,
    "deploy_things": 20,
    "fleet_things": 40,
    "nested_stacks": 2,
    "cli_repeat": 3,
    "rate_things": 40,
    "fleet_synth_rows": fleet_synth.QUICK_ROWS,
    "rate_stack_concurrency": 2,
}
DEFAULTS = {
    "things": 450,
    "repeat": 3,
    "init_repeat": 9,
    "warm_events": 200,
    "deploy_things": 494,
    "fleet_things": 2000,
    "nested_stacks": 5,
    "cli_repeat": 9,
    "rate_things": 10_000,
    "fleet_synth_rows": fleet_synth.ROWS,
    "rate_stack_concurrency": 2,
}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        metavar="GROUP[,GROUP]",
        type=_groups,
        default=GROUPS,
        help=f"the figure groups to print, comma-separated, of {', '.join(GROUPS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes everywhere, to check that it all runs")
    parser.add_argument("--things", type=int, metavar="N", help="ManagedThings in the synth benchmark (450)")
    parser.add_argument("--repeat", type=int, metavar="N", help="fresh processes per synth measurement (3)")
    parser.add_argument("--init-repeat", type=int, metavar="N", help="fresh processes per cold-init measurement (9)")
    parser.add_argument("--warm-events", type=int, metavar="N", help="Create events in the warm benchmark (200)")
    parser.add_argument("--deploy-things", type=int, metavar="N", help="things in the one-stack deploy (494)")
    parser.add_argument("--fleet-things", type=int, metavar="N", help="things in the nested-stack deploy (2000)")
    parser.add_argument("--nested-stacks", type=int, metavar="N", help="nested stacks the fleet is spread over (5)")
    parser.add_argument("--cli-repeat", type=int, metavar="N", help="fresh processes per CLI start-up figure (9)")
    parser.add_argument(
        "--fleet-synth-rows",
        type=_sizes,
        metavar="N[,N]",
        help="rows of each fleet synth comparison, comma-separated (2000,10000)",
    )
    parser.add_argument("--rate-things", type=int, metavar="N", help="things in the deploy at the API's rate (10000)")
    parser.add_argument(
        "--rate-concurrency", type=int, metavar="N", help="--concurrency of that deploy (default: the CLI's)"
    )
    parser.add_argument(
        "--rate-stack-concurrency",
        type=int,
        metavar="N",
        help="--stack-concurrency of that deploy: shard stacks side by side, so that one stack's start (a new "
        "provider, cold environments) overlaps another's creates (default: 2)",
    )
    args = parser.parse_args(argv)
    for name, default in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, default)
        value = getattr(args, name)
        if (min(value, default=0) if isinstance(value, tuple) else value) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.deploy_things > THINGS_PER_STACK:
        parser.error(f"--deploy-things: one stack holds at most {THINGS_PER_STACK} things (500 resources)")
    if -(-args.fleet_things // args.nested_stacks) > THINGS_PER_STACK:
        parser.error(f"--fleet-things: at most {THINGS_PER_STACK} things per nested stack; add --nested-stacks")
    return args


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(size) for size in text.split(",") if size.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None


def _groups(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(g.strip() for g in text.split(",") if g.strip()))
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"expected groups of {', '.join(GROUPS)}, got {text!r}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    groups = set(args.only)
    sys.path[:0] = [str(p) for p in LIBRARY_PATH]
    for name, value in SYNTH_ENV.items():  # this process builds the asset through jsii too
        os.environ.setdefault(name, value)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            asset_dir = static_figures.build_asset(Path(workdir) / "asset")
            if "asset" in groups:
                static_figures.print_asset_size(asset_dir)
            cold_start = 0.0
            if groups & {"init", "deploy", "nested"}:
                cold_start = static_figures.measure_cold_init(asset_dir, args.init_repeat)
            if "synth" in groups:
                static_figures.print_synth_ratio(args.things, args.repeat)
            if "warm" in groups:
                warm_handler.measure(asset_dir, args.warm_events)
        if "deploy" in groups:
            local_deploy.measure(local_deploy.Fleet(args.deploy_things), cold_start)
        if "nested" in groups:
            fleet = local_deploy.Fleet(args.fleet_things, args.nested_stacks)
            local_deploy.measure(fleet, cold_start, rss_target=local_deploy.FLEET_PEAK_RSS_TARGET)
        if "fleet-synth" in groups:
            fleet_synth.measure(args.fleet_synth_rows, repeat=args.repeat)
        if "cli" in groups:
            cli_startup.measure(args.cli_repeat)
        if "fleet-rate" in groups:
            run = fleet_rate.RateRun(
                args.rate_things, concurrency=args.rate_concurrency, stack_concurrency=args.rate_stack_concurrency
            )
            fleet_rate.measure(run)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
