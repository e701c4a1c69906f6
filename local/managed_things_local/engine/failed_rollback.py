"""What a rollback that failed leaves in the stack's state: the status CloudFormation would show, and (for an
update rollback) what ``managed-things rollback`` retries.

On AWS a failed rollback leaves ``ROLLBACK_FAILED`` (a failed creation: only a
delete gets out) or ``UPDATE_ROLLBACK_FAILED`` (only ContinueUpdateRollback, or a
delete); the stack keeps that status until one of them runs (``stack_states``).
Locally the status is saved with the stack; for ``UPDATE_ROLLBACK_FAILED``:

- a resource whose rollback Update failed is recorded as its target (the previous
  deployment's record) with the status ``UPDATE_FAILED``, and what the forward
  Update left in ``rollback_from`` (the retried Update's OldResourceProperties);
- a resource whose rollback Delete failed keeps its record, with ``DELETE_FAILED``;
- a nested stack whose own rollback failed is ``UPDATE_FAILED`` (its stack says why).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

from ..cloudformation.records import ResourceState
from ..cloudformation.stack_events import ResourceStatus, StackStatus
from ..state.state import StateStore


def record_failed_rollback(
    store: StateStore,
    stack_name: str,
    status: StackStatus,
    updates: Mapping[str, tuple[ResourceState, ResourceState]] = {},
    deletes: Collection[tuple[str, str]] = (),
    nested: Collection[str] = (),
) -> None:
    """Save the stack as its failed rollback left it. ``updates``: logical id -> (target, as the forward Update left
    it); ``deletes``: (logical id, physical id) not deleted; ``nested``: nested stacks left UPDATE_ROLLBACK_FAILED.

    Raises OSError when the state cannot be written (the journal then keeps what exists)."""
    state = store.load(stack_name)
    if state is None:
        return
    state.status = str(status)
    for logical_id, (target, attempted) in updates.items():
        state.resources[logical_id] = dataclasses.replace(target, status=ResourceStatus.UPDATE_FAILED)
        state.rollback_from[logical_id] = attempted
    for key, resource in state.resources.items():
        if (resource.logical_id, resource.physical_id) in deletes:
            state.resources[key] = dataclasses.replace(resource, status=ResourceStatus.DELETE_FAILED)
        elif key in nested:
            state.resources[key] = dataclasses.replace(resource, status=ResourceStatus.UPDATE_FAILED)
    store.save(state)
