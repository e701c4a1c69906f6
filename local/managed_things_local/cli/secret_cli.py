"""``managed-things secret put|list``: the values of secrets a stack imports, in the local Secrets Manager.

A stack that imports a secret (``Secret.from_secret_name_v2``, ``from_secret_complete_arn``, ...)
reads a value nobody deploys: ``secret put NAME`` (or the complete ARN) stores one, read from standard
input or, on a terminal, from a prompt that does not echo; never from the command line, never printed.
``secret list`` shows names and ARNs only. Values live in ``secrets.json`` of the state directory (mode
0600, plain text: local development only).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from ..environment import resolve_region
from ..errors import DeployError
from ..state.state import STATE_DIR_NAME, StateStore


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "secret",
        help="put or list the local engine's Secrets Manager secrets",
        description="The local engine's Secrets Manager: put the value of a secret a stack imports, or list the "
        "secrets (names and ARNs, never values). Values are kept in plain text in the state directory: for local "
        "development only.",
    )
    actions = parser.add_subparsers(dest="secret_action", required=True, metavar="ACTION")
    put = actions.add_parser(
        "put",
        help="create or update a secret, its value read from standard input or a prompt (never an argument)",
        description="Create or update a secret of the local Secrets Manager. The value is read from standard "
        "input (one trailing newline dropped) or, on a terminal, from a prompt that does not echo; it is never "
        "printed. NAME is the secret's name (for Secret.from_secret_name_v2 and partial ARNs), or its complete "
        "ARN (for Secret.from_secret_complete_arn: the secret is made with that ARN).",
    )
    put.add_argument("name", metavar="NAME|ARN")
    put.add_argument("--region", help="the secret's region (default: the configured one, else eu-west-1)")
    listing = actions.add_parser("list", help="the secrets: names, regions and ARNs (never values)")
    listing.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    for action in (put, listing):
        action.add_argument(
            "--state-dir",
            metavar="DIR",
            default=STATE_DIR_NAME,
            help=f"the local engine's state directory, beside the cloud assembly (default: {STATE_DIR_NAME})",
        )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.secret_action == "put":
            line = put(args)
        else:
            line = listed(args)
    except DeployError as error:
        print(f"managed-things secret {args.secret_action}: {error}", file=sys.stderr)
        return 1
    if line:
        print(line)
    return 0


def put(args: argparse.Namespace) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from ..services.secrets import MOTO_ACCOUNT, SecretsServer, SecretVault, parse_secret_arn

    arn = ""
    name = args.name
    region = resolve_region(args.region)
    if name.startswith("arn:"):
        region, account, name = parse_secret_arn(name)
        if account != MOTO_ACCOUNT:
            raise DeployError(f"the local Secrets Manager serves account {MOTO_ACCOUNT} only, not {account}")
        arn = args.name
    value = read_value(args.name)
    store = StateStore(Path(args.state_dir))
    try:
        with store.locked(), SecretsServer(SecretVault(store.directory)) as server:
            existing = server.find(region, arn or name)
            if existing is not None:
                server.put_value(existing.arn, value)
                return f"{existing.name} | updated | {existing.arn}"
            created = server.create(region, name, value, arn=arn)
            return f"{name} | created | {created}"
    except ClientError as error:
        details = error.response.get("Error", {})
        raise DeployError(f"{details.get('Code', 'Error')}: {details.get('Message', '')}") from None
    except (BotoCoreError, OSError) as error:
        raise DeployError(f"{type(error).__name__}: {error}") from None


def read_value(name: str) -> str:
    """The value: from a prompt without echo on a terminal, else standard input; never empty."""
    if sys.stdin is not None and sys.stdin.isatty():
        value = getpass.getpass(f"Value of {name} (not echoed): ", stream=sys.stderr)
    else:
        value = sys.stdin.read() if sys.stdin is not None else ""
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    if not value:
        raise DeployError("no value given (standard input was empty)")
    return value


def listed(args: argparse.Namespace) -> str:
    from ..services.secrets import SecretVault

    records = SecretVault(Path(args.state_dir)).records()
    if args.json:
        return json.dumps({"secrets": [r.listed for r in records]}, indent=1)
    if not records:
        return "no secrets"
    return "\n".join(f"{r.name} | {r.region} | {r.arn}" for r in records)
