"""``managed-things``: the local engine's command line.

Every failure ends in one line on stderr: the commands report their own errors;
anything unexpected is reported here as ``managed-things: error: ...`` with the
traceback written to a file, and Ctrl-C exits with 130 like a shell does.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from ..engine.interrupts import EXIT_INTERRUPTED

__all__ = ["EXIT_INTERRUPTED", "build_parser", "main"]

DISTRIBUTION = "cdk-managed-things"

# Each command: the module whose ``register`` adds it (with the other commands of that module), and its line in
# ``--help``. Only the command being run is imported (the deploy engine, botocore, ... take a second or two):
# ``--version``, ``--help`` and the checks before a deploy answer at once.
COMMANDS = {
    "emulator": ("managed_things_local.emulator.cli", "serve the Managed Integrations emulator"),
    "deploy": ("managed_things_local.cli.deploy_cli", "deploy a CDK app's managed things locally"),
    "destroy": ("managed_things_local.cli.deploy_cli", "destroy a CDK app's managed things locally"),
    "rollback": ("managed_things_local.cli.deploy_cli", "continue the rollback of stacks in UPDATE_ROLLBACK_FAILED"),
    "diff": ("managed_things_local.cli.deploy_cli", "what a local deploy would do to each managed thing"),
    "secret": ("managed_things_local.cli.secret_cli", "put or list the local engine's Secrets Manager secrets"),
    "things": ("managed_things_local.cli.things_cli", "list managed things (fleets' by key) with their Id and ARN"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line; given ``argv``, only the command it names is built in full (the others: name and help)."""
    parser = argparse.ArgumentParser(
        prog="managed-things",
        description="Run AWS IoT Managed Integrations managed things locally: an emulator, and a local deploy "
        "of a CDK app's Custom::ManagedThing resources through the very provider code Lambda runs.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    wanted = {module for name, (module, _) in COMMANDS.items() if argv is None or name == named}
    for name, (module, help_text) in COMMANDS.items():
        if module not in wanted:
            commands.add_parser(name, help=help_text)
        elif name not in commands.choices:
            importlib.import_module(module).register(commands)
    return parser


class _Version(argparse.Action):
    """``--version``: the distribution's version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        sys.stdout.write(f"{parser.prog} {distribution_version()}\n")
        parser.exit()


def distribution_version() -> str:
    """The installed distribution's version (``unknown`` when run from a source tree that is not installed)."""
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(arguments).parse_args(arguments)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("managed-things: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the last resort: one line instead of a traceback
        print(f"managed-things: error: {describe(error)} (details: {write_details(error)})", file=sys.stderr)
        return 1


def describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def write_details(error: BaseException) -> str:
    """Write the traceback to a new file and return its path (or why there is none)."""
    import tempfile
    import traceback

    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="managed-things-error-", suffix=".log", delete=False, encoding="utf-8"
        ) as details:
            details.write("".join(traceback.format_exception(error)))
    except OSError as failure:
        return f"none written: {failure.strerror or failure}"
    return details.name


if __name__ == "__main__":
    sys.exit(main())
