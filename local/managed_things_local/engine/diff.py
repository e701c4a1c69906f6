"""What a deploy would do to each managed thing, against the local state: ``managed-things diff``.

A changed thing is planned by the provider's own code (``parse_properties`` of
the old and new properties, then ``lifecycle.plan_update``), so the diff says
what the provider will do: update in place (naming the members), or replace
(and why). Only member names are shown, never values: sensitive members stay out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from managed_thing_provider.lifecycle import plan_update
from managed_thing_provider.properties import parse_properties

from ..cloudformation.assembly import CloudAssembly
from ..cloudformation.stack_events import Action
from ..cloudformation.templates import MANAGED_THING, NESTED_STACK, resource_label, resource_name
from ..errors import DeployError, Unresolvable
from ..state.state import StateStore
from .executor import Executor
from .preview import nested_run, preview_executor
from .stack_run import StackRun

_SYMBOLS = {Action.CREATE: "[+]", Action.UPDATE: "[~]", Action.REPLACE: "[-/+]", Action.DELETE: "[-]"}


@dataclass
class ThingDiff:
    logical_id: str
    path: str
    action: Action
    members: list[str] = field(default_factory=list)  # what an in-place update changes
    reasons: list[str] = field(default_factory=list)  # why a replacement, or why the diff cannot tell

    def line(self) -> str:
        if self.action is Action.UPDATE:
            what = f"update in place: {', '.join(self.members)}" if self.members else "update"
        elif self.action is Action.REPLACE:
            what = f"replace: {'; '.join(self.reasons)}"
        else:
            what = str(self.action)
        note = f" ({'; '.join(self.reasons)})" if self.reasons and self.action is not Action.REPLACE else ""
        return f"{_SYMBOLS[self.action]} {MANAGED_THING} {resource_label(self.path, self.logical_id)} {what}{note}"

    def to_json(self) -> dict[str, Any]:
        return {
            "logicalId": self.logical_id,
            "path": self.path,
            "action": str(self.action),
            "members": self.members,
            "reasons": self.reasons,
        }


@dataclass
class StackDiff:
    stack_name: str
    things: list[ThingDiff] = field(default_factory=list)
    nested: list[StackDiff] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "stackName": self.stack_name,
            "things": [t.to_json() for t in self.things],
            "nestedStacks": [n.to_json() for n in self.nested],
        }

    @property
    def differs(self) -> bool:
        """Whether a deploy would change a thing of this stack or of its nested stacks."""
        return bool(self.things) or any(nested.differs for nested in self.nested)

    def lines(self) -> list[str]:
        """The stack's changes, its nested stacks' indented below; none when it has no differences."""
        if not self.differs:
            return []
        lines = [f"Stack {self.stack_name}", *(t.line() for t in self.things)]
        for nested in self.nested:
            lines += [f"  {line}" for line in nested.lines()]
        return lines


def diff_lines(diffs: list[StackDiff]) -> list[str]:
    """What ``managed-things diff`` prints: the stacks with differences, then one line counting the stacks.

    The count is the CDK CLI's closing line (``Number of stacks with differences``, in ``Toolkit.diff`` of
    https://github.com/aws/aws-cdk-cli/blob/main/packages/@aws-cdk/toolkit-lib/lib/toolkit/toolkit.ts); unlike
    its "There were no differences" per stack, stacks without differences are only counted: a fleet's dozens of
    unchanged shard stacks would bury the few that change.
    """
    differing = [d for d in diffs if d.differs]
    lines = [line for d in differing for line in d.lines()]
    closing = f"✨  Number of stacks with differences: {len(differing)}"
    if len(diffs) > len(differing):
        closing += f" ({len(diffs) - len(differing)} without differences)"
    return [*lines, "", closing] if lines else [closing]


def diff_stack(run: StackRun, store: StateStore, executor: Executor) -> StackDiff:
    """The diff of one stack (and of its deployed nested stacks): its plan, each update planned by the provider."""
    result = StackDiff(run.name)
    for logical_id, step in run.plan.steps.items():
        old = step.previous
        if step.resource_type == NESTED_STACK:
            nested = nested_run(run, executor, logical_id, old.data.get("StackName") if old else None)
            if nested is not None:
                result.nested.append(diff_stack(nested, store, executor))
            continue
        if step.resource_type != MANAGED_THING:  # a secret: the diff is of managed things
            continue
        label = resource_name(run.artifact, logical_id)
        if old is None:
            result.things.append(ThingDiff(logical_id, label, Action.CREATE))
            continue
        try:
            new_properties = run.properties(logical_id)
        except Unresolvable as error:  # e.g. a value of a thing the deploy creates first
            result.things.append(
                ThingDiff(logical_id, label, Action.UPDATE, reasons=[f"known only at deploy time: {error}"])
            )
            continue
        if new_properties != old.properties:
            result.things.append(_planned(logical_id, label, old.properties, new_properties))
    for removal in run.plan.removals:
        old = removal.resource
        if old.type == MANAGED_THING and old.logical_id not in run.plan.steps:
            result.things.append(ThingDiff(old.logical_id, old.path, Action.DELETE))
    return result


def _planned(logical_id: str, label: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> ThingDiff:
    """The provider's plan for moving the thing from ``old`` to ``new`` properties."""
    plan = plan_update(parse_properties(old), parse_properties(new))
    if plan.replaces:
        return ThingDiff(logical_id, label, Action.REPLACE, reasons=list(plan.replace_because))
    members = sorted(plan.changes)
    if plan.tags_to_set or plan.tag_keys_to_remove:
        members.append("Tags")
    if old.get("ServiceToken") != new.get("ServiceToken"):
        members.append("ServiceToken")
    kept = [f"{member} is no longer set but the thing keeps its value" for member in plan.kept]
    return ThingDiff(logical_id, label, Action.UPDATE, members=members, reasons=kept)


def diff(assembly: CloudAssembly, store: StateStore, patterns: list[str]) -> list[StackDiff]:
    """The diff of the selected stacks against the local state."""
    executor = preview_executor(assembly, store)
    diffs = []
    for artifact in assembly.select(patterns):
        previous = store.load(artifact.stack_name)
        endpoint = previous.endpoint if previous else ""
        try:
            run = StackRun(
                executor,
                store,
                artifact,
                previous,
                endpoint_label=endpoint,
                parameters={},
            )
        except Unresolvable as error:
            raise DeployError(f"{artifact.stack_name}: {error}") from None
        diffs.append(diff_stack(run, store, executor))
    return diffs
