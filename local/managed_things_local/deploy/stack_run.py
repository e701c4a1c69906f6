"""One stack's deploy of its Custom::ManagedThing resources, the way CloudFormation would do it.

Per stack: creates and updates in dependency order (independent resources
concurrently), unchanged resources skipped, then outputs and exports, then the
cleanup phase (deletes of removed resources and of the old physical resources
of replacements, in reverse dependency order). A failure rolls the stack back:
rollback updates for what was updated in place, then deletes of what this
deploy created, in reverse dependency order; the recorded state stays at the
previous deployment.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..environment import resolve_account, resolve_region
from .assembly import StackArtifact
from .changes import Change, Deletion
from .dependencies import deployed_dependencies
from .errors import DeployError, Unresolvable
from .executor import Executor
from .functions import function_arn, function_name
from .graph import check_acyclic
from .intrinsics import Pseudo, Resolver, cfn_stringify, parameter_values, resource_dependencies
from .invoker import Outcome
from .journal import stack_entry
from .progress import ResourceReport, StackReport
from .requests import CustomResourceRequest, RequestType, made_up_physical_id, new_stack_id
from .stack_events import Action, Phase, ResourceStatus, StackStatus
from .state import OutputState, ResourceState, StackState, StateStore
from .templates import (
    LAMBDA_FUNCTION,
    MANAGED_THING,
    NESTED_STACK,
    nested_artifact,
    nested_stack_name,
    resource_label,
    resource_path,
)


@dataclass
class Value:
    physical_id: str
    data: dict[str, Any]


class StackRun:
    def __init__(
        self,
        executor: Executor,
        store: StateStore,
        artifact: StackArtifact,
        previous: StackState | None,
        report: StackReport,
        *,
        endpoint_label: str,
        parameters: Mapping[str, str],
        parent: StackRun | None = None,
        verbose: bool = False,
    ):
        self.parent = parent
        self.verbose = verbose
        self.children: dict[str, StackRun] = {}  # nested stacks this run deployed, by logical id
        self.outputs: dict[str, OutputState] = {}
        self.executor = executor
        self.store = store
        self.endpoint_label = endpoint_label
        self.artifact = artifact
        self.previous = previous
        self.report = report
        self.name = artifact.stack_name
        self.template = artifact.template
        region = resolve_region(artifact.region)
        account = resolve_account(artifact.account)
        if previous is not None and previous.region != region:
            raise DeployError(f"{self.name} was deployed locally to {previous.region}, not {region}: destroy it first")
        stack_id = previous.stack_id if previous else new_stack_id(region, account, self.name)
        self.pseudo = Pseudo(region, account, self.name, stack_id)
        report.stack_id, report.region, report.account_id = stack_id, region, account
        self.parameters = parameter_values(self.template, parameters, self.name)
        self.exports: dict[str, Any] = {}
        for other in store.all():
            if other.stack_name == self.name:
                continue
            for name, output in other.exports().items():
                self.exports[name] = (
                    Unresolvable(f"{output.unavailable} (stack {other.stack_name})")
                    if output.unavailable
                    else output.value
                )
        self.values: dict[str, Value] = {}
        if previous:
            self.values = {lid: Value(r.physical_id, dict(r.data)) for lid, r in previous.resources.items()}
        self.resolver = Resolver(self.template, self.pseudo, self.parameters, self._lookup, self.exports)
        self.resources: dict[str, Any] = self.template.get("Resources") or {}
        self.active = {lid: r for lid, r in self.resources.items() if self._included(lid, r)}
        # What this deploy deploys: managed things and nested stacks.
        self.things = {lid: r for lid, r in self.active.items() if r.get("Type") in (MANAGED_THING, NESTED_STACK)}
        self.not_deployed = [(lid, str(r.get("Type"))) for lid, r in self.active.items() if lid not in self.things]
        report.not_deployed = list(self.not_deployed)
        if self.template.get("Transform"):
            report.warnings.append(
                f"{self.name} declares the Transform {self.template['Transform']}, which the local deploy does not "
                "run: the template is deployed as synthesized"
            )
        graph = resource_dependencies({"Resources": self.active})
        check_acyclic(list(graph), graph, f"{self.name}: the resources")
        self.depends_on = {lid: deployed_dependencies(lid, graph, self.things) for lid in self.things}
        self.changes: dict[str, Change] = {}
        self._lock = threading.Lock()
        self._announced = False

    def _included(self, logical_id: str, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        if condition is None:
            return True
        try:
            return self.resolver.condition(condition)
        except Unresolvable as error:
            raise DeployError(f"{self.name}: condition {condition} of {logical_id}: {error}") from None

    # --- values for the resolver -------------------------------------------------

    def _lookup(self, logical_id: str, attribute: str | None) -> Any:
        resource = self.resources[logical_id]
        kind = resource.get("Type")
        expression = f"Ref {logical_id}" if attribute is None else f"Fn::GetAtt {logical_id}.{attribute}"
        if logical_id not in self.active:
            raise Unresolvable(f"{expression}: {logical_id} is not in the stack (its condition is false)")
        if logical_id in self.things:
            with self._lock:
                value = self.values.get(logical_id)
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
        if not self.not_deployed:
            return
        if self.verbose:
            listed = ", ".join(f"{lid} ({kind})" for lid, kind in self.not_deployed)
            self.executor.line(
                f"{self.name} | not deployed locally: {listed}. "
                "Only Custom::ManagedThing resources and nested stacks are deployed; their provider functions run "
                "locally."
            )
            return
        kinds = sorted({kind for _, kind in self.not_deployed})
        shown = ", ".join(kinds[:3]) + (", ..." if len(kinds) > 3 else "")
        count = len(self.not_deployed)
        self.executor.line(
            f"{self.name} | {count} resource{'s' if count != 1 else ''} of other types not deployed locally ({shown})"
        )

    def deploy(self) -> StackReport:
        if self.previous is None:
            self._announce()
        if self.previous and self.previous.endpoint and self.previous.endpoint != self.endpoint_label:
            warning = (
                f"{self.name} was deployed against {self.previous.endpoint}, now {self.endpoint_label} "
                "(--allow-endpoint-change): its recorded things may not exist there"
            )
            self.report.warnings.append(warning)
            self.executor.line(f"{self.name} | warning: {warning}")
        problem = self._begin_journal()
        if problem:
            status = StackStatus.UPDATE_FAILED if self.previous else StackStatus.CREATE_FAILED
            self.report.status, self.report.error = str(status), problem
            self._stack_event(status, problem)
            return self.report
        failure = self.apply()
        if failure:
            return self._rollback(failure)
        return self.commit()

    def _begin_journal(self) -> str:
        """The stack's identity first in its journal, so that a replay alone can name the stack; or why not."""
        journal = self.store.journal(self.name)
        try:
            journal.append(stack_entry(self._stack_state(StackStatus.UPDATE_IN_PROGRESS)))
        except OSError as error:
            return f"Cannot write the local state {journal.path}: {error}"
        return ""

    def apply(self) -> str:
        """Creates and updates in dependency order, then the outputs; why it failed, or ""."""
        order = list(self.things)
        results = self.executor.run_graph(order, self.depends_on, self._apply, stop_on_failure=True)
        failed = sorted(
            (c for c in self.changes.values() if c.action != "none" and not c.succeeded), key=lambda c: c.finished
        )
        failure = ""
        if failed:
            change = failed[0]
            self.report.failed_resource = change.logical_id
            failure = f"{self._label(change.logical_id)}: {change.reason}"
        elif any(v is False for v in results.values()):
            failure = "Internal error of the local deploy (traceback above)"
        elif self.executor.interrupted or any(v is None for v in results.values()):
            failure = "Interrupted by the user"
        if not failure:
            self.outputs = self._outputs()
            failure = self._export_problem(self.outputs)
        return failure

    def commit(self) -> StackReport:
        """After every create and update of the root stack succeeded: nested stacks' cleanup, then this one's."""
        for child in self.children.values():
            child.commit()
        self._cleanup()
        return self._finish(self.outputs)

    def rollback(self, failure: str) -> StackReport:
        """Undo this run (and its nested stacks'), e.g. when a stack above it failed."""
        return self._rollback(failure)

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
            logical_id, str(resource.get("Type")), physical_id, {}, path=resource_path(self.artifact, resource)
        )
        self.executor.resource_event(self.name, state, status, action, phase, reason)

    def _stack_event(self, status: StackStatus, reason: str = "") -> None:
        self.executor.stack_event(self.name, status, reason, self.pseudo.stack_id)

    def _label(self, logical_id: str) -> str:
        return resource_label(resource_path(self.artifact, self.resources.get(logical_id, {})), logical_id)

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
            path=resource_path(self.artifact, resource),
            deletion_policy=str(resource.get("DeletionPolicy") or "Delete"),
            update_replace_policy=str(resource.get("UpdateReplacePolicy") or "Delete"),
            depends_on=sorted(self.depends_on.get(logical_id, ())),
            **values,
        )

    def _apply(self, logical_id: str) -> bool:
        """Create or update one resource (or see it is unchanged)."""
        try:
            return self._create_or_update(logical_id)
        except Exception as error:  # a bug of ours: fail the resource (and roll back) rather than hang
            traceback.print_exc()
            change = self.changes.get(logical_id) or Change(logical_id, "create")
            self.changes[logical_id] = change
            kind = str(self.things[logical_id].get("Type"))
            return self._failed(
                change,
                kind,
                self._label(logical_id),
                "CREATE_FAILED" if change.action == "create" else "UPDATE_FAILED",
                f"Internal error of the local deploy: {type(error).__name__}: {error}",
            )

    def _create_or_update(self, logical_id: str) -> bool:
        resource = self.things[logical_id]
        if resource.get("Type") == NESTED_STACK:
            return self._deploy_nested(logical_id)
        old = self.previous.resources.get(logical_id) if self.previous else None
        change = Change(logical_id, "update" if old else "create", old=old)
        with self._lock:
            self.changes[logical_id] = change
        kind = str(resource.get("Type"))
        label = self._label(logical_id)
        verb = "UPDATE" if old else "CREATE"
        try:
            properties = cfn_stringify(self.resolver.resolve(resource.get("Properties") or {}))
            token = properties.get("ServiceToken")
            if not isinstance(token, str) or not token:
                raise Unresolvable("the resource has no ServiceToken")
            change.properties, change.service_token = properties, token
            if old is not None and old.properties == properties:
                change.action, change.succeeded = "none", True
                change.physical_id, change.data = old.physical_id, dict(old.data)
                return True
            if old is not None and old.service_token != token:
                raise Unresolvable("Modifying service token is not allowed.")
            change.function = self.executor.function(token)
        except Unresolvable as error:
            return self._failed(change, kind, label, f"{verb}_FAILED", str(error))
        self._announce()
        action = Action.UPDATE if old else Action.CREATE
        self._event(logical_id, ResourceStatus(f"{verb}_IN_PROGRESS"), action)
        state = self._resource_state(
            logical_id, physical_id=old.physical_id if old else "", properties=properties, service_token=token
        )
        change.invoked = True
        request = CustomResourceRequest(
            RequestType.UPDATE if old else RequestType.CREATE,
            self.pseudo.stack_id,
            logical_id,
            kind,
            token,
            properties,
            physical_id=old.physical_id if old else None,
            old_properties=old.properties if old else None,
        )
        outcome = self.executor.invoke(self.name, state, change.function, request)
        if outcome.answer is not None:
            change.physical_id = outcome.answer.physical_id
        if not outcome.succeeded:
            return self._failed(change, kind, label, f"{verb}_FAILED", outcome.reason)
        assert outcome.answer is not None
        change.succeeded = True
        change.data = dict(outcome.answer.data)
        change.finished = time.monotonic()
        with self._lock:
            self.values[logical_id] = Value(change.physical_id, change.data)
        note = ""
        if change.replaced:
            assert old is not None
            note = f"replaced: {old.physical_id} -> {change.physical_id} (the old one is deleted in the cleanup)"
        self._event(
            logical_id,
            ResourceStatus(f"{verb}_COMPLETE"),
            Action.REPLACE if change.replaced else action,
            note,
            physical_id=change.physical_id,
        )
        return True

    def _deploy_nested(self, logical_id: str) -> bool:
        """A nested stack: its own run, as a resource of this one (Ref: its stack id; GetAtt Outputs.X)."""
        resource = self.things[logical_id]
        old = self.previous.resources.get(logical_id) if self.previous else None
        change = Change(logical_id, "update" if old else "create", old=old)
        with self._lock:
            self.changes[logical_id] = change
        verb = "UPDATE" if old else "CREATE"
        action = Action.UPDATE if old else Action.CREATE
        try:
            properties = cfn_stringify(self.resolver.resolve(resource.get("Properties") or {}))
            child_name = str(old.data.get("StackName")) if old else nested_stack_name(self.name, logical_id)
            artifact = nested_artifact(self.artifact, logical_id, child_name, self.pseudo)
            self.executor.add_stacks([artifact])
            previous = self.store.load(child_name) if old else None
            child = StackRun(
                self.executor,
                self.store,
                artifact,
                previous,
                StackReport(child_name),
                endpoint_label=self.endpoint_label,
                parameters={k: str(v) for k, v in (properties.get("Parameters") or {}).items()},
                parent=self,
                verbose=self.verbose,
            )
        except (DeployError, Unresolvable) as error:
            return self._failed(change, NESTED_STACK, self._label(logical_id), f"{verb}_FAILED", str(error))
        change.properties = properties
        self._announce()
        self._event(logical_id, ResourceStatus(f"{verb}_IN_PROGRESS"), action)
        self.report.nested.append(child.report)
        failure = child.deploy_nested()
        change.physical_id = child.pseudo.stack_id
        if failure:
            reason = f"Embedded stack {child.pseudo.stack_id} was not successfully {verb.lower()}d: {failure}"
            return self._failed(change, NESTED_STACK, self._label(logical_id), f"{verb}_FAILED", reason)
        with self._lock:
            self.children[logical_id] = child
        change.succeeded = True
        change.data = {"StackName": child_name, **child.output_attributes()}
        change.finished = time.monotonic()
        if old is not None and old.properties == properties and not child.changed:
            change.action = "none"
        with self._lock:
            self.values[logical_id] = Value(change.physical_id, change.data)
        # In this stack's journal too, so that a destroy finds the nested stack even if this stack's state is lost.
        recorded = self._resource_state(logical_id, physical_id=change.physical_id, properties=properties)
        self.executor.record(self.name, RequestType.UPDATE if old else RequestType.CREATE, recorded, change.data)
        if change.action != "none":
            self._event(logical_id, ResourceStatus(f"{verb}_COMPLETE"), action, physical_id=change.physical_id)
        return True

    def deploy_nested(self) -> str:
        """This nested stack's creates and updates (its cleanup waits for the root's); on failure, its rollback."""
        if self.previous is None:
            self._announce()
        failure = self._begin_journal() or self.apply()
        if failure:
            self._rollback(failure)
        return failure

    @property
    def changed(self) -> bool:
        return self._announced or any(c.action != "none" for c in self.changes.values())

    def output_attributes(self) -> dict[str, Any]:
        """``Outputs.X`` for Fn::GetAtt on this nested stack's resource in its parent."""
        return {f"Outputs.{k}": o.value for k, o in self.outputs.items() if not o.unavailable}

    def _failed(self, change: Change, kind: str, label: str, status: str, reason: str) -> bool:
        self._announce()
        change.reason = reason
        change.finished = time.monotonic()
        entry = self._entry(change.logical_id)
        entry.status, entry.reason = status, reason
        action = Action.CREATE if change.action == "create" else Action.UPDATE
        self._event(change.logical_id, ResourceStatus(status), action, reason, physical_id=change.physical_id)
        return False

    def _entry(self, logical_id: str) -> ResourceReport:
        resource = self.resources.get(logical_id) or {}
        with self._lock:
            return self.report.resources.setdefault(
                logical_id,
                ResourceReport(logical_id, str(resource.get("Type")), resource_path(self.artifact, resource)),
            )

    # --- outputs and exports ---------------------------------------------------------------

    def _outputs(self) -> dict[str, OutputState]:
        outputs: dict[str, OutputState] = {}
        for key, output in (self.template.get("Outputs") or {}).items():
            if output.get("Condition") and not self._output_condition(output["Condition"]):
                continue
            state = OutputState(description=output.get("Description"))
            try:
                export = (output.get("Export") or {}).get("Name")
                state.export_name = self.resolver.resolve(export) if export is not None else None
            except Unresolvable as error:
                state.unavailable = f"its export name has no local value: {error}"
                outputs[key] = state
                continue
            try:
                value = cfn_stringify(self.resolver.resolve(output.get("Value")))
                state.value = ",".join(value) if isinstance(value, list) else value
            except Unresolvable as error:
                state.unavailable = str(error)
            outputs[key] = state
        return outputs

    def _output_condition(self, name: str) -> bool:
        try:
            return self.resolver.condition(name)
        except Unresolvable:
            return False

    def _export_problem(self, outputs: Mapping[str, OutputState]) -> str:
        others = [s for s in self.store.all() if s.stack_name != self.name]
        taken = {export: s.stack_name for s in others for export in s.exports()}
        new = {o.export_name: o for o in outputs.values() if o.export_name}
        for export in new:
            if export in taken:
                return f"Export with name {export} is already exported by stack {taken[export]}"
        old = self.previous.exports() if self.previous else {}
        for export, before in old.items():
            users = sorted(s.stack_name for s in others if export in s.imports)
            if not users:
                continue
            if export not in new:
                return f"Cannot delete export {export} as it is in use by {users[0]}"
            if new[export].value != before.value or new[export].unavailable != before.unavailable:
                return f"Cannot update export {export} as it is in use by {users[0]}"
        return ""

    # --- after a success ----------------------------------------------------------------------

    def _cleanup(self) -> None:
        if self.previous is None:
            return
        deletes: list[Deletion] = []
        for key, old in self.previous.resources.items():
            change = self.changes.get(key)
            if key not in self.things:  # removed (or replaced by a run whose state was never written)
                policy = old.deletion_policy if old.logical_id not in self.things else old.update_replace_policy
                deletes.append(Deletion(old, old.physical_id, old.properties, policy, self.previous.functions, key=key))
            elif change is not None and change.replaced:
                deletes.append(
                    Deletion(old, old.physical_id, old.properties, old.update_replace_policy, self.previous.functions)
                )
        if not deletes:
            return
        self._announce()
        self._stack_event(StackStatus.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS)
        cleanup = StackReport(self.name)
        results = self.executor.delete_all(self.previous, deletes, cleanup, phase=Phase.CLEANUP)
        for deletion in deletes:
            logical_id = deletion.resource.logical_id
            entry = cleanup.resources.get(logical_id)
            if entry is not None and logical_id not in self.things:  # a replaced one keeps its entry for its new id
                self.report.resources[logical_id] = entry
            if results.get(deletion.name) is not True:
                why = entry.reason if entry is not None and entry.reason else "not started"
                self.report.warnings.append(
                    f"{resource_label(deletion.resource.path, logical_id)}: {deletion.physical_id} was not deleted "
                    f"({why}); "
                    "like CloudFormation, the stack update stands and the resource is no longer managed"
                )

    def _finish(self, outputs: dict[str, OutputState]) -> StackReport:
        resources: dict[str, ResourceState] = {}
        functions: dict[str, dict[str, Any]] = {}
        for logical_id in self.things:
            change = self.changes[logical_id]
            assert change.properties is not None
            old = change.old
            status = old.status if change.action == "none" and old else f"{change.action.upper()}_COMPLETE"
            resources[logical_id] = self._resource_state(
                logical_id,
                physical_id=change.physical_id,
                properties=change.properties,
                data=change.data,
                status=status,
                service_token=change.service_token,
            )
            if change.service_token and change.service_token not in functions:
                try:
                    spec = self.executor.function(change.service_token)
                    functions[change.service_token] = spec.to_json()
                except Unresolvable:
                    if self.previous and change.service_token in self.previous.functions:
                        functions[change.service_token] = self.previous.functions[change.service_token]
            entry = self._entry(logical_id)
            entry.status, entry.physical_id, entry.reason = status, change.physical_id, ""
            entry.action = "replace" if change.replaced else change.action
        first = self.previous is None
        status = "CREATE_COMPLETE" if first else "UPDATE_COMPLETE"
        changed = (
            self._announced
            or self.previous is None
            or self.previous.outputs != outputs
            or sorted(self.previous.imports) != sorted(self.resolver.imports)
        )
        if not changed:
            assert self.previous is not None
            status = self.previous.status
            self.report.no_changes = True
        state = self._stack_state(
            status, resources=resources, outputs=outputs, imports=sorted(self.resolver.imports), functions=functions
        )
        try:
            self.store.save(state)
        except OSError as error:
            self.report.error = (
                f"Cannot write the local state {self.store.snapshot_path(self.name)} ({error.strerror or error}); "
                f"what was deployed is kept in {self.store.journal(self.name).path}: destroy and the next deploy "
                "find it there"
            )
        self.report.status = status
        self._order_report()
        self._report_outputs(outputs)
        if changed:
            self._announce()
            self._stack_event(StackStatus(status))
        else:
            self.executor.line(f"{self.name} | no changes")
        return self.report

    def _report_outputs(self, outputs: Mapping[str, OutputState]) -> None:
        for key, output in outputs.items():
            if output.unavailable:
                self.report.unavailable_outputs[key] = output.unavailable
                continue
            self.report.outputs[key] = output.value
            if output.export_name:
                self.report.exports[output.export_name] = output.value

    # --- after a failure ----------------------------------------------------------------------

    def _rollback(self, failure: str) -> StackReport:
        self._announce()
        first = self.previous is None
        self.report.error = failure
        stack_status = "ROLLBACK" if first else "UPDATE_ROLLBACK"
        self._stack_event(StackStatus(f"{stack_status}_IN_PROGRESS"), failure)
        problems: list[str] = []
        # 0. Nested stacks this deploy updated are rolled back with their parent (created ones are deleted below).
        updated_children = [(lid, c) for lid, c in self.children.items() if c.previous is not None]
        for logical_id, child in reversed(updated_children):
            rolled = child.rollback(f"the parent stack {self.name} is rolled back")
            problems += [f"{self._label(logical_id)}: {w}" for w in rolled.warnings if rolled.status.endswith("FAILED")]
        # 1. What was updated in place (or attempted) goes back to its previous properties, in dependency order.
        updates = {
            c.logical_id: c
            for c in self.changes.values()
            if c.action == "update" and c.invoked and not c.replaced and c.old is not None
        }
        if updates:
            results = self.executor.run_graph(
                list(updates),
                self.depends_on,
                lambda lid: self._rollback_update(updates[lid], problems),
                stop_on_failure=False,
            )
            problems += [
                f"{self._label(lid)}: rollback update not started" for lid, ok in results.items() if ok is None
            ]
        # 2. What this deploy created, and the new resources of replacements, are deleted in reverse order.
        deletes: list[Deletion] = []
        for change in self.changes.values():
            created = self.children.get(change.logical_id)
            if created is not None and created.previous is None:  # a nested stack created by this deploy: destroyed
                state = self._resource_state(
                    change.logical_id,
                    physical_id=change.physical_id,
                    properties=change.properties or {},
                    data={"StackName": created.name},
                )
                deletes.append(Deletion(state, change.physical_id, {}, "Delete", {}))
                continue
            if not change.invoked or change.properties is None or not (change.action == "create" or change.replaced):
                continue
            # A Create that never answered still gets its Delete, with an id CloudFormation makes up.
            physical_id = change.physical_id or made_up_physical_id(self.name, change.logical_id)
            state = self._resource_state(
                change.logical_id,
                physical_id=physical_id,
                properties=change.properties,
                service_token=change.service_token,
            )
            deletes.append(Deletion(state, physical_id, change.properties, state.deletion_policy, {}))
        if deletes:
            context = StackState(self.name, self.pseudo.stack_id, self.pseudo.region, self.pseudo.account_id)
            results = self.executor.delete_all(context, deletes, self.report, phase=Phase.ROLLBACK)
            for deletion in deletes:
                lid = deletion.resource.logical_id
                entry = self._entry(lid)
                if results.get(lid) is not True:
                    problems.append(f"{self._label(lid)}: {deletion.physical_id} was not deleted ({entry.reason})")
                elif entry.action == "retain":
                    self.report.warnings.append(
                        f"{self._label(lid)}: {deletion.physical_id} retained by its DeletionPolicy"
                    )
        # What stays is the previous deployment.
        if self.previous is not None:
            for lid, old in self.previous.resources.items():
                entry = self._entry(lid)
                if not entry.status:
                    entry.status, entry.action = old.status, "none"
                if lid not in updates or entry.status == "UPDATE_COMPLETE":
                    entry.physical_id = old.physical_id
            self.report.outputs = {k: o.value for k, o in self.previous.outputs.items() if not o.unavailable}
            self.report.exports = {
                o.export_name: o.value for o in self.previous.outputs.values() if o.export_name and not o.unavailable
            }
        self._order_report()
        self.report.warnings += problems
        status = f"{stack_status}_FAILED" if problems else f"{stack_status}_COMPLETE"
        with contextlib.suppress(OSError):  # what the rollback could not undo stays in the journal
            self.store.settle(self.name)
        self.report.status = status
        self._stack_event(StackStatus(status), "; ".join(problems))
        return self.report

    def _order_report(self) -> None:
        order = {lid: i for i, lid in enumerate(self.resources)}
        self.report.resources = dict(
            sorted(self.report.resources.items(), key=lambda item: order.get(item[0], len(order)))
        )

    def _rollback_update(self, change: Change, problems: list[str]) -> bool:
        old = change.old
        assert old is not None and change.properties is not None
        label = self._label(change.logical_id)
        self._event(change.logical_id, ResourceStatus.UPDATE_IN_PROGRESS, Action.ROLLBACK, "rollback", Phase.ROLLBACK)
        try:
            # The provider as it was deployed: the rollback restores the old function too.
            function = self.executor.function(old.service_token, self.previous.functions if self.previous else None)
        except Unresolvable as error:
            outcome = Outcome(None, str(error))
        else:
            request = CustomResourceRequest(
                RequestType.UPDATE,
                self.pseudo.stack_id,
                old.logical_id,
                old.type,
                old.service_token or function.arn,
                old.properties,
                physical_id=old.physical_id,
                old_properties=change.properties,
            )
            outcome = self.executor.invoke(self.name, old, function, request)
        entry = self._entry(change.logical_id)
        entry.action = "rollback"
        if outcome.succeeded:
            assert outcome.answer is not None
            entry.status, entry.physical_id = "UPDATE_COMPLETE", outcome.answer.physical_id
            if outcome.answer.physical_id != old.physical_id:
                problems.append(
                    f"{label}: the rollback answered a new physical id {outcome.answer.physical_id} "
                    f"instead of {old.physical_id}"
                )
            self._event(
                change.logical_id,
                ResourceStatus.UPDATE_COMPLETE,
                Action.ROLLBACK,
                "rollback",
                Phase.ROLLBACK,
                outcome.answer.physical_id,
            )
            return True
        entry.status = "UPDATE_FAILED"
        entry.reason = f"{entry.reason}; rollback update failed: {outcome.reason}" if entry.reason else outcome.reason
        problems.append(f"{label}: rollback update failed ({outcome.reason})")
        self._event(
            change.logical_id,
            ResourceStatus.UPDATE_FAILED,
            Action.ROLLBACK,
            f"rollback: {outcome.reason}",
            Phase.ROLLBACK,
        )
        return False
