"""Which shard stack each thing of a fleet lives in, kept in a placement file committed beside the inventory.

A thing's shard can never change (moving it to another stack deletes it and creates it again, with a new Id), and
the number of shard stacks must grow with the fleet: no function of the key alone does both. So placement is
state, kept like a lock file. Synth reads it, keeps every thing where it is, places new things in the first shard
with room (by count and by template bytes) or in a new shard, and writes it back when it changed.

Shards are never dropped: a shard whose things all left the inventory stays (empty) so that its stack, still in
the app, deletes them; new things fill it again. A thing that leaves is remembered as retired, with its shard: a
synth that never deploys (``cdk diff`` of an inventory missing a row) must not let it come back elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._errors import ConfigurationError

PLACEMENT_VERSION = 1
PLACEMENT_SUFFIX = ".placement.json"
# The context key that makes synth fail instead of writing a changed placement file (for CI: `cdk synth -c
# cdk-managed-things:frozenPlacement=true`), like `npm ci` refuses an outdated lock file.
FROZEN_CONTEXT_KEY = "cdk-managed-things:frozenPlacement"
_SHARD_PREFIX = "Shard"


def shard_name(number: int) -> str:
    """The construct id of shard ``number`` (from 1): ``Shard001``."""
    return f"{_SHARD_PREFIX}{number:03d}"


def shard_number(name: str) -> int | None:
    """The number of a shard named by :func:`shard_name`, else None."""
    digits = name[len(_SHARD_PREFIX) :]
    if not name.startswith(_SHARD_PREFIX) or not digits.isdigit() or int(digits) < 1:
        return None
    return int(digits)


def default_placement_path(inventory: str | os.PathLike[str]) -> Path:
    """The placement file of an inventory file: ``plugs.csv`` -> ``plugs.placement.json`` beside it."""
    path = Path(inventory)
    return path.with_name(path.stem + PLACEMENT_SUFFIX)


@dataclass(frozen=True)
class Capacity:
    """How much a shard may hold when new things are placed in it."""

    things: int
    template_bytes: int


@dataclass(frozen=True)
class Placement:
    """Shard name -> its things' logical ids (sorted), and the things that left, with the shard they were in."""

    current: dict[str, list[str]] = field(default_factory=dict)
    retired: dict[str, str] = field(default_factory=dict)


def place(previous: Placement, things: Mapping[str, int], capacity: Capacity) -> Placement:
    """The placement of ``things`` (every logical id of the fleet -> its estimated template bytes, in the order new
    things are placed: key order, so that the result does not depend on the inventory's order).

    A thing of ``previous`` stays in its shard, and a retired one that comes back returns to its shard, whatever
    they hold; a new one goes to the first shard whose count and bytes leave room for it, else to a new shard.
    Things of ``previous`` that are gone are retired.
    """
    shards = {name: [lid for lid in previous.current[name] if lid in things] for name in _ordered(previous.current)}
    retired = {lid: shard for lid, shard in previous.retired.items() if lid not in things}
    retired |= {lid: name for name, members in previous.current.items() for lid in members if lid not in things}
    placed = {lid for members in shards.values() for lid in members}
    for lid, shard in previous.retired.items():
        if lid in things and lid not in placed:
            shards.setdefault(shard, []).append(lid)
            placed.add(lid)
    counts = {name: len(members) for name, members in shards.items()}
    sizes = {name: sum(things[lid] for lid in members) for name, members in shards.items()}
    for lid, size in things.items():
        if lid in placed:
            continue
        target = next(
            (
                name
                for name in _ordered(shards)
                if counts[name] < capacity.things
                and (counts[name] == 0 or sizes[name] + size <= capacity.template_bytes)
            ),
            None,
        )
        if target is None:
            target = shard_name(1 + max((shard_number(n) or 0 for n in shards), default=0))
            shards[target], counts[target], sizes[target] = [], 0, 0
        shards[target].append(lid)
        counts[target] += 1
        sizes[target] += size
    current = {name: sorted(shards[name]) for name in _ordered(shards)}
    return Placement(current=current, retired=dict(sorted(retired.items())))


def _ordered(shards: Mapping[str, Sequence[str]]) -> list[str]:
    return sorted(shards, key=lambda name: (shard_number(name) or 0, name))


class PlacementFile:
    """The placement file of one fleet: read, checked, and written back when it changed."""

    def __init__(self, path: str | os.PathLike[str], *, fleet_path: str, key_member: str) -> None:
        self.path = Path(path)
        self._fleet_path = fleet_path
        self._key_member = key_member

    def read(self) -> Placement:
        """The placement written last; empty when the file does not exist yet.

        Raises ``ConfigurationError`` naming the fleet and the file when it cannot be used.
        """
        if not self.path.exists():
            return Placement()
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise self._problem(f"cannot be read ({error})") from None
        shards = document.get("shards") if isinstance(document, dict) else None
        if document.get("version") != PLACEMENT_VERSION or not isinstance(shards, dict):  # type: ignore[union-attr]
            raise self._problem(f"is not a version {PLACEMENT_VERSION} placement file")
        if document.get("keyMember") != self._key_member:
            raise self._problem(
                f"places things keyed by {document.get('keyMember')}, and the fleet's key is now {self._key_member}: "
                "every thing would get a new logical id, so CloudFormation would delete each and create it again "
                "(a new Id for every device). Keep the key, or delete the file to start the fleet anew"
            )
        seen: dict[str, str] = {}
        for name, members in shards.items():
            if shard_number(name) is None or not isinstance(members, list):
                raise self._problem(f"has an entry {name!r} that is not a shard (Shard001: [logical ids])")
            for lid in members:
                if not isinstance(lid, str) or lid in seen:
                    raise self._problem(f"places {lid!r} twice ({seen.get(lid)} and {name}); restore it from git")
                seen[lid] = name
        retired = document.get("retired", {})
        if not isinstance(retired, dict) or not all(shard_number(str(s)) for s in retired.values()):
            raise self._problem("has a 'retired' entry that is not {logical id: shard}; restore it from git")
        current = {name: sorted(shards[name]) for name in _ordered(shards)}
        return Placement(current=current, retired={lid: retired[lid] for lid in sorted(retired)})

    def write(self, placement: Placement) -> None:
        document = {
            "comment": (
                f"Where each thing of the fleet {self._fleet_path} lives, by logical id: written by "
                "cdk-managed-things at synth. Commit it with the inventory, and do not edit it: a thing that "
                "changes shard is deleted and created again, with a new Id."
            ),
            "version": PLACEMENT_VERSION,
            "keyMember": self._key_member,
            "shards": placement.current,
            "retired": placement.retired,
        }
        self.path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")

    def _problem(self, what: str) -> ConfigurationError:
        return ConfigurationError(f"{self._fleet_path}: the placement file {self.path} {what}")


def changes(before: Placement, after: Placement) -> tuple[int, int]:
    """(things placed, things removed) from ``before`` to ``after``."""
    old = {lid for members in before.current.values() for lid in members}
    new = {lid for members in after.current.values() for lid in members}
    return len(new - old), len(old - new)
