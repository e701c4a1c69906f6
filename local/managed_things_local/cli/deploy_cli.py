"""``managed-things deploy`` and ``managed-things destroy``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only what parsing the command line and the checks before synth need: the engine and what it runs
# (botocore, trustme, the emulator) are imported once those pass, so that a mistake is told at once.
from ..arguments import positive_number
from ..engine.interrupts import EXIT_INTERRUPTED, StopWaiting
from ..errors import DeployError
from ..lambda_runtime.pool import DEFAULT_CONCURRENCY
from ..state.state import STATE_DIR_NAME, StateStore
from . import preflight

if TYPE_CHECKING:
    from ..cloudformation.assembly import CloudAssembly
    from ..engine.session import DestroyPlan
    from .progress import Progress, StackReport


STOPPED_WAITING = {
    "deploy": "Stopped without waiting for what was in progress (Ctrl-C twice): run `managed-things deploy` again "
    "to finish, or `managed-things destroy` to delete what was deployed",
    "destroy": "Stopped without waiting for what was in progress (Ctrl-C twice): run `managed-things destroy` again "
    "to finish",
    "rollback": "Stopped without waiting for what was in progress (Ctrl-C twice): run `managed-things rollback` "
    "again to finish",
}

DESCRIPTIONS = {
    "deploy": "Synthesize a CDK app and deploy its Custom::ManagedThing resources locally: the provider's own "
    "code runs like Lambda would, with CloudFormation's events, against the Managed Integrations emulator. "
    "Secrets Manager secrets go to a local Secrets Manager; other resources are listed, not deployed.",
    "destroy": "Delete the locally deployed Custom::ManagedThing resources of a CDK app's stacks "
    "(DeletionPolicy Retain is honoured).",
    "rollback": "Continue the rollback of stacks left in UPDATE_ROLLBACK_FAILED, like `cdk rollback` "
    "(CloudFormation's ContinueUpdateRollback): the rollback operations that failed are sent again; the stack ends "
    "in UPDATE_ROLLBACK_COMPLETE, or UPDATE_ROLLBACK_FAILED again.",
}
HELP = {
    "deploy": "deploy a CDK app's managed things locally",
    "destroy": "destroy a CDK app's managed things locally",
    "rollback": "continue the rollback of stacks in UPDATE_ROLLBACK_FAILED",
}


def register_diff(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "diff",
        help="what a local deploy would do to each managed thing",
        description="Compare a CDK app's managed things with what is deployed locally: create, update in place "
        "(naming the members), replace (and why), delete, as the provider would plan it. Values are never shown.",
    )
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="stacks by name or glob (default: all)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--app", "-a", help='the command that runs the CDK app (default: cdk.json\'s "app")')
    source.add_argument("--cdk-out", metavar="DIR", help="use this synthesized cloud assembly instead")
    parser.add_argument(
        "--output", "-o", metavar="DIR", help='where the app synthesizes (default: cdk.json\'s "output" or cdk.out)'
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.set_defaults(run=run_diff)


def run_diff(args: argparse.Namespace) -> int:
    from ..engine.diff import diff, diff_lines

    try:
        assembly = load_assembly(preflight.assembly_source(args, Path.cwd()))
        diffs = diff(assembly, StateStore(assembly.directory.parent / STATE_DIR_NAME), args.stacks)
    except DeployError as error:
        sys.stderr.write(f"\n ❌  {error}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps({"command": "diff", "stacks": [d.to_json() for d in diffs]}, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(diff_lines(diffs)) + "\n")
    return 0


def register(commands: Any) -> None:
    for name in ("deploy", "destroy", "rollback"):
        parser: argparse.ArgumentParser = commands.add_parser(name, help=HELP[name], description=DESCRIPTIONS[name])
        parser.add_argument(
            "stacks", nargs="*", metavar="STACK", help="stacks by name or glob (default: all stacks of the app)"
        )
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--app", "-a", help='the command that runs the CDK app (default: cdk.json\'s "app")')
        source.add_argument("--cdk-out", metavar="DIR", help="use this synthesized cloud assembly instead")
        parser.add_argument(
            "--output", "-o", metavar="DIR", help='where the app synthesizes (default: cdk.json\'s "output" or cdk.out)'
        )
        parser.add_argument(
            "--endpoint-url",
            metavar="URL",
            help="the URL of a running Managed Integrations emulator (default: an embedded one whose things persist in "
            f"{STATE_DIR_NAME}/emulator.sqlite beside the cloud assembly)",
        )
        parser.add_argument(
            "--allow-endpoint-change",
            action="store_true",
            help="run even when a stack's things were deployed against another endpoint (they may not exist there)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        parser.add_argument(
            "--verbose",
            "-v",
            action="store_true",
            help="one line per resource event (no progress bar) and the full list of what is not deployed locally",
        )
        parser.add_argument(
            "--cold",
            action="store_true",
            help="start a fresh execution environment for every event (tests the provider's init path); "
            "by default an environment serves later events of its function, as on Lambda",
        )
        # Two meanings of "concurrency". Ours, of old: execution environments, one pool for every stack, as Lambda's
        # unreserved concurrency is shared by every function of the account and Region
        # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). The CDK CLI's: "Maximum
        # number of simultaneous deployments (dependency permitting)", default 1, for deploy and destroy alike
        # (https://github.com/aws/aws-cdk-cli/blob/main/packages/aws-cdk/lib/cli/cli-config.ts), here
        # --stack-concurrency.
        parser.add_argument(
            "--concurrency",
            type=positive_int,
            default=DEFAULT_CONCURRENCY,
            metavar="N",
            help="execution environments run at once (provider invocations), one pool for every stack in progress "
            "as Lambda's concurrency is; each stack also starts at most N resources at once "
            f"(default: twice the CPU count, at most 16: {DEFAULT_CONCURRENCY} here)",
        )
        parser.add_argument(
            "--stack-concurrency",
            type=positive_int,
            default=1,
            metavar="N",
            help=argparse.SUPPRESS  # rollback: one stack at a time, as cdk rollback
            if name == "rollback"
            else f"stacks {name}ed at once, dependency permitting: what `cdk {name} --concurrency N` means; a failed "
            "stack starts no other and those in progress finish (default: 1, one after another, as cdk does)",
        )
        parser.add_argument(
            "--rate-limit",
            type=positive_number,
            metavar="R",
            help="the embedded emulator answers ThrottlingException (429) beyond R requests a second, as the service "
            "does beyond its quota (a token bucket holding one second's worth), so the provider's retries pace the "
            "deploy; with --endpoint-url, start that emulator with --rate-limit instead (default: no limit)",
        )
        if name == "destroy":
            parser.add_argument(
                "--force",
                "-f",
                action="store_true",
                help="do not ask before destroying stacks that depend on the named",
            )
            parser.add_argument(
                "--exclusively",
                "-e",
                action="store_true",
                help="only the named stacks, not the stacks that depend on them (an export in use then fails)",
            )
        if name == "destroy":
            parser.add_argument(
                "--retain-resources",
                nargs="+",
                action="extend",
                default=[],
                metavar="LOGICAL_ID",
                help="of a stack in DELETE_FAILED: keep these resources instead of deleting them (no longer managed), "
                "as `aws cloudformation delete-stack --retain-resources` does",
            )
        if name == "rollback":
            parser.add_argument(
                "--orphan",
                action="append",
                default=[],
                metavar="LOGICAL_ID",
                help="skip this resource's failed rollback, leaving it as it is (repeatable; ContinueUpdateRollback's "
                "ResourcesToSkip)",
            )
            parser.add_argument(
                "--force", "-f", action="store_true", help="orphan all resources for which the rollback operation fails"
            )
        if name == "deploy":
            parser.add_argument(
                "--parameters",
                action="append",
                default=[],
                metavar="[STACK:]NAME=VALUE",
                help="a CloudFormation parameter value (repeatable)",
            )
        parser.set_defaults(run=run)
    register_diff(commands)


def run(args: argparse.Namespace) -> int:
    from .progress import Progress, json_document, print_summary

    command = args.command
    started = time.monotonic()
    # A progress bar on a terminal; one line per resource event otherwise, or with --verbose or --json.
    progress = Progress(sys.stderr, bar=sys.stderr.isatty() and not args.verbose and not args.json)
    reports: list[StackReport] = []
    error = ""
    interrupted = False
    extra: dict[str, Any] = {}
    try:
        if command == "rollback":
            preflight.check_rollback_options(args)
        source = preflight.check(args, Path.cwd())
        reports, interrupted = run_engine(args, source, progress, extra)
    except DeployError as caught:
        error = str(caught)
    except StopWaiting:
        interrupted, error = True, STOPPED_WAITING[command]
    except KeyboardInterrupt:
        interrupted, error = True, "Interrupted by the user"
    finally:
        progress.close()
    failed = bool(error) or any(r.failed for r in reports)
    if args.json:
        sys.stdout.write(json_document(reports, command, error, extra) + "\n")
        sys.stdout.flush()
    else:
        # A refusal before anything ran is its error line alone, as cdk deploy's
        print_summary(reports, command, sys.stdout, None if error and not reports else time.monotonic() - started)
    if error:
        progress.line(f"\n ❌  {error}")
    if interrupted:
        return EXIT_INTERRUPTED  # after the rollback, like a shell reports a command ended by Ctrl-C
    return 1 if failed else 0


def run_engine(
    args: argparse.Namespace, source: preflight.AssemblySource, progress: Progress, extra: dict[str, Any]
) -> tuple[list[StackReport], bool]:
    """Synthesize, then deploy, destroy or roll back in a Session: (each stack's report, whether Ctrl-C
    interrupted it)."""
    from ..cloudformation.annotations import report as report_annotations
    from ..emulator.server import EmulatorOptions
    from ..engine.session import Session, SessionOptions

    command = args.command
    assembly = load_assembly(source)
    options = SessionOptions(
        concurrency=args.concurrency,
        stack_concurrency=args.stack_concurrency,
        cold=args.cold,
        endpoint_url=args.endpoint_url,
        emulator=EmulatorOptions(rate_limit=args.rate_limit),
        allow_endpoint_change=args.allow_endpoint_change,
        verbose=args.verbose,
        parameters=parse_parameters(getattr(args, "parameters", []), assembly),
    )
    session = Session(source.directory, options, listeners=[progress], lines=progress.line)
    if command == "deploy":
        report_annotations((a for s in assembly.select(args.stacks) for a in s.annotations), sys.stderr)
        # Before anything starts (the state directory, the emulator): a refused deploy leaves nothing behind.
        session.check_deploy(args.stacks)
    extra["stateDirectory"] = str(session.store.directory)
    with session:
        extra["endpointUrl"] = session.endpoint_url
        if command == "deploy":
            result = session.deploy(args.stacks)
        elif command == "rollback":
            result = session.rollback(args.stacks, orphan=args.orphan, force=args.force)
        else:
            result = session.destroy(
                args.stacks,
                with_dependents=not args.exclusively,
                retain_resources=args.retain_resources,
                confirm=lambda plan: destroy_confirmed(plan, args, progress),
            )
        if result.not_started:
            extra["notStarted"] = result.not_started
        if session.refused_hosts:  # hosts no endpoint rule gives, or of a service absent from the region
            extra["refusedHosts"] = session.refused_hosts
            hosts = ", ".join(session.refused_hosts)
            progress.line(f"Refused hosts (no endpoint rule of a service in the region gives them): {hosts}")
        return result.reports, result.interrupted


def destroy_confirmed(plan: DestroyPlan, args: argparse.Namespace, progress: Progress) -> bool:
    """Show the plan; then whether to destroy it (asked only when it takes stacks that were not named)."""
    if not plan.order:
        progress.line("nothing to destroy")
    for line in plan.lines:
        progress.line(line)
    if plan.order and (not args.stacks or args.force or not plan.dependents or confirmed(plan.order, plan.named)):
        return True
    if plan.order:
        progress.line("Nothing destroyed")
    return False


def load_assembly(source: preflight.AssemblySource) -> CloudAssembly:
    """The cloud assembly: read as it is, or synthesized first by running the app like the CDK CLI."""
    from ..cloudformation.assembly import read_assembly
    from ..engine.synthesis import synthesize

    if source.app is not None:
        synthesize(source.app, source.directory, Path.cwd())
    return read_assembly(source.directory)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is less than 1")
    return value


def confirmed(order: list[str], named: list[str]) -> bool:
    """Ask, like ``cdk destroy``, before destroying stacks the user did not name; refuse where nobody can answer."""
    if sys.stdin is None or not sys.stdin.isatty():
        others = ", ".join(n for n in order if n not in named)
        raise DeployError(
            f"Destroying {', '.join(named)} also destroys {others}, which depend{'s' if ',' not in others else ''} "
            "on it, and there is no terminal to confirm: pass --force to destroy them all, or --exclusively to "
            "destroy only the named stacks"
        )
    sys.stderr.write(f"Are you sure you want to delete: {', '.join(order)} (y/n)? ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def parse_parameters(values: list[str], assembly: CloudAssembly) -> dict[str, dict[str, str]]:
    """``[STACK:]NAME=VALUE`` -> stack name -> {name: value}; without a stack, for every stack."""
    parsed: dict[str, dict[str, str]] = {}
    for item in values:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise DeployError(f"--parameters {item}: expected [STACK:]NAME=VALUE")
        stack, _, name = key.rpartition(":")
        targets = [stack] if stack else [s.stack_name for s in assembly.stacks]
        for target in targets:
            parsed.setdefault(target, {})[name] = value
    return parsed
