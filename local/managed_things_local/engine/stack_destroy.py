"""Destroying a stack, as DeleteStack does: every resource deleted in reverse dependency order, nested stacks
destroyed with it, what its DeletionPolicy retains kept; a failure leaves it ``DELETE_FAILED``."""

from __future__ import annotations

import contextlib
from collections.abc import Collection

from ..cloudformation.plan import Removal
from ..cloudformation.stack_events import Phase, StackStatus, StackSummary
from ..cloudformation.templates import resource_label
from .executor import Executor
from .recovery import deliver_unanswered_creates


def destroy_stack(executor: Executor, stack_name: str, parent: str | None = None, retain: Collection[str] = ()) -> bool:
    """Delete every resource of the stack (a nested stack's: ``parent`` names the stack that holds it), but those
    ``retain`` names (a stack in DELETE_FAILED); whether the stack is gone (its events say why not)."""
    deliver_unanswered_creates(executor.store, executor, stack_name)
    state = executor.store.load(stack_name)
    if state is None:
        note = "not deployed locally: nothing to destroy"
        executor.warning(stack_name, f"{stack_name} is {note}")
        summary = StackSummary(note=note)
        executor.stack_event(stack_name, StackStatus.DELETE_COMPLETE, summary=summary, parent=parent)
        return True
    # Only a stack with exports reads the others: a fleet's nested stacks are destroyed side by side, and
    # each reading every other's state (while they are deleted) would be quadratic, and racy.
    for consumer in executor.store.all() if state.exports() else ():
        used = sorted(set(consumer.imports) & set(state.exports())) if consumer.stack_name != stack_name else []
        if used:
            error = f"Export {used[0]} cannot be deleted as it is in use by {consumer.stack_name}"
            executor.stack_event(stack_name, StackStatus.DELETE_FAILED, error, state.stack_id, parent=parent)
            return False
    executor.stack_event(stack_name, StackStatus.DELETE_IN_PROGRESS, stack_id=state.stack_id, parent=parent)
    removals = [
        Removal(key, r, "Retain" if r.logical_id in retain else r.deletion_policy) for key, r in state.resources.items()
    ]
    failures = executor.delete_all(state, removals, phase=Phase.DESTROY)
    failed = [r for r in removals if failures.get(r.key) is not None]
    if failed:
        for removal in removals:
            if failures.get(removal.key) is None:
                del state.resources[removal.key]
        state.status = StackStatus.DELETE_FAILED
        with contextlib.suppress(OSError):  # then the journal keeps what is left
            executor.store.save(state)
        first = failed[0].resource
        error = f"{resource_label(first.path, first.logical_id)}: {failures[failed[0].key] or 'not deleted'}"
        if parent is None:
            stuck = " ".join(sorted({r.resource.logical_id for r in failed}))
            error += (
                f" (destroy again once fixed, or keep what cannot be deleted: `managed-things destroy {stack_name} "
                f"--retain-resources {stuck}`)"
            )
        summary = StackSummary(resources=state.resources, failed_resource=first.logical_id)
        executor.stack_event(
            stack_name, StackStatus.DELETE_FAILED, error, state.stack_id, summary=summary, parent=parent
        )
        return False
    summary = StackSummary()
    try:
        executor.store.delete(stack_name)
    except OSError as error:  # everything is deleted: only the record of it stays behind
        executor.warning(stack_name, f"Cannot remove the local state {executor.store.path}: {error}")
    executor.stack_event(
        stack_name, StackStatus.DELETE_COMPLETE, stack_id=state.stack_id, summary=summary, parent=parent
    )
    return True
