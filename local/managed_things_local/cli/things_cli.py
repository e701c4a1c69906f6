"""``managed-things things``: the managed things of the cloud assembly, with the Id and ARN the local deploy recorded.

Fleet things come from the things manifests a synth wrote into the cloud assembly (``things_manifest.py``: each
key's stack, logical id and label), standalone ``Custom::ManagedThing``s from the templates (named by construct
path); then each one's Id and ARN from the local state of its stack: the lookup a tool makes on AWS with
``describe-stack-resource``. Nothing is synthesized or deployed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..cloudformation.assembly import CloudAssembly, read_assembly
from ..cloudformation.records import StackState
from ..cloudformation.templates import MANAGED_THING, resource_name
from ..cloudformation.things_manifest import ThingsManifest, read_things_manifests
from ..errors import DeployError
from ..state.state import STATE_DIR_NAME, StateStore

NOT_DEPLOYED = "-"


@dataclass(frozen=True)
class ListedThing:
    stack: str  # the name of the stack that holds it
    fleet: str | None  # the fleet's construct path; None for a standalone ManagedThing
    key: str | None  # its key in the fleet (may be a sensitive member's value: text output shows the label)
    label: str  # a fleet thing's label from its manifest, a standalone thing's construct path
    logical_id: str
    id: str
    arn: str


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "things",
        help="list managed things (fleets' by key) with their Id and ARN",
        description="List the managed things of the cloud assembly with the Id and ARN the local deploy recorded "
        "for each: every ManagedThingFleet's things (from the things manifests written at synth) by label, and "
        "by key in --json, and standalone ManagedThings by construct path. Nothing is synthesized: run deploy "
        "(or cdk synth) first.",
    )
    parser.add_argument(
        "stacks",
        nargs="*",
        metavar="STACK",
        help="only the things of these stacks, by name or glob; a fleet's stack selects its fleet's things too "
        "(default: every stack)",
    )
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
        print("no managed things")
    else:
        for thing in things:
            print(f"{thing.stack} | {thing.fleet or NOT_DEPLOYED} | {thing.label} | {thing.id} | {thing.arn}")
    return 0


def list_things(cdk_out: Path, store: StateStore, patterns: list[str]) -> list[ListedThing]:
    """The managed things of the assembly in ``cdk_out`` (of the stacks ``patterns`` select, when given): standalone
    ones by stack, then each fleet's, with their recorded Id and ARN."""
    if not cdk_out.is_dir():
        raise DeployError(f"no cloud assembly at {cdk_out}: synthesize or deploy the app first")
    assembly = read_assembly(cdk_out)
    selected = {s.stack_name for s in assembly.select(patterns)} if patterns else None
    states: dict[str, StackState | None] = {}

    def listed(stack: str, fleet: str | None, key: str | None, label: str, logical_id: str) -> ListedThing:
        if stack not in states:
            states[stack] = store.load(stack)
        state = states[stack]
        resource = state.resources.get(logical_id) if state else None
        return ListedThing(
            stack=stack,
            fleet=fleet,
            key=key,
            label=label,
            logical_id=logical_id,
            id=resource.physical_id if resource else NOT_DEPLOYED,
            arn=str(resource.data.get("Arn", NOT_DEPLOYED)) if resource else NOT_DEPLOYED,
        )

    found = []
    for stack in assembly.stacks:
        if selected is None or stack.stack_name in selected:
            found += [
                listed(stack.stack_name, None, None, resource_name(stack, logical_id), logical_id)
                for logical_id in _standalone_things(stack.template, stack.labels)
            ]
    for manifest in _manifests(assembly):
        found += [
            listed(thing.stack_name, manifest.fleet, thing.key, thing.label, thing.logical_id)
            for thing in manifest.things
            if selected is None or thing.stack_name in selected or manifest.stack_name in selected
        ]
    return found


def _standalone_things(template: Mapping[str, Any], fleet_things: Mapping[str, str]) -> Iterator[str]:
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") == MANAGED_THING and logical_id not in fleet_things:
            yield logical_id


def _manifests(assembly: CloudAssembly) -> Iterator[ThingsManifest]:
    """The things manifests of the assembly and of its nested assemblies (stages)."""
    for directory in dict.fromkeys(s.assembly_dir for s in assembly.stacks):
        yield from read_things_manifests(directory)
