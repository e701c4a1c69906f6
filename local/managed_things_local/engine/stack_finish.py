"""A stack run's end after a success: the new state saved, and the stack's last event (or "no changes")."""

from __future__ import annotations

from typing import Any

from ..cloudformation.stack_events import StackStatus, StackSummary
from ..errors import Unresolvable
from ..state.state import ResourceState
from .stack_run_view import StackRunView


def save_new_state(run: StackRunView) -> None:
    """The new state saved, and the stack's last event (or "no changes")."""
    resources: dict[str, ResourceState] = {}
    functions: dict[str, dict[str, Any]] = {}
    for logical_id in run.plan.steps:
        current = run.deployed(logical_id)
        assert current is not None, f"{logical_id} was neither deployed nor recorded"
        resources[logical_id] = run.resource_state(
            logical_id,
            physical_id=current.physical_id,
            properties=current.properties,
            data=current.data,
            status=current.status,
            service_token=current.service_token,
        )
        token = current.service_token
        if token and token not in functions:
            try:
                functions[token] = run.executor.function(token).to_json()
            except Unresolvable:
                if run.previous and token in run.previous.functions:
                    functions[token] = run.previous.functions[token]
    imports = sorted(run.resolver.imports)
    changed = (
        run.changed
        or run.previous is None
        or run.previous.status.endswith("_FAILED")  # a redeploy that recovers a failed stack changes it
        or run.previous.outputs != run.outputs
        or sorted(run.previous.imports) != imports
    )
    status = StackStatus.CREATE_COMPLETE if run.previous is None else StackStatus.UPDATE_COMPLETE
    if not changed:
        assert run.previous is not None
        status = StackStatus(run.previous.status)
    state = run.stack_state(status, resources=resources, outputs=run.outputs, imports=imports, functions=functions)
    error = ""
    try:
        run.store.save(state)
    except OSError as problem:
        error = (
            f"Cannot write the local state {run.store.path} ({problem.strerror or problem}); what was deployed is "
            f"kept in the journal of {run.name}: destroy and the next deploy find it there"
        )
    summary = StackSummary(
        outputs=run.outputs,
        resources=resources,
        not_deployed=run.plan.not_deployed,
        no_changes=not changed,
        note="" if changed else "no changes",
        error=error,
    )
    if changed:
        run.announce()
    run.stack_event(status, summary=summary)
