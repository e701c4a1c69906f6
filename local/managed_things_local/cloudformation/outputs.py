"""A stack's Outputs and exports, as CloudFormation computes and guards them (pure: resolver and states in)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import Unresolvable
from .intrinsics import Resolver, cfn_stringify
from .records import OutputState, StackState


def stack_outputs(template: Mapping[str, Any], resolver: Resolver) -> dict[str, OutputState]:
    """Each output whose condition holds: its value, or why it has none locally."""
    outputs: dict[str, OutputState] = {}
    for key, output in (template.get("Outputs") or {}).items():
        if output.get("Condition") and not _holds(resolver, output["Condition"]):
            continue
        state = OutputState(description=output.get("Description"))
        try:
            export = (output.get("Export") or {}).get("Name")
            state.export_name = resolver.resolve(export) if export is not None else None
        except Unresolvable as error:
            state.unavailable = f"its export name has no local value: {error}"
            outputs[key] = state
            continue
        try:
            value = cfn_stringify(resolver.resolve(output.get("Value")))
            state.value = ",".join(value) if isinstance(value, list) else value
        except Unresolvable as error:
            state.unavailable = str(error)
        outputs[key] = state
    return outputs


def export_problem(
    outputs: Mapping[str, OutputState], previous: StackState | None, others: Sequence[StackState]
) -> str:
    """Why CloudFormation would refuse these outputs' exports (taken by another stack, or in use), or ""."""
    taken = {export: s.stack_name for s in others for export in s.exports()}
    new = {o.export_name: o for o in outputs.values() if o.export_name}
    for export in new:
        if export in taken:
            return f"Export with name {export} is already exported by stack {taken[export]}"
    old = previous.exports() if previous else {}
    for export, before in old.items():
        users = sorted(s.stack_name for s in others if export in s.imports)
        if not users:
            continue
        if export not in new:
            return f"Cannot delete export {export} as it is in use by {users[0]}"
        if new[export].value != before.value or new[export].unavailable != before.unavailable:
            return f"Cannot update export {export} as it is in use by {users[0]}"
    return ""


def _holds(resolver: Resolver, condition: str) -> bool:
    try:
        return resolver.condition(condition)
    except Unresolvable:
        return False
