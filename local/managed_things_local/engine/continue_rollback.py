"""``managed-things rollback``: CloudFormation's ContinueUpdateRollback of a stack in UPDATE_ROLLBACK_FAILED.

As ContinueUpdateRollback does
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html), the
rollback operations that failed are sent again: each rollback Update (the previous properties, the attempted
ones as old), each Delete of a resource the failed update created, each nested stack's own continued rollback;
the stack ends in UPDATE_ROLLBACK_COMPLETE, or UPDATE_ROLLBACK_FAILED again. ``orphan`` is its ResourcesToSkip:
"CloudFormation sets the status of the specified resources to UPDATE_COMPLETE and continues to roll back the
stack", the skipped resources then inconsistent with the template; only resources whose rollback failed can be
skipped. A Delete skipped here leaves its resource out of the stack, retained. ``force`` skips every resource whose
rollback failed, as ``cdk rollback --force`` does (it lists them from the stack's events and passes them as
ResourcesToSkip: packages/@aws-cdk/toolkit-lib/lib/api/deployments/deployments.ts in
https://github.com/aws/aws-cdk-cli); it cannot be combined with ``orphan`` (the CDK CLI's message).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from ..cloudformation.plan import Removal
from ..cloudformation.records import ResourceState, StackState
from ..cloudformation.requests import RequestType
from ..cloudformation.stack_events import Action, Phase, ResourceStatus, StackStatus, StackSummary
from ..cloudformation.stack_states import continue_rollback_refusal
from ..cloudformation.templates import NESTED_STACK, resource_label
from ..state.state import StateStore
from .executor import Executor
from .rollback_update import another_physical_id, send_rollback_update


class UpdateRollbackContinuation:
    """Continues the update rollback of stacks (and of their nested stacks) through ``executor``."""

    def __init__(self, executor: Executor, store: StateStore) -> None:
        self.executor = executor
        self.store = store

    def run(
        self, stack_name: str, orphan: Collection[str] = (), *, force: bool = False, parent: str | None = None
    ) -> bool:
        """Continue the stack's rollback; whether it is now in a stable state (or needed none)."""
        state = self.store.load(stack_name)
        refusal = continue_rollback_refusal(stack_name, state.status if state else None)
        if refusal:  # the CDK CLI warns and goes on ("already-stable")
            self.executor.warning(stack_name, refusal)
            self.executor.line(f"{stack_name} | {refusal}")
            return True
        assert state is not None
        updates = {key: r for key, r in state.resources.items() if r.status == ResourceStatus.UPDATE_FAILED}
        deletes = {key: r for key, r in state.resources.items() if r.status == ResourceStatus.DELETE_FAILED}
        skipped = set(updates) | set(deletes) if force else set(orphan)
        unknown = sorted(skipped - set(updates) - {r.logical_id for r in deletes.values()})
        if unknown:
            failed = ", ".join(sorted({r.logical_id for r in [*updates.values(), *deletes.values()]})) or "none"
            error = (
                f"{stack_name}: cannot skip {', '.join(unknown)}: only a resource whose rollback failed can be "
                f"orphaned (here: {failed})"
            )
            self.executor.stack_event(
                stack_name, StackStatus.UPDATE_ROLLBACK_FAILED, error, state.stack_id, parent=parent
            )
            return False
        if skipped:
            self.executor.line(f"Continuing rollback of stack {stack_name} (orphaning: {', '.join(sorted(skipped))})")
        # Before any request: the providers' DescribeStacks of their stack then answers a rollback in progress.
        self.executor.stack_event(
            stack_name, StackStatus.UPDATE_ROLLBACK_IN_PROGRESS, stack_id=state.stack_id, parent=parent
        )
        problems: list[str] = []
        for key, target in updates.items():
            if key in skipped:
                continue
            problem = self._retry_update(state, target)
            if problem:
                problems.append(problem)
        removals = [Removal(key, r, "Delete") for key, r in deletes.items() if r.logical_id not in skipped]
        failures = self.executor.delete_all(state, removals, phase=Phase.ROLLBACK) if removals else {}
        for removal in removals:
            if failures.get(removal.key) is not None:
                resource = removal.resource
                problems.append(
                    f"{resource_label(resource.path, resource.logical_id)}: {resource.physical_id} was not deleted "
                    f"({failures[removal.key]})"
                )
        return self._finish(stack_name, skipped, problems, parent)

    def _retry_update(self, state: StackState, target: ResourceState) -> str:
        """One rollback operation of a resource in UPDATE_FAILED, sent again; what went wrong, or ""."""
        label = resource_label(target.path, target.logical_id)
        name = state.stack_name
        self.executor.resource_event(name, target, ResourceStatus.UPDATE_IN_PROGRESS, Action.ROLLBACK, Phase.ROLLBACK)
        if target.type == NESTED_STACK:
            if self.run(str(target.data.get("StackName") or ""), parent=name):
                self.executor.record(name, RequestType.UPDATE, target, target.data)
                self.executor.resource_event(
                    name, target, ResourceStatus.UPDATE_COMPLETE, Action.ROLLBACK, Phase.ROLLBACK
                )
                return ""
            reason = "its nested stack's rollback failed"
        else:
            attempted = state.rollback_from.get(target.logical_id)
            outcome = send_rollback_update(
                self.executor,
                name,
                state.stack_id,
                target,
                attempted.properties if attempted else target.properties,
                state.functions,
            )
            answer = outcome.answer
            if outcome.succeeded and answer is not None and answer.physical_id == target.physical_id:
                self.executor.resource_event(
                    name, target, ResourceStatus.UPDATE_COMPLETE, Action.ROLLBACK, Phase.ROLLBACK
                )
                return ""
            reason = (
                another_physical_id(answer.physical_id, target.physical_id)
                if outcome.succeeded and answer is not None
                else f"rollback update failed ({outcome.reason})"
            )
        self.executor.resource_event(
            name, target, ResourceStatus.UPDATE_FAILED, Action.ROLLBACK, Phase.ROLLBACK, reason
        )
        return f"{label}: {reason}"

    def _finish(self, stack_name: str, skipped: Collection[str], problems: list[str], parent: str | None) -> bool:
        """The stack as the journal now has it (the retried operations' answers), saved with its new status."""
        state = self.store.load(stack_name)
        assert state is not None
        for key, resource in list(state.resources.items()):
            if resource.logical_id not in skipped:
                if resource.status == ResourceStatus.UPDATE_COMPLETE:
                    state.rollback_from.pop(key, None)
                continue
            if resource.status == ResourceStatus.DELETE_FAILED:
                del state.resources[key]  # out of the stack, kept where it is
                replaced = [k for k in state.resources if k.startswith(f"{resource.logical_id}@")]
                if key == resource.logical_id and replaced:  # the new resource of a replacement: the old one stays
                    state.resources[key] = state.resources.pop(replaced[-1])
                self.executor.warning(
                    stack_name,
                    f"{resource_label(resource.path, resource.logical_id)}: {resource.physical_id} orphaned: it is "
                    "no longer in the stack and was not deleted",
                )
            elif resource.status == ResourceStatus.UPDATE_FAILED:
                state.resources[key] = dataclasses.replace(resource, status=str(ResourceStatus.UPDATE_COMPLETE))
                state.rollback_from.pop(key, None)
                self.executor.warning(
                    stack_name,
                    f"{resource_label(resource.path, resource.logical_id)}: rollback skipped (--orphan): it may not "
                    "match the stack's previous template until the next deploy updates it",
                )
        status = StackStatus.UPDATE_ROLLBACK_FAILED if problems else StackStatus.UPDATE_ROLLBACK_COMPLETE
        state.status = str(status)
        error = ""
        try:
            self.store.save(state)
        except OSError as unwritable:
            error = f"Cannot write the local state {self.store.path} ({unwritable})"
        for problem in problems:
            self.executor.warning(stack_name, problem)
        reason = "; ".join(problems)
        if problems:
            reason += (
                f" (fix the problem and run `managed-things rollback {stack_name}` again, or skip these resources "
                "with --orphan LOGICAL_ID or --force)"
            )
        summary = StackSummary(resources=state.resources, error=error)
        self.executor.stack_event(stack_name, status, reason or error, state.stack_id, summary=summary, parent=parent)
        return not problems
