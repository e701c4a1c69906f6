"""One stack's deploy: the plan of ``plan.py`` run through the executor, the way CloudFormation would do it.

Per stack: creates and updates in dependency order (independent resources
concurrently), unchanged resources skipped, then outputs and exports, then the
cleanup phase (deletes of removed resources and of the old physical resources
of replacements, in reverse dependency order). A failure rolls the stack back:
rollback updates for what was updated in place, then deletes of what this
deploy created, in reverse dependency order; the recorded state stays at the
previous deployment.

A run decides nothing the plan did not, says what happens only through the
executor's events (the report is their fold), and keeps one record per
resource: the ``ResourceState`` its invocation answered, which is also what a
``Ref`` or ``Fn::GetAtt`` of it resolves to and what the new state holds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import traceback
from collections.abc import Mapping
from typing import Any

from ..cloudformation.assembly import StackArtifact
from ..cloudformation.graph import reverse
from ..cloudformation.intrinsics import Pseudo, Resolver, cfn_stringify, import_arguments, parameter_values
from ..cloudformation.outputs import export_problem, stack_outputs
from ..cloudformation.plan import Removal, StackPlan, Step, plan_stack, replaced
from ..cloudformation.requests import CustomResourceRequest, RequestType, made_up_physical_id, new_stack_id
from ..cloudformation.stack_events import Action, Phase, ResourceStatus, StackStatus, StackSummary
from ..cloudformation.templates import (
    LAMBDA_FUNCTION,
    NESTED_STACK,
    nested_artifact,
    nested_stack_name,
    resource_label,
    resource_name,
)
from ..environment import resolve_account, resolve_region
from ..errors import DeployError, Unresolvable
from ..lambda_runtime.functions import function_arn, function_name
from ..services.native import NATIVE_TYPES
from ..state.journal import stack_entry
from ..state.state import OutputState, ResourceState, StackState, StateStore
from .executor import Executor
from .failed_rollback import record_failed_rollback
from .recovery import deliver_unanswered_creates
from .rollback_update import another_physical_id, send_rollback_update


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
        self.children: dict[str, StackRun] = {}  # nested stacks this run deployed, by logical id
        self.outputs: dict[str, OutputState] = {}
        self._lock = threading.Lock()
        self._announced = False
        # The Creates in flight, each with what cancels it; once a resource failed, every one of them is cancelled.
        self._creates_in_flight: dict[str, threading.Event] = {}
        self._cancelling = False

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
        expression = f"Ref {logical_id}" if attribute is None else f"Fn::GetAtt {logical_id}.{attribute}"
        if logical_id not in self.plan.active:
            raise Unresolvable(f"{expression}: {logical_id} is not in the stack (its condition is false)")
        if logical_id in self.plan.steps:
            value = self.deployed(logical_id)
            if value is None:
                raise Unresolvable(f"{expression}: {logical_id} has not been deployed")
            if attribute is None:
                return value.physical_id
            if attribute not in value.data:
                answered = ", ".join(sorted(value.data)) or "none"
                raise Unresolvable(f"{expression}: the provider answered no {attribute} (it answered {answered})")
            return value.data[attribute]
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

    def _announce(self) -> None:
        """The stack's IN_PROGRESS line, before its first change (a deploy without changes has none)."""
        with self._lock:
            if self._announced:
                return
            self._announced = True
        self._report_not_deployed()
        self._stack_event(StackStatus.UPDATE_IN_PROGRESS if self.previous else StackStatus.CREATE_IN_PROGRESS)

    def _report_not_deployed(self) -> None:
        """One short line when the stack changes (the full list with --verbose; always in --json)."""
        not_deployed = self.plan.not_deployed
        if not not_deployed:
            return
        if self.verbose:
            listed = ", ".join(f"{lid} ({kind})" for lid, kind in not_deployed)
            self.executor.line(
                f"{self.name} | not deployed locally: {listed}. "
                "Only Custom::ManagedThing resources, nested stacks and Secrets Manager secrets are deployed; the "
                "provider functions run locally."
            )
            return
        kinds = sorted({kind for _, kind in not_deployed})
        shown = ", ".join(kinds[:3]) + (", ..." if len(kinds) > 3 else "")
        count = len(not_deployed)
        self.executor.line(
            f"{self.name} | {count} resource{'s' if count != 1 else ''} of other types not deployed locally ({shown})"
        )

    def deploy(self) -> None:
        """The whole deploy of a root stack: apply, then commit or roll back (the report is the events' fold)."""
        if self.previous is None:
            self._announce()
        if self.previous and self.previous.endpoint and self.previous.endpoint != self.endpoint_label:
            warning = (
                f"{self.name} was deployed against {self.previous.endpoint}, now {self.endpoint_label} "
                "(--allow-endpoint-change): its recorded things may not exist there"
            )
            self.executor.warning(self.name, warning)
            self.executor.line(f"{self.name} | warning: {warning}")
        if self.template.get("Transform"):
            self.executor.warning(
                self.name,
                f"{self.name} declares the Transform {self.template['Transform']}, which the local deploy does not "
                "run: the template is deployed as synthesized",
            )
        problem = self._begin_journal()
        if problem:
            self._stack_event(StackStatus.UPDATE_FAILED if self.previous else StackStatus.CREATE_FAILED, problem)
            return
        failure = self.apply()
        if failure:
            self._rollback(failure)
        else:
            self.commit()

    def deploy_nested(self) -> str:
        """This nested stack's creates and updates (its cleanup waits for the root's); on failure, its rollback."""
        if self.previous is None:
            self._announce()
        failure = self._begin_journal() or self.apply()
        if failure:
            self._rollback(failure)
        return failure

    def _begin_journal(self) -> str:
        """The stack's identity first in its journal, so that a replay alone can name the stack; or why not."""
        journal = self.store.journal(self.name)
        try:
            journal.append(stack_entry(self._stack_state(StackStatus.UPDATE_IN_PROGRESS)))
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
            failure = f"{self._label(logical_id)}: {reason}"
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
        self._finish()

    def rollback(self, failure: str) -> list[str]:
        """Undo this run (and its nested stacks'), e.g. when a stack above it failed; what it could not undo."""
        return self._rollback(failure)

    @property
    def changed(self) -> bool:
        """Whether the run changed anything (every change announces the stack first)."""
        with self._lock:
            return self._announced

    def output_attributes(self) -> dict[str, Any]:
        """``Outputs.X`` for Fn::GetAtt on this nested stack's resource in its parent."""
        return {f"Outputs.{k}": o.value for k, o in self.outputs.items() if not o.unavailable}

    # --- events and records ---------------------------------------------------------

    def _event(
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

    def _stack_event(self, status: StackStatus, reason: str = "", summary: StackSummary | None = None) -> None:
        parent = self.parent.name if self.parent is not None else None
        self.executor.stack_event(self.name, status, reason, self.pseudo.stack_id, parent=parent, summary=summary)

    def _label(self, logical_id: str) -> str:
        return resource_label(resource_name(self.artifact, logical_id), logical_id)

    def _stack_state(self, status: str, **values: Any) -> StackState:
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

    def _resource_state(self, logical_id: str, **values: Any) -> ResourceState:
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

    def _record(self, record: ResourceState) -> None:
        with self._lock:
            self.records[record.logical_id] = record

    def _failed(self, logical_id: str, verb: str, reason: str, physical_id: str = "") -> bool:
        self._announce()
        with self._lock:
            self.failures.append((time.monotonic(), logical_id, reason))
        action = Action.UPDATE if verb == "UPDATE" else Action.CREATE
        self._event(logical_id, ResourceStatus(f"{verb}_FAILED"), action, reason, physical_id=physical_id)
        self._cancel_creates()
        return False

    def _cancel_creates(self) -> None:
        """As CloudFormation does when a resource fails: every Create in flight (running, or queued by Lambda) is
        CREATE_FAILED "Resource creation cancelled" at once, and the rollback does not wait for its answer: it
        sends a Delete with a physical id it makes up (cloudformation-coverage-roadmap#1814, aws-cdk#36951).
        Updates in flight are waited for: what CloudFormation does with them is not documented."""
        with self._lock:
            self._cancelling = True
            in_flight = list(self._creates_in_flight.values())
        for cancel in in_flight:
            cancel.set()

    # --- one resource -------------------------------------------------------------------

    def _apply(self, logical_id: str) -> bool:
        """Create or update one resource (or see it is unchanged)."""
        step = self.plan.steps[logical_id]
        try:
            if step.resource_type == NESTED_STACK:
                return self._deploy_nested(step)
            return self._deploy_resource(step)
        except Exception as error:  # a bug of ours: fail the resource (and roll back) rather than hang
            traceback.print_exc()
            verb = "UPDATE" if step.previous else "CREATE"
            return self._failed(
                logical_id, verb, f"Internal error of the local deploy: {type(error).__name__}: {error}"
            )

    def _deploy_resource(self, step: Step) -> bool:
        """A managed thing (through its provider function) or a native resource such as a secret."""
        logical_id, old = step.logical_id, step.previous
        verb = "UPDATE" if old else "CREATE"
        native = step.resource_type in NATIVE_TYPES
        try:
            properties = self.properties(logical_id)
            token = "" if native else properties.get("ServiceToken")
            if not native and (not isinstance(token, str) or not token):
                raise Unresolvable("the resource has no ServiceToken")
            assert isinstance(token, str)
            recorded = self.executor.recorded_properties(step.resource_type, properties)
            if old is not None and old.properties == recorded and not old.status.endswith("_FAILED"):
                return True  # unchanged: no request, the record stays as it was
            # (a Create that failed, kept by a failed rollback, is sent again as an Update: the provider creates
            # the thing, and the cleanup's Delete of the failed id removes what that Create may have made)
            if old is not None and old.service_token != token:
                raise Unresolvable("Modifying service token is not allowed.")
            function = self.executor.provider(step.resource_type, token)
        except Unresolvable as error:
            return self._failed(logical_id, verb, str(error))
        cancel = threading.Event()
        with self._lock:
            if self._cancelling:
                return False  # a sibling failed meanwhile: CloudFormation starts nothing more
            if old is None and not native:
                self._creates_in_flight[logical_id] = cancel
        self._announce()
        action = Action.UPDATE if old else Action.CREATE
        self._event(logical_id, ResourceStatus(f"{verb}_IN_PROGRESS"), action)
        sent = self._resource_state(
            logical_id, physical_id=old.physical_id if old else "", properties=recorded, service_token=token
        )
        request = CustomResourceRequest(
            RequestType.UPDATE if old else RequestType.CREATE,
            self.pseudo.stack_id,
            logical_id,
            step.resource_type,
            token,
            properties,
            physical_id=old.physical_id if old else None,
            old_properties=old.properties if old else None,
        )
        try:
            outcome = self.executor.invoke(self.name, sent, function, request, cancel=cancel)
        finally:
            with self._lock:
                self._creates_in_flight.pop(logical_id, None)
        answer = outcome.answer
        physical_id = answer.physical_id if answer is not None else ""
        if outcome.cancelled:  # its Delete, with a made-up id and these properties, comes with the rollback
            self._record(dataclasses.replace(sent, status="CREATE_FAILED"))
            self._event(logical_id, ResourceStatus.CREATE_FAILED, Action.CREATE, outcome.reason)
            return False
        if not outcome.succeeded:
            self._record(dataclasses.replace(sent, physical_id=physical_id, status=f"{verb}_FAILED"))
            return self._failed(logical_id, verb, outcome.reason, physical_id)
        assert answer is not None
        record = dataclasses.replace(sent, physical_id=physical_id, data=dict(answer.data), status=f"{verb}_COMPLETE")
        self._record(record)
        note = ""
        if replaced(step, record):
            assert old is not None
            action = Action.REPLACE
            note = f"replaced: {old.physical_id} -> {physical_id} (the old one is deleted in the cleanup)"
        self._event(logical_id, ResourceStatus(f"{verb}_COMPLETE"), action, note, physical_id=physical_id)
        return True

    def _deploy_nested(self, step: Step) -> bool:
        """A nested stack: its own run, as a resource of this one (Ref: its stack id; GetAtt Outputs.X)."""
        logical_id, old = step.logical_id, step.previous
        verb = "UPDATE" if old else "CREATE"
        request_type = RequestType.UPDATE if old else RequestType.CREATE
        action = Action.UPDATE if old else Action.CREATE
        try:
            properties = self.properties(logical_id)
            child_name = str(old.data.get("StackName")) if old else nested_stack_name(self.name, logical_id)
            artifact = nested_artifact(self.artifact, logical_id, child_name, self.pseudo)
            self.executor.add_stacks([artifact])
            if old is not None:
                deliver_unanswered_creates(self.store, self.executor, child_name)
            child = StackRun(
                self.executor,
                self.store,
                artifact,
                self.store.load(child_name) if old else None,
                endpoint_label=self.endpoint_label,
                parameters={k: str(v) for k, v in (properties.get("Parameters") or {}).items()},
                parent=self,
                verbose=self.verbose,
            )
        except (DeployError, Unresolvable) as error:
            return self._failed(logical_id, verb, str(error))
        self._announce()
        self._event(logical_id, ResourceStatus(f"{verb}_IN_PROGRESS"), action)
        # The parent's journal points to the nested stack before it deploys: if this process dies meanwhile,
        # a destroy of the parent still finds the nested stack, and through its journal every thing of it.
        pointer = self._resource_state(
            logical_id,
            physical_id=child.pseudo.stack_id,
            properties=properties,
            data={**(old.data if old else {}), "StackName": child_name},
            status=f"{verb}_COMPLETE",
        )
        self.executor.record(self.name, request_type, pointer, pointer.data)
        failure = child.deploy_nested()
        if failure:
            left = self.store.load(child_name)
            if old is None and (left is None or not left.resources):  # it rolled back to nothing
                self.executor.record(self.name, RequestType.DELETE, pointer, {})
            reason = f"Embedded stack {child.pseudo.stack_id} was not successfully {verb.lower()}d: {failure}"
            return self._failed(logical_id, verb, reason, child.pseudo.stack_id)
        with self._lock:
            self.children[logical_id] = child
        unchanged = old is not None and old.properties == properties and not child.changed
        record = dataclasses.replace(
            pointer,
            data={"StackName": child_name, **child.output_attributes()},
            status=old.status if unchanged and old is not None else pointer.status,
        )
        self._record(record)
        self.executor.record(self.name, request_type, record, record.data)
        if not unchanged:
            self._event(logical_id, ResourceStatus(f"{verb}_COMPLETE"), action, physical_id=record.physical_id)
        return True

    # --- after a success ----------------------------------------------------------------------

    def _cleanup(self) -> None:
        """Delete what left the template and the old resources of replacements (warnings if one is not)."""
        if self.previous is None:
            return
        removals = list(self.plan.removals)
        with self._lock:
            records = dict(self.records)
        for logical_id, record in records.items():
            step = self.plan.steps[logical_id]
            if step.previous is not None and record.status == "UPDATE_COMPLETE" and replaced(step, record):
                removals.append(Removal(logical_id, step.previous, step.previous.update_replace_policy))
        if not removals:
            return
        self._announce()
        self._stack_event(StackStatus.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS)
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

    def _finish(self) -> None:
        """The new state saved, and the stack's last event (or "no changes")."""
        resources: dict[str, ResourceState] = {}
        functions: dict[str, dict[str, Any]] = {}
        for logical_id in self.plan.steps:
            current = self.deployed(logical_id)
            assert current is not None, f"{logical_id} was neither deployed nor recorded"
            resources[logical_id] = self._resource_state(
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
                    functions[token] = self.executor.function(token).to_json()
                except Unresolvable:
                    if self.previous and token in self.previous.functions:
                        functions[token] = self.previous.functions[token]
        imports = sorted(self.resolver.imports)
        changed = (
            self._announced
            or self.previous is None
            or self.previous.status.endswith("_FAILED")  # a redeploy that recovers a failed stack changes it
            or self.previous.outputs != self.outputs
            or sorted(self.previous.imports) != imports
        )
        status = StackStatus.CREATE_COMPLETE if self.previous is None else StackStatus.UPDATE_COMPLETE
        if not changed:
            assert self.previous is not None
            status = StackStatus(self.previous.status)
        state = self._stack_state(
            status, resources=resources, outputs=self.outputs, imports=imports, functions=functions
        )
        error = ""
        try:
            self.store.save(state)
        except OSError as problem:
            error = (
                f"Cannot write the local state {self.store.path} ({problem.strerror or problem}); what was deployed is "
                f"kept in the journal of {self.name}: destroy and the next deploy find it there"
            )
        summary = StackSummary(
            outputs=self.outputs,
            resources=resources,
            not_deployed=self.plan.not_deployed,
            no_changes=not changed,
            note="" if changed else "no changes",
            error=error,
        )
        if changed:
            self._announce()
        self._stack_event(status, summary=summary)

    # --- after a failure ----------------------------------------------------------------------

    def _rollback(self, failure: str) -> list[str]:
        """Roll this run back: nested stacks, rollback updates, then deletes of what it created."""
        self._announce()
        first = self.previous is None
        self._stack_event(
            StackStatus.ROLLBACK_IN_PROGRESS if first else StackStatus.UPDATE_ROLLBACK_IN_PROGRESS, failure
        )
        problems: list[str] = []
        with self._lock:
            records = dict(self.records)
        # 0. Nested stacks this deploy changed are rolled back with their parent (created ones are deleted below).
        # Side by side, each after the nested stacks that depend on it.
        updated = {lid: c for lid, c in self.children.items() if c.previous is not None and c.changed}

        def roll_back_child(logical_id: str) -> bool:
            undone = updated[logical_id].rollback(f"the parent stack {self.name} is rolled back")
            problems.extend(f"{self._label(logical_id)}: {p}" for p in undone)
            return not undone

        nested_failed: list[str] = []
        if updated:
            results = self.executor.run_graph(
                list(updated), reverse(list(updated), self.plan.prerequisites), roll_back_child, stop_on_failure=False
            )
            nested_failed = [lid for lid, ok in results.items() if ok is not True]
        # 1. What was updated in place (or attempted) goes back to its previous properties, in dependency order.
        updates = {
            lid: record
            for lid, record in records.items()
            if (step := self.plan.steps[lid]).previous is not None
            and step.resource_type != NESTED_STACK
            and not (record.status == "UPDATE_COMPLETE" and replaced(step, record))
        }
        if updates:
            results = self.executor.run_graph(
                list(updates),
                self.plan.prerequisites,
                lambda lid: self._rollback_update(self.plan.steps[lid], updates[lid], problems),
                stop_on_failure=False,
            )
            problems += [
                f"{self._label(lid)}: rollback update not started" for lid, ok in results.items() if ok is None
            ]
            updates_failed = {lid: record for lid, record in updates.items() if results.get(lid) is not True}
        else:
            updates_failed = {}
        # 2. What this deploy created, and the new resources of replacements, are deleted in reverse order.
        removals: list[Removal] = []
        deletes_failed: set[tuple[str, str]] = set()
        for logical_id, record in records.items():
            step = self.plan.steps[logical_id]
            if step.resource_type == NESTED_STACK:
                created_child = self.children.get(logical_id)
                if (
                    created_child is not None and created_child.previous is None
                ):  # a nested stack this deploy created: destroyed
                    removals.append(Removal(logical_id, record, "Delete"))
                continue
            if not (step.previous is None or (record.status == "UPDATE_COMPLETE" and replaced(step, record))):
                continue
            # A Create that never answered still gets its Delete, with an id CloudFormation makes up.
            physical_id = record.physical_id or made_up_physical_id(self.name, logical_id)
            removals.append(
                Removal(logical_id, dataclasses.replace(record, physical_id=physical_id), record.deletion_policy)
            )
        if removals:
            context = StackState(self.name, self.pseudo.stack_id, self.pseudo.region, self.pseudo.account_id)
            failures = self.executor.delete_all(context, removals, phase=Phase.ROLLBACK, functions={})
            for removal in removals:
                label, physical_id = self._label(removal.resource.logical_id), removal.resource.physical_id
                why = failures.get(removal.key)
                if why is not None:
                    problems.append(f"{label}: {physical_id} was not deleted ({why})")
                    deletes_failed.add((removal.resource.logical_id, physical_id))
                elif removal.retained:
                    self.executor.warning(self.name, f"{label}: {physical_id} retained by its DeletionPolicy")
        for problem in problems:
            self.executor.warning(self.name, problem)
        with contextlib.suppress(OSError):  # what the rollback could not undo stays in the journal
            self.store.settle(self.name)
        if first:
            status = StackStatus.ROLLBACK_FAILED if problems else StackStatus.ROLLBACK_COMPLETE
        else:
            status = StackStatus.UPDATE_ROLLBACK_FAILED if problems else StackStatus.UPDATE_ROLLBACK_COMPLETE
        if problems:  # the stack rests in that status until a destroy, or `managed-things rollback`, gets it out
            targets = {
                lid: (target, record)
                for lid, record in updates_failed.items()
                if (target := self.plan.steps[lid].previous) is not None
            }
            with contextlib.suppress(OSError):
                record_failed_rollback(self.store, self.name, status, targets, deletes_failed, nested_failed)
        # What stays is the previous deployment.
        summary = StackSummary(
            outputs=self.previous.outputs if self.previous else {},
            resources=self.previous.resources if self.previous else {},
            not_deployed=self.plan.not_deployed,
            failed_resource=self.failed_resource,
        )
        self._stack_event(status, "; ".join(problems), summary=summary)
        return problems

    def _rollback_update(self, step: Step, record: ResourceState, problems: list[str]) -> bool:
        """The Update CloudFormation sends on rollback: the previous properties, the attempted ones as old."""
        old = step.previous
        assert old is not None
        label = self._label(step.logical_id)
        self._event(step.logical_id, ResourceStatus.UPDATE_IN_PROGRESS, Action.ROLLBACK, phase=Phase.ROLLBACK)
        outcome = send_rollback_update(
            self.executor,
            self.name,
            self.pseudo.stack_id,
            old,
            record.properties,
            self.previous.functions if self.previous else None,
        )
        if outcome.succeeded:
            assert outcome.answer is not None
            physical_id = outcome.answer.physical_id
            if physical_id != old.physical_id:
                problems.append(f"{label}: {another_physical_id(physical_id, old.physical_id)}")
            self._event(
                step.logical_id,
                ResourceStatus.UPDATE_COMPLETE,
                Action.ROLLBACK,
                phase=Phase.ROLLBACK,
                physical_id=physical_id,
            )
            return True
        problems.append(f"{label}: rollback update failed ({outcome.reason})")
        self._event(
            step.logical_id,
            ResourceStatus.UPDATE_FAILED,
            Action.ROLLBACK,
            f"rollback update failed: {outcome.reason}",
            Phase.ROLLBACK,
        )
        return False
