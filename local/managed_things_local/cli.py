"""``managed-things``: the local engine's command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .deploy import cli as deploy_cli
from .emulator import cli as emulator_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="managed-things",
        description="Run AWS IoT Managed Integrations managed things locally: an emulator, and a local deploy "
        "of a CDK app's Custom::ManagedThing resources through the provider Lambda would run.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    emulator_cli.register(commands)
    deploy_cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
