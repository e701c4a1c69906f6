"""The things manifests a synth writes beside the templates: which stack holds each fleet thing, and its label.

A ``ManagedThingFleet`` writes ``<fleet stack artifact id>.<fleet path below its stack, dots>.things.json`` into
its cloud assembly directory (version 2)::

    {"version": 2, "fleet": "HomeFleet/Plugs", "stack": "HomeFleet", "stackName": "HomeFleet",
     "keyMember": "SerialNumber",
     "things": {"PLUG-0001": {"stack": "<shard stack's artifact id>", "stackName": "<shard stack's name>",
                              "logicalId": "Thing1a2b3c4d5e6f7a8b", "label": "****0001"}}}

A thing's resource is ``logicalId`` in the top-level stack ``stackName``; ``label`` is what output names it by,
computed at synth (the key, masked where the key's member is sensitive). This module is the only reader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from managed_things_model.contract import THINGS_MANIFEST_SUFFIX

from ..errors import DeployError

VERSION = 2


class OtherVersion(DeployError):
    """A things manifest of another version than this reads (written by another version of the library)."""


@dataclass(frozen=True)
class FleetThing:
    key: str  # the fleet's key of the thing (may be a sensitive member's value: show ``label`` instead)
    stack: str  # the artifact id of the stack that holds it
    stack_name: str
    logical_id: str
    label: str


@dataclass(frozen=True)
class ThingsManifest:
    path: Path
    fleet: str  # the fleet's construct path
    stack: str  # the artifact id of the fleet's own stack
    stack_name: str
    key_member: str
    things: tuple[FleetThing, ...]  # in the manifest's order


def read_things_manifests(directory: Path, *, skip_other_versions: bool = False) -> list[ThingsManifest]:
    """Every things manifest of the cloud assembly ``directory`` (not of its nested assemblies), by file name;
    without those of another version with ``skip_other_versions``."""
    manifests = []
    for path in sorted(directory.glob(f"*{THINGS_MANIFEST_SUFFIX}")):
        try:
            manifests.append(read_things_manifest(path))
        except OtherVersion:
            if not skip_other_versions:
                raise
    return manifests


def read_things_manifest(path: Path) -> ThingsManifest:
    """One things manifest; a ``DeployError`` naming the file (never a key) when it is not one this reads."""
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DeployError(f"The things manifest {path} is unreadable ({type(error).__name__})") from None
    if not isinstance(document, dict):
        raise DeployError(f"The things manifest {path} is not one a synth writes (not a JSON object)")
    version = document.get("version")
    if version != VERSION:
        raise OtherVersion(
            f"The things manifest {path} is version {version}, and this managed-things reads version {VERSION}: "
            "synthesize the app again with this version of cdk-managed-things (cdk synth, or managed-things deploy)"
        )
    try:
        things = tuple(
            FleetThing(
                key=str(key),
                stack=str(entry["stack"]),
                stack_name=str(entry["stackName"]),
                logical_id=str(entry["logicalId"]),
                label=str(entry["label"]),
            )
            for key, entry in document["things"].items()
        )
        return ThingsManifest(
            path=path,
            fleet=str(document["fleet"]),
            stack=str(document["stack"]),
            stack_name=str(document["stackName"]),
            key_member=str(document["keyMember"]),
            things=things,
        )
    except (KeyError, TypeError, AttributeError) as error:
        # the missing member's name, never the key it belongs to (a key may be a serial number)
        missing = f"no {error.args[0]!r}" if isinstance(error, KeyError) else type(error).__name__
        raise DeployError(f"The things manifest {path} is not one a synth writes ({missing})") from None


def thing_labels(manifests: list[ThingsManifest]) -> dict[str, dict[str, str]]:
    """Stack artifact id -> logical id -> label, for every fleet thing of ``manifests``."""
    labels: dict[str, dict[str, str]] = {}
    for manifest in manifests:
        for thing in manifest.things:
            labels.setdefault(thing.stack, {})[thing.logical_id] = thing.label
    return labels
