"""``managed-things``: the local engine's command line.

Every failure ends in one line on stderr: the commands report their own errors;
anything unexpected is reported here as ``managed-things: error: ...`` with the
traceback written to a file, and Ctrl-C exits with 130 like a shell does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from collections.abc import Sequence
from importlib import metadata

from .deploy import cli as deploy_cli
from .emulator import cli as emulator_cli

DISTRIBUTION = "cdk-managed-things"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="managed-things",
        description="Run AWS IoT Managed Integrations managed things locally: an emulator, and a local deploy "
        "of a CDK app's Custom::ManagedThing resources through the very provider code Lambda runs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {distribution_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    emulator_cli.register(commands)
    deploy_cli.register(commands)
    return parser


def distribution_version() -> str:
    """The installed distribution's version (``unknown`` when run from a source tree that is not installed)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
