"""One stack's deploy: the plan of ``plan.py`` run through the executor, the way CloudFormation would do it.

Per stack: creates and updates in dependency order (independent resources
concurrently; ``resource_deploy`` for one resource, ``nested_stacks`` for a nested
stack), unchanged resources skipped, then outputs and exports, then the cleanup
phase (deletes of removed resources and of the old physical resources of
replacements, in reverse dependency order) and the new state (``stack_finish``).
A failure rolls the stack back (``rollback``); the recorded state stays at the
previous deployment.

A run decides nothing the plan did not, says what happens only through the
executor's events (the report is their fold), and keeps one record per
resource: the ``ResourceState`` its invocation answered, which is also what a
``Ref`` or ``Fn::GetAtt`` of it resolves to and what the new state holds.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Mapping
from typing import Any

from ..cloudformation.assembly import StackArtifact
from ..cloudformation.intrinsics import Pseudo, Resolver, cfn_stringify, import_arguments, parameter_values
from ..cloudformation.outputs import export_problem, stack_outputs
from ..cloudformation.plan import Removal, StackPlan, plan_stack, replaced
from ..cloudformation.records import reference
from ..cloudformation.requests import new_stack_id
from ..cloudformation.stack_events import Action, Phase, ResourceStatus, StackStatus, StackSummary
from ..cloudformation.templates import (
    LAMBDA_FUNCTION,
    NESTED_STACK,
    resource_label,
    resource_name,
)
from ..environment import resolve_account, resolve_region
from ..errors import DeployError, Unresolvable
from ..lambda_runtime.functions import function_arn, function_name
from ..state.journal import stack_entry
from ..state.state import OutputState, ResourceState, StackState, StateStore
from .executor import Executor
from .nested_stacks import deploy_nested_stack
from .resource_deploy import deploy_resource
from .rollback import Rollback
from .stack_finish import save_new_state
from .stack_notes import report_not_deployed, warn_of_what_is_not_run
from .stack_run_view import CreatesInFlight, StackRunView


class StackRun:
    def __init__(
        self,
        executor: Executor,
        store: StateStore,
        artifact: StackArtifact,
        previous: StackState | None,
        *,
        endpoint_label: str,
        parameters: Mapping[str, str],
        parent: StackRun | None = None,
        verbose: bool = False,
    ):
        self.executor = executor
        self.store = store
        self.artifact = artifact
        self.previous = previous
        self.endpoint_label = endpoint_label
        self.parent = parent
        self.verbose = verbose
        self.name = artifact.stack_name
        self.template = artifact.template
        self.resources: dict[str, Any] = self.template.get("Resources") or {}
        region = resolve_region(artifact.region)
        account = resolve_account(artifact.account)
        if previous is not None and previous.region != region:
            raise DeployError(f"{self.name} was deployed locally to {previous.region}, not {region}: destroy it first")
        stack_id = previous.stack_id if previous else new_stack_id(region, account, self.name)
        self.pseudo = Pseudo(region, account, self.name, stack_id)
        self.parameters = parameter_values(self.template, parameters, self.name)
        # Only a stack that imports reads the others' state: stacks deployed side by side (a fleet's shards) would
        # each read every other's, while they are being written.
        self.exports: dict[str, Any] = {}
        for other in store.all() if import_arguments(self.template) else ():
            if other.stack_name == self.name:
                continue
            for name, output in other.exports().items():
                self.exports[name] = (
                    Unresolvable(f"{output.unavailable} (stack {other.stack_name})")
                    if output.unavailable
                    else output.value
                )
        self.resolver = Resolver(self.template, self.pseudo, self.parameters, self._lookup, self.exports)
        self.plan: StackPlan = plan_stack(self.name, self.template, previous, self._included)
        # What this run's invocations answered (successful or not), by logical id; nested stacks too.
        self.records: dict[str, ResourceState] = {}
        self.failures: list[tuple[float, str, str]] = []  # (when, logical id, reason), for the first failure
        self.failed_resource = ""
        self.children: dict[str, StackRunView] = {}  # nested stacks this run deployed, by logical id
        self.outputs: dict[str, OutputState] = {}
        self._lock = threading.Lock()
        self._announced = False
        self.creates_in_flight = CreatesInFlight()

    def _included(self, logical_id: str, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        if condition is None:
            return True
        try:
            return self.resolver.condition(condition)
        except Unresolvable as error:
            raise DeployError(f"{self.name}: condition {condition} of {logical_id}: {error}") from None

    # --- values for the resolver -------------------------------------------------

    def deployed(self, logical_id: str) -> ResourceState | None:
        """The resource as it now is: as this run's invocation answered it, else as recorded."""
        with self._lock:
            record = self.records.get(logical_id)
        if record is not None and record.status.endswith("_COMPLETE"):
            return record
        step = self.plan.steps.get(logical_id)
        return step.previous if step is not None else None

    def _lookup(self, logical_id: str, attribute: str | None) -> Any:
        resource = self.resources[logical_id]
        kind = resource.get("Type")
        expression = reference(logical_id, attribute)
        if logical_id not in self.plan.active:
            raise Unresolvable(f"{expression}: {logical_id} is not in the stack (its condition is false)")
        if logical_id in self.plan.steps:
            value = self.deployed(logical_id)
            if value is None:
                raise Unresolvable(f"{expression}: {logical_id} has not been deployed")
            return value.resolve(attribute)
        if kind == LAMBDA_FUNCTION:
            if attribute is None:
                return function_name(self.artifact, logical_id)
            if attribute == "Arn":
                return function_arn(self.artifact, logical_id, self.pseudo)
        raise Unresolvable(f"{expression} refers to {logical_id} ({kind}), which is not deployed locally")

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The resource's properties as CloudFormation sends them: resolved, every scalar a string."""
        return cfn_stringify(self.resolver.resolve(self.resources[logical_id].get("Properties") or {}))

    # --- the deploy ---------------------------------------------------------------

    def announce(self) -> None:
        """The stack's IN_PROGRESS line, before its first change (a deploy without changes has none)."""
        with self._lock:
            if self._announced:
                return
            self._announced = True
        report_not_deployed(self.executor, self.name, self.plan.not_deployed, verbose=self.verbose)
        self.stack_event(StackStatus.UPDATE_IN_PROGRESS if self.previous else StackStatus.CREATE_IN_PROGRESS)

    def deploy(self) -> None:
        """The whole deploy of a root stack: apply, then commit or roll back (the report is the events' fold)."""
        if self.previous is None:
            self.announce()
        warn_of_what_is_not_run(self.executor, self.name, self.template, self.previous, self.endpoint_label)
        problem = self.begin_journal()
        if problem:
            self.stack_event(StackStatus.UPDATE_FAILED if self.previous else StackStatus.CREATE_FAILED, problem)
            return
        failure = self.apply()
        if failure:
            self.rollback(failure)
        else:
            self.commit()

    def begin_journal(self) -> str:
        """The stack's identity first in its journal, so that a replay alone can name the stack; or why not."""
        journal = self.store.journal(self.name)
        try:
            journal.append(stack_entry(self.stack_state(StackStatus.UPDATE_IN_PROGRESS)))
        except OSError as error:
            return f"Cannot write the local state {self.store.path}: {error}"
        return ""

    def apply(self) -> str:
        """Creates and updates in dependency order, then the outputs; why it failed, or ""."""
        results = self.executor.run_graph(
            list(self.plan.steps), self.plan.prerequisites, self._apply, stop_on_failure=True
        )
        failure = ""
        if self.failures:
            _, logical_id, reason = min(self.failures)
            self.failed_resource = logical_id
            failure = f"{self.label(logical_id)}: {reason}"
        elif any(v is False for v in results.values()):
            failure = "Internal error of the local deploy (traceback above)"
        elif self.executor.interrupted or any(v is None for v in results.values()):
            failure = "Interrupted by the user"
        if not failure:
            self.outputs = stack_outputs(self.template, self.resolver)
            exporting = any(o.export_name for o in self.outputs.values()) or (self.previous and self.previous.exports())
            others = [s for s in self.store.all() if s.stack_name != self.name] if exporting else []
            failure = export_problem(self.outputs, self.previous, others)
        return failure

    def commit(self) -> None:
        """After every create and update of the root stack succeeded: nested stacks' cleanup, then this one's."""
        for child in self.children.values():
            child.commit()
        self._cleanup()
        save_new_state(self)

    def rollback(self, failure: str) -> list[str]:
        """Undo this run (and its nested stacks'), after ``failure`` of its own or of a stack above it; what it
        could not undo."""
        return Rollback(self, failure).run()

    def nested_run(
        self, artifact: StackArtifact, previous: StackState | None, parameters: Mapping[str, str]
    ) -> StackRun:
        """The run of one of this stack's nested stacks (``nested_stacks``)."""
        return StackRun(
            self.executor,
            self.store,
            artifact,
            previous,
            endpoint_label=self.endpoint_label,
            parameters=parameters,
            parent=self,
            verbose=self.verbose,
        )

    def add_child(self, logical_id: str, child: StackRunView) -> None:
        """A nested stack this run deployed: committed with it, or rolled back with it."""
        with self._lock:
            self.children[logical_id] = child

    def records_now(self) -> dict[str, ResourceState]:
        """What this run's invocations have answered so far, by logical id."""
        with self._lock:
            return dict(self.records)

    @property
    def changed(self) -> bool:
        """Whether the run changed anything (every change announces the stack first)."""
        with self._lock:
            return self._announced

    def output_attributes(self) -> dict[str, Any]:
        """``Outputs.X`` for Fn::GetAtt on this nested stack's resource in its parent."""
        return {f"Outputs.{k}": o.value for k, o in self.outputs.items() if not o.unavailable}

    # --- events and records ---------------------------------------------------------

    def event(
        self,
        logical_id: str,
        status: ResourceStatus,
        action: Action,
        reason: str = "",
        phase: Phase = Phase.DEPLOY,
        physical_id: str = "",
    ) -> None:
        resource = self.resources.get(logical_id) or {}
        state = ResourceState(
            logical_id, str(resource.get("Type")), physical_id, {}, path=resource_name(self.artifact, logical_id)
        )
        self.executor.resource_event(self.name, state, status, action, phase, reason)

    def stack_event(self, status: StackStatus, reason: str = "", summary: StackSummary | None = None) -> None:
        parent = self.parent.name if self.parent is not None else None
        self.executor.stack_event(self.name, status, reason, self.pseudo.stack_id, parent=parent, summary=summary)

    def label(self, logical_id: str) -> str:
        return resource_label(resource_name(self.artifact, logical_id), logical_id)

    def stack_state(self, status: str, **values: Any) -> StackState:
        return StackState(
            stack_name=self.name,
            stack_id=self.pseudo.stack_id,
            region=self.pseudo.region,
            account_id=self.pseudo.account_id,
            status=status,
            endpoint=self.endpoint_label,
            artifact_id=self.artifact.artifact_id,
            **values,
        )

    def resource_state(self, logical_id: str, **values: Any) -> ResourceState:
        resource = self.resources[logical_id]
        return ResourceState(
            endpoint=self.endpoint_label,
            logical_id=logical_id,
            type=str(resource.get("Type")),
            path=resource_name(self.artifact, logical_id),
            deletion_policy=str(resource.get("DeletionPolicy") or "Delete"),
            update_replace_policy=str(resource.get("UpdateReplacePolicy") or "Delete"),
            depends_on=sorted(self.plan.steps[logical_id].prerequisites),
            **values,
        )

    def record(self, record: ResourceState) -> None:
        with self._lock:
            self.records[record.logical_id] = record

    def failed(self, logical_id: str, verb: str, reason: str, physical_id: str = "") -> bool:
        self.announce()
        with self._lock:
            self.failures.append((time.monotonic(), logical_id, reason))
        action = Action.UPDATE if verb == "UPDATE" else Action.CREATE
        self.event(logical_id, ResourceStatus(f"{verb}_FAILED"), action, reason, physical_id=physical_id)
        self.creates_in_flight.cancel_all()
        return False

    # --- one resource -------------------------------------------------------------------

    def _apply(self, logical_id: str) -> bool:
        """Create or update one resource (or see it is unchanged)."""
        step = self.plan.steps[logical_id]
        try:
            if step.resource_type == NESTED_STACK:
                return deploy_nested_stack(self, step)
            return deploy_resource(self, step)
        except Exception as error:  # a bug of ours: fail the resource (and roll back) rather than hang
            traceback.print_exc()
            verb = "UPDATE" if step.previous else "CREATE"
            return self.failed(logical_id, verb, f"Internal error of the local deploy: {type(error).__name__}: {error}")

    # --- after a success ----------------------------------------------------------------------

    def _cleanup(self) -> None:
        """Delete what left the template and the old resources of replacements (warnings if one is not)."""
        if self.previous is None:
            return
        removals = list(self.plan.removals)
        for logical_id, record in self.records_now().items():
            step = self.plan.steps[logical_id]
            if step.previous is not None and record.status == "UPDATE_COMPLETE" and replaced(step, record):
                removals.append(Removal(logical_id, step.previous, step.previous.update_replace_policy))
        if not removals:
            return
        self.announce()
        self.stack_event(StackStatus.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS)
        failures = self.executor.delete_all(self.previous, removals, phase=Phase.CLEANUP)
        for removal in removals:
            why = failures.get(removal.key)
            if why is not None:
                resource = removal.resource
                self.executor.warning(
                    self.name,
                    f"{resource_label(resource.path, resource.logical_id)}: {resource.physical_id} was not deleted "
                    f"({why}); like CloudFormation, the stack update stands and the resource is no longer managed",
                )
