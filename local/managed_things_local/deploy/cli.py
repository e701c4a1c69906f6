"""``managed-things deploy`` and ``managed-things destroy``."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    for name in ("deploy", "destroy"):
        parser: argparse.ArgumentParser = commands.add_parser(name, help=f"{name} a CDK app's managed things locally")
        parser.add_argument("stacks", nargs="*", metavar="STACK")
        parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("local deploy is being written")
