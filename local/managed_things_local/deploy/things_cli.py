"""``managed-things things``: a fleet's things by key, with the Id and ARN the local deploy recorded.

Reads the things manifests a synth wrote into the cloud assembly (``<stack>.<fleet>.things.json``: each key's
nested stack and logical id) and the local state (the nested stack's name, then the thing's Id and ARN): the
same two lookups a tool makes on AWS with ``describe-stack-resource``. Nothing is synthesized or deployed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from managed_things_model.contract import THINGS_MANIFEST_SUFFIX

from .errors import DeployError
from .records import StackState
from .state import STATE_DIR_NAME, StateStore

NOT_DEPLOYED = "-"


@dataclass(frozen=True)
class ListedThing:
    stack: str
    fleet: str
    key: str
    nested_stack: str  # its name, once deployed
    logical_id: str
    id: str
    arn: str


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "things",
        help="list fleets' things by key, with their Id and ARN",
        description="List the things of every ManagedThingFleet in the cloud assembly (from the things manifests "
        "written at synth) with the Id and ARN the local deploy recorded for each. Nothing is synthesized: run "
        "deploy (or cdk synth) first.",
    )
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="only these stacks (default: every stack)")
    parser.add_argument("--cdk-out", metavar="DIR", default="cdk.out", help="the cloud assembly (default: cdk.out)")
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        default=STATE_DIR_NAME,
        help=f"the local engine's state directory, beside the cloud assembly (default: {STATE_DIR_NAME})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        things = list_things(Path(args.cdk_out), StateStore(Path(args.state_dir)), args.stacks)
    except DeployError as error:
        print(f"managed-things things: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"things": [asdict(thing) for thing in things]}, indent=1))
    elif not things:
        print("no fleet things")
    else:
        for thing in things:
            print(f"{thing.stack} | {thing.fleet} | {thing.key} | {thing.id} | {thing.arn}")
    return 0


def list_things(cdk_out: Path, store: StateStore, stacks: list[str]) -> list[ListedThing]:
    """Every fleet thing of the manifests in ``cdk_out`` (of ``stacks``, when given), with its recorded Id and ARN."""
    if not cdk_out.is_dir():
        raise DeployError(f"no cloud assembly at {cdk_out}: synthesize or deploy the app first")
    found = []
    for path in sorted(cdk_out.glob(f"*{THINGS_MANIFEST_SUFFIX}")):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            stack_name, fleet, entries = manifest["stackName"], manifest["fleet"], manifest["things"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DeployError(f"the things manifest {path} is unreadable ({type(error).__name__})") from None
        if stacks and stack_name not in stacks and manifest.get("stack") not in stacks:
            continue
        parent = store.load(stack_name)
        nested_states: dict[str, StackState | None] = {}
        for key, entry in entries.items():
            nested_name = _nested_stack_name(parent, entry["nestedStackLogicalId"])
            if nested_name and nested_name not in nested_states:
                nested_states[nested_name] = store.load(nested_name)
            nested = nested_states.get(nested_name) if nested_name else None
            resource = nested.resources.get(entry["logicalId"]) if nested else None
            found.append(
                ListedThing(
                    stack=stack_name,
                    fleet=fleet,
                    key=key,
                    nested_stack=nested_name or NOT_DEPLOYED,
                    logical_id=entry["logicalId"],
                    id=resource.physical_id if resource else NOT_DEPLOYED,
                    arn=str(resource.data.get("Arn", NOT_DEPLOYED)) if resource else NOT_DEPLOYED,
                )
            )
    return found


def _nested_stack_name(parent: StackState | None, logical_id: str) -> str:
    resource = parent.resources.get(logical_id) if parent else None
    return str(resource.data.get("StackName", "")) if resource else ""
