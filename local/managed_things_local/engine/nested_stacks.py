"""Nested stacks (``AWS::CloudFormation::Stack``): deployed, rolled back and destroyed as resources of their parent.

A nested stack is its own ``StackRun``, started by its parent's as one of its
resources (Ref: its stack id; Fn::GetAtt: ``Outputs.X``). Its creates and updates
run with the parent's, its cleanup waits for the root's commit; a failure rolls
it back before its parent fails. When the parent rolls back, the nested stacks
it updated are rolled back with it (dependents first) and those it created are
destroyed; deleting a nested stack is destroying it, which is what the executor
asks of ``NestedStackDestroyer``, its ``NestedStacks`` collaborator.
"""

from __future__ import annotations

import dataclasses

from ..cloudformation.graph import reverse
from ..cloudformation.plan import Removal, Step
from ..cloudformation.requests import RequestType
from ..cloudformation.stack_events import Action, ResourceStatus
from ..cloudformation.templates import nested_artifact, nested_stack_name
from ..errors import DeployError, Unresolvable
from ..state.state import ResourceState
from .executor import Executor
from .recovery import deliver_unanswered_creates
from .stack_destroy import destroy_stack
from .stack_run_view import StackRunView


class NestedStackDestroyer:
    """The executor's ``NestedStacks``: a nested stack's Delete destroys the stack and everything in it."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def destroy(self, stack_name: str, parent: str) -> bool:
        return destroy_stack(self.executor, stack_name, parent)


def deploy_nested_stack(parent: StackRunView, step: Step) -> bool:
    """Create or update the nested stack of ``step`` as a resource of ``parent``; whether it succeeded."""
    logical_id, old = step.logical_id, step.previous
    verb = "UPDATE" if old else "CREATE"
    request_type = RequestType.UPDATE if old else RequestType.CREATE
    action = Action.UPDATE if old else Action.CREATE
    try:
        properties = parent.properties(logical_id)
        child_name = str(old.data.get("StackName")) if old else nested_stack_name(parent.name, logical_id)
        artifact = nested_artifact(parent.artifact, logical_id, child_name, parent.pseudo)
        parent.executor.add_stacks([artifact])
        if old is not None:
            deliver_unanswered_creates(parent.store, parent.executor, child_name)
        parameters = {k: str(v) for k, v in (properties.get("Parameters") or {}).items()}
        child = parent.nested_run(artifact, parent.store.load(child_name) if old else None, parameters)
    except (DeployError, Unresolvable) as error:
        return parent.failed(logical_id, verb, str(error))
    parent.announce()
    parent.event(logical_id, ResourceStatus(f"{verb}_IN_PROGRESS"), action)
    # The parent's journal points to the nested stack before it deploys: if this process dies meanwhile,
    # a destroy of the parent still finds the nested stack, and through its journal every thing of it.
    pointer = parent.resource_state(
        logical_id,
        physical_id=child.pseudo.stack_id,
        properties=properties,
        data={**(old.data if old else {}), "StackName": child_name},
        status=f"{verb}_COMPLETE",
    )
    parent.executor.record(parent.name, request_type, pointer, pointer.data)
    failure = _deploy(child)
    if failure:
        left = parent.store.load(child_name)
        if old is None and (left is None or not left.resources):  # it rolled back to nothing
            parent.executor.record(parent.name, RequestType.DELETE, pointer, {})
        reason = f"Embedded stack {child.pseudo.stack_id} was not successfully {verb.lower()}d: {failure}"
        return parent.failed(logical_id, verb, reason, child.pseudo.stack_id)
    parent.add_child(logical_id, child)
    unchanged = old is not None and old.properties == properties and not child.changed
    record = dataclasses.replace(
        pointer,
        data={"StackName": child_name, **child.output_attributes()},
        status=old.status if unchanged and old is not None else pointer.status,
    )
    parent.record(record)
    parent.executor.record(parent.name, request_type, record, record.data)
    if not unchanged:
        parent.event(logical_id, ResourceStatus(f"{verb}_COMPLETE"), action, physical_id=record.physical_id)
    return True


def _deploy(child: StackRunView) -> str:
    """The nested stack's creates and updates (its cleanup waits for the root's); on failure, its rollback."""
    if child.previous is None:
        child.announce()
    failure = child.begin_journal() or child.apply()
    if failure:
        child.rollback(failure)
    return failure


def roll_back_nested_stacks(parent: StackRunView, problems: list[str]) -> list[str]:
    """Roll back, with ``parent``, the nested stacks its run updated (side by side, each after the nested stacks
    that depend on it); adds what they could not undo to ``problems``, and returns those that failed."""
    updated = {lid: c for lid, c in parent.children.items() if c.previous is not None and c.changed}
    if not updated:
        return []

    def roll_back(logical_id: str) -> bool:
        undone = updated[logical_id].rollback(f"the parent stack {parent.name} is rolled back")
        problems.extend(f"{parent.label(logical_id)}: {p}" for p in undone)
        return not undone

    results = parent.executor.run_graph(
        list(updated), reverse(list(updated), parent.plan.prerequisites), roll_back, stop_on_failure=False
    )
    return [logical_id for logical_id, ok in results.items() if ok is not True]


def created_nested_stack_removal(parent: StackRunView, logical_id: str, record: ResourceState) -> Removal | None:
    """The Delete of a nested stack ``parent``'s run created, which its rollback destroys; None if it did not."""
    child = parent.children.get(logical_id)
    if child is not None and child.previous is None:
        return Removal(logical_id, record, "Delete")
    return None
