"""The rollback of one stack run, after a resource of it failed, as CloudFormation rolls a stack back.

In order: the nested stacks the run updated are rolled back (``nested_stacks``);
what was updated in place goes back to its previous properties (``rollback_update``),
in dependency order; what the run created (nested stacks included) and the new
resources of replacements are deleted, in reverse dependency order. A Create
cancelled before it answered gets its Delete with an id CloudFormation makes up.
What could not be undone leaves the stack ``ROLLBACK_FAILED`` or
``UPDATE_ROLLBACK_FAILED`` (``failed_rollback``); the recorded state stays at
the previous deployment.
"""

from __future__ import annotations

import contextlib
import dataclasses

from ..cloudformation.plan import Removal, Step, replaced
from ..cloudformation.requests import made_up_physical_id
from ..cloudformation.stack_events import Action, Phase, ResourceStatus, StackStatus, StackSummary
from ..cloudformation.templates import NESTED_STACK
from ..state.state import ResourceState, StackState
from .failed_rollback import record_failed_rollback
from .nested_stacks import created_nested_stack_removal, roll_back_nested_stacks
from .rollback_update import another_physical_id, send_rollback_update
from .stack_run_view import StackRunView


class Rollback:
    """Undo what one ``StackRun`` did; ``run()`` says what it could not undo (empty: the rollback completed)."""

    def __init__(self, stack_run: StackRunView, failure: str) -> None:
        self.stack_run = stack_run
        self.failure = failure
        self.first = stack_run.previous is None  # a failed creation: ROLLBACK_*, else UPDATE_ROLLBACK_*
        self.problems: list[str] = []
        self.records: dict[str, ResourceState] = {}

    def run(self) -> list[str]:
        self._begin()
        self.records = self.stack_run.records_now()
        nested_failed = roll_back_nested_stacks(self.stack_run, self.problems)
        updates_failed = self._roll_back_updates()
        deletes_failed = self._delete_created()
        for problem in self.problems:
            self.stack_run.executor.warning(self.stack_run.name, problem)
        with contextlib.suppress(OSError):  # what the rollback could not undo stays in the journal
            self.stack_run.store.settle(self.stack_run.name)
        status = self._status()
        if self.problems:  # the stack rests in that status until a destroy, or `managed-things rollback`, gets it out
            self._record_failure(status, updates_failed, deletes_failed, nested_failed)
        self._end(status)
        return self.problems

    def _begin(self) -> None:
        self.stack_run.announce()
        status = StackStatus.ROLLBACK_IN_PROGRESS if self.first else StackStatus.UPDATE_ROLLBACK_IN_PROGRESS
        self.stack_run.stack_event(status, self.failure)

    def _status(self) -> StackStatus:
        if self.first:
            return StackStatus.ROLLBACK_FAILED if self.problems else StackStatus.ROLLBACK_COMPLETE
        return StackStatus.UPDATE_ROLLBACK_FAILED if self.problems else StackStatus.UPDATE_ROLLBACK_COMPLETE

    # --- 1. rollback updates ----------------------------------------------------------

    def _updated_in_place(self) -> dict[str, ResourceState]:
        """What was updated in place (or attempted), nested stacks apart: logical id -> as the Update left it."""
        steps = self.stack_run.plan.steps
        return {
            logical_id: record
            for logical_id, record in self.records.items()
            if (step := steps[logical_id]).previous is not None
            and step.resource_type != NESTED_STACK
            and not (record.status == "UPDATE_COMPLETE" and replaced(step, record))
        }

    def _roll_back_updates(self) -> dict[str, ResourceState]:
        """Every resource updated in place back to its previous properties, in dependency order; those that failed."""
        updates = self._updated_in_place()
        if not updates:
            return {}
        plan = self.stack_run.plan
        results = self.stack_run.executor.run_graph(
            list(updates),
            plan.prerequisites,
            lambda logical_id: self._roll_back_update(plan.steps[logical_id], updates[logical_id]),
            stop_on_failure=False,
        )
        self.problems += [
            f"{self.stack_run.label(logical_id)}: rollback update not started"
            for logical_id, ok in results.items()
            if ok is None
        ]
        return {logical_id: record for logical_id, record in updates.items() if results.get(logical_id) is not True}

    def _roll_back_update(self, step: Step, record: ResourceState) -> bool:
        """The Update CloudFormation sends on rollback: the previous properties, the attempted ones as old."""
        run, old = self.stack_run, step.previous
        assert old is not None
        label = run.label(step.logical_id)
        run.event(step.logical_id, ResourceStatus.UPDATE_IN_PROGRESS, Action.ROLLBACK, phase=Phase.ROLLBACK)
        previous_functions = run.previous.functions if run.previous else None
        outcome = send_rollback_update(
            run.executor, run.name, run.pseudo.stack_id, old, record.properties, previous_functions
        )
        if not outcome.succeeded:
            self.problems.append(f"{label}: rollback update failed ({outcome.reason})")
            reason = f"rollback update failed: {outcome.reason}"
            run.event(step.logical_id, ResourceStatus.UPDATE_FAILED, Action.ROLLBACK, reason, Phase.ROLLBACK)
            return False
        assert outcome.answer is not None
        physical_id = outcome.answer.physical_id
        if physical_id != old.physical_id:
            self.problems.append(f"{label}: {another_physical_id(physical_id, old.physical_id)}")
        run.event(
            step.logical_id,
            ResourceStatus.UPDATE_COMPLETE,
            Action.ROLLBACK,
            phase=Phase.ROLLBACK,
            physical_id=physical_id,
        )
        return True

    # --- 2. deletes of what the run created ----------------------------------------------

    def _created(self) -> list[Removal]:
        """What this run created (nested stacks included) and the new resources of its replacements."""
        removals: list[Removal] = []
        for logical_id, record in self.records.items():
            step = self.stack_run.plan.steps[logical_id]
            if step.resource_type == NESTED_STACK:
                removal = created_nested_stack_removal(self.stack_run, logical_id, record)
                removals += [removal] if removal is not None else []
                continue
            if not (step.previous is None or (record.status == "UPDATE_COMPLETE" and replaced(step, record))):
                continue
            # A Create that never answered still gets its Delete, with an id CloudFormation makes up.
            physical_id = record.physical_id or made_up_physical_id(self.stack_run.name, logical_id)
            removals.append(
                Removal(logical_id, dataclasses.replace(record, physical_id=physical_id), record.deletion_policy)
            )
        return removals

    def _delete_created(self) -> set[tuple[str, str]]:
        """Delete what the run created, in reverse dependency order; (logical id, physical id) of those not deleted."""
        removals = self._created()
        if not removals:
            return set()
        run = self.stack_run
        context = StackState(run.name, run.pseudo.stack_id, run.pseudo.region, run.pseudo.account_id)
        failures = run.executor.delete_all(context, removals, phase=Phase.ROLLBACK, functions={})
        not_deleted: set[tuple[str, str]] = set()
        for removal in removals:
            label, physical_id = run.label(removal.resource.logical_id), removal.resource.physical_id
            why = failures.get(removal.key)
            if why is not None:
                self.problems.append(f"{label}: {physical_id} was not deleted ({why})")
                not_deleted.add((removal.resource.logical_id, physical_id))
            elif removal.retained:
                run.executor.warning(run.name, f"{label}: {physical_id} retained by its DeletionPolicy")
        return not_deleted

    # --- 3. what stays ----------------------------------------------------------------------

    def _record_failure(
        self,
        status: StackStatus,
        updates_failed: dict[str, ResourceState],
        deletes_failed: set[tuple[str, str]],
        nested_failed: list[str],
    ) -> None:
        steps = self.stack_run.plan.steps
        targets = {
            logical_id: (target, record)
            for logical_id, record in updates_failed.items()
            if (target := steps[logical_id].previous) is not None
        }
        with contextlib.suppress(OSError):
            record_failed_rollback(
                self.stack_run.store, self.stack_run.name, status, targets, deletes_failed, nested_failed
            )

    def _end(self, status: StackStatus) -> None:
        """The stack's last event: what stays is the previous deployment."""
        run = self.stack_run
        summary = StackSummary(
            outputs=run.previous.outputs if run.previous else {},
            resources=run.previous.resources if run.previous else {},
            not_deployed=run.plan.not_deployed,
            failed_resource=run.failed_resource,
        )
        run.stack_event(status, "; ".join(self.problems), summary=summary)
