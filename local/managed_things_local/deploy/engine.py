"""Deploy and destroy the Custom::ManagedThing resources of a cloud assembly, the way CloudFormation would.

Per stack: creates and updates in dependency order (independent resources
concurrently), unchanged resources skipped, then outputs and exports, then the
cleanup phase (deletes of removed resources and of the old physical resources
of replacements, in reverse dependency order). A failure rolls the stack back:
rollback updates for what was updated in place, then deletes of what this
deploy created, in reverse dependency order; the recorded state stays at the
previous deployment.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import events
from .assembly import CloudAssembly, StackArtifact, dependency_order, prune_code, stage_code
from .errors import DeployError, Unresolvable
from .intrinsics import (
    Pseudo,
    Resolver,
    cfn_stringify,
    import_arguments,
    parameter_values,
    resource_dependencies,
)
from .invoker import FunctionSpec, Invoker, Outcome
from .progress import Progress, ResourceReport, StackReport
from .state import OutputState, ResourceState, StackState, StateStore

MANAGED_THING = "Custom::ManagedThing"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"


# --- results of one resource operation -----------------------------------------


@dataclass
class Change:
    """One Create or Update of this deploy, kept for the rollback and the new state."""

    logical_id: str
    action: str  # "create" | "update" | "none"
    old: ResourceState | None = None
    properties: dict[str, Any] | None = None
    service_token: str = ""
    function: FunctionSpec | None = None
    invoked: bool = False
    succeeded: bool = False
    physical_id: str = ""  # the id answered (also by a failed Create, for its rollback Delete)
    data: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    finished: float = 0.0

    @property
    def replaced(self) -> bool:
        return (
            self.action == "update"
            and self.succeeded
            and self.old is not None
            and self.physical_id != self.old.physical_id
        )


@dataclass
class Value:
    physical_id: str
    data: dict[str, Any]


# --- the engine -------------------------------------------------------------------


class Engine:
    def __init__(
        self,
        assembly: CloudAssembly,
        store: StateStore,
        invoker: Invoker,
        progress: Progress,
        *,
        endpoint_label: str,
        concurrency: int = 4,
        parameters: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.assembly = assembly
        self.store = store
        self.invoker = invoker
        self.progress = progress
        self.endpoint_label = endpoint_label
        self.concurrency = max(1, concurrency)
        self.parameters = parameters or {}
        self._functions: dict[str, FunctionSpec] = {}
        self._functions_lock = threading.Lock()
        self.interrupted = False

    # --- stack selection -------------------------------------------------------

    def stack_edges(self) -> dict[str, set[str]]:
        """artifact id -> artifact ids it depends on: the manifest's dependencies and Fn::ImportValue."""
        producers: dict[str, str] = {}
        for stack in self.assembly.stacks:
            for export in _static_exports(stack):
                producers.setdefault(export, stack.artifact_id)
        edges: dict[str, set[str]] = {}
        for stack in self.assembly.stacks:
            needed = set(stack.dependencies)
            for export in _static_imports(stack):
                if export in producers and producers[export] != stack.artifact_id:
                    needed.add(producers[export])
            edges[stack.artifact_id] = needed
        return edges

    def deploy_order(self, selected: Sequence[StackArtifact]) -> list[StackArtifact]:
        """The selected stacks and everything they depend on, dependencies first (like ``cdk deploy``)."""
        edges = self.stack_edges()
        wanted = {s.artifact_id for s in selected}
        pending = list(wanted)
        while pending:
            for dependency in edges.get(pending.pop(), ()):
                if dependency not in wanted:
                    wanted.add(dependency)
                    pending.append(dependency)
        return dependency_order([s for s in self.assembly.stacks if s.artifact_id in wanted], edges)

    # --- deploy ----------------------------------------------------------------------

    def deploy(self, stacks: Sequence[StackArtifact]) -> list[StackReport]:
        reports: list[StackReport] = []
        try:
            for artifact in stacks:
                report = self.deploy_stack(artifact)
                reports.append(report)
                if report.failed or self.interrupted:
                    break  # like cdk deploy: later stacks are not started
        finally:
            self.prune_code()
        return reports

    def prune_code(self) -> None:
        """Drop staged provider code that neither a deployed stack nor this run uses."""
        keep = {spec.code_dir for spec in self._functions.values()}
        for state in self.store.all():
            keep |= {str(function.get("code_dir")) for function in state.functions.values()}
        prune_code(self.store.code_dir, keep)

    def deploy_stack(self, artifact: StackArtifact) -> StackReport:
        previous = self.store.load(artifact.stack_name)
        report = StackReport(artifact.stack_name)
        try:
            run = StackRun(self, artifact, previous, report)
        except (DeployError, Unresolvable) as error:
            report.status = "UPDATE_FAILED" if previous else "CREATE_FAILED"
            report.error = str(error)
            self.progress.stack(artifact.stack_name, report.status, str(error))
            return report
        return run.deploy()

    # --- destroy -------------------------------------------------------------------

    def destroy_order(self, names: Sequence[str]) -> list[str]:
        """The named stacks and the deployed stacks that depend on them, dependents first."""
        states = {s.stack_name: s for s in self.store.all()}
        by_artifact = {s.artifact_id: s.stack_name for s in self.assembly.stacks}
        edges: dict[str, set[str]] = {name: set() for name in states}
        exported_by = {export: s.stack_name for s in states.values() for export in s.exports()}
        assembly_edges = self.stack_edges()
        for stack in self.assembly.stacks:
            if stack.stack_name in edges:
                edges[stack.stack_name] |= {
                    by_artifact[d] for d in assembly_edges.get(stack.artifact_id, ()) if by_artifact.get(d) in states
                }
        for state in states.values():
            edges[state.stack_name] |= {exported_by[i] for i in state.imports if i in exported_by}
        wanted = [n for n in names if n in states]
        pending = list(wanted)
        while pending:
            name = pending.pop()
            for consumer, needs in edges.items():
                if name in needs and consumer not in wanted:
                    wanted.append(consumer)
                    pending.append(consumer)
        ordered: list[str] = []
        remaining = set(wanted)
        while remaining:
            # dependents first: a stack goes when nothing remaining depends on it
            ready = sorted(n for n in remaining if not any(n in edges[m] for m in remaining if m != n))
            if not ready:
                raise DeployError(f"The stacks depend on each other in a cycle: {', '.join(sorted(remaining))}")
            ordered += ready
            remaining -= set(ready)
        return ordered

    def destroy(self, names: Sequence[str]) -> list[StackReport]:
        reports = []
        try:
            for name in names:
                report = self.destroy_stack(name)
                reports.append(report)
                if report.failed or self.interrupted:
                    break
        finally:
            self.prune_code()
        return reports

    def destroy_stack(self, stack_name: str) -> StackReport:
        state = self.store.load(stack_name)
        report = StackReport(stack_name)
        if state is None:
            report.status = "DELETE_COMPLETE"
            report.warnings.append(f"{stack_name} is not deployed locally: nothing to destroy")
            self.progress.line(f"{stack_name} | not deployed locally: nothing to destroy")
            return report
        report.stack_id, report.region, report.account_id = state.stack_id, state.region, state.account_id
        for consumer in self.store.all():
            used = sorted(set(consumer.imports) & set(state.exports())) if consumer.stack_name != stack_name else []
            if used:
                report.status = "DELETE_FAILED"
                report.error = f"Export {used[0]} cannot be deleted as it is in use by {consumer.stack_name}"
                self.progress.stack(stack_name, report.status, report.error)
                return report
        self.progress.stack(stack_name, "DELETE_IN_PROGRESS")
        deletes = [
            Deletion(r, r.physical_id, r.properties, r.deletion_policy, state.functions)
            for r in state.resources.values()
        ]
        results = self.delete_all(state, deletes, report, stage="destroy")
        failed = [d for d in deletes if results.get(d.resource.logical_id) is not True]
        if failed:
            for deletion in deletes:
                if results.get(deletion.resource.logical_id) is True:
                    del state.resources[deletion.resource.logical_id]
            state.status = report.status = "DELETE_FAILED"
            self.store.save(state)
            first = failed[0].resource
            report.failed_resource = first.logical_id
            why = report.resources[first.logical_id].reason if first.logical_id in report.resources else ""
            report.error = f"{_label(first.path, first.logical_id)}: {why or 'not deleted'}"
            self.progress.stack(stack_name, report.status, report.error)
            return report
        self.store.delete(stack_name)
        report.status = "DELETE_COMPLETE"
        self.progress.stack(stack_name, report.status)
        return report

    # --- shared machinery ------------------------------------------------------------

    def run_graph(
        self,
        nodes: Sequence[str],
        prerequisites: Mapping[str, Iterable[str]],
        work: Callable[[str], bool],
        *,
        stop_on_failure: bool,
    ) -> dict[str, bool | None]:
        """Run ``work`` on each node once its prerequisites succeeded, up to ``concurrency`` at a time.

        True: succeeded; False: failed; None: not started (a prerequisite failed, or
        the run stopped at a failure or an interrupt).
        """
        members = set(nodes)
        needs = {n: set(prerequisites.get(n, ())) & members for n in nodes}
        results: dict[str, bool | None] = {}
        pending = list(nodes)
        running: dict[Future[bool], str] = {}
        stopping = False
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="resource") as pool:
            while pending or running:
                if stopping:
                    results.update((n, None) for n in pending)
                    pending = []
                for node in list(pending):
                    if any(results.get(p, True) is not True and p in results for p in needs[node]):
                        results[node] = None
                        pending.remove(node)
                    elif all(results.get(p) is True for p in needs[node]) and len(running) < self.concurrency:
                        pending.remove(node)
                        running[pool.submit(_guarded, work, node)] = node
                if not running:
                    if pending:  # what is left waits on something that will never finish
                        results.update((n, None) for n in pending)
                        pending = []
                    break
                try:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:
                    self.interrupted = stopping = True
                    self.progress.line(
                        "Interrupted: finishing what is in progress (Ctrl-C again to stop waiting for it)"
                    )
                    continue
                for future in done:
                    node = running.pop(future)
                    results[node] = future.result()
                    if results[node] is False and stop_on_failure:
                        stopping = True
        return results

    def function(self, token: str, fallback: Mapping[str, dict[str, Any]] | None = None) -> FunctionSpec:
        """The provider a ServiceToken names: a Python Lambda function of this cloud assembly, staged locally."""
        with self._functions_lock:  # held while staging: each function's code is copied once
            if token not in self._functions:
                self._functions[token] = self._find_function(token, fallback)
            return self._functions[token]

    def _find_function(self, token: str, fallback: Mapping[str, dict[str, Any]] | None) -> FunctionSpec:
        for stack in self.assembly.stacks:
            pseudo = _pseudo_for(stack, self.store)
            for logical_id, resource in (stack.template.get("Resources") or {}).items():
                if resource.get("Type") == LAMBDA_FUNCTION and function_arn(stack, logical_id, pseudo) == token:
                    try:
                        return self._function_spec(stack, logical_id, pseudo)
                    except DeployError as error:
                        raise Unresolvable(str(error)) from None
        if fallback and token in fallback:
            recorded = FunctionSpec.from_json(fallback[token])
            if Path(recorded.code_dir).is_dir():
                return recorded
        raise Unresolvable(
            f"ServiceToken {token} is not a Lambda function of this cloud assembly "
            "(the local deploy runs only providers the app synthesizes)"
        )

    def _function_spec(self, stack: StackArtifact, logical_id: str, pseudo: Pseudo) -> FunctionSpec:
        resource = stack.template["Resources"][logical_id]
        properties = resource.get("Properties") or {}
        if properties.get("PackageType") == "Image":
            raise Unresolvable(f"The provider {logical_id} is a container image function, which is not run locally")
        runtime = str(properties.get("Runtime") or "")
        if not runtime.startswith("python"):
            raise Unresolvable(f"The provider {logical_id} runs {runtime or 'no runtime'}; only Python runs locally")
        handler = properties.get("Handler")
        if not isinstance(handler, str):
            raise Unresolvable(f"The provider {logical_id} has no plain Handler")
        resolver = Resolver(stack.template, pseudo, {}, _no_resources(stack), {})
        variables = ((properties.get("Environment") or {}).get("Variables")) or {}
        try:
            environment = {k: str(cfn_stringify(v)) for k, v in resolver.resolve(variables).items()}
        except Unresolvable as error:
            raise Unresolvable(f"The environment of the provider {logical_id} has no local value: {error}") from None
        code = stage_code(stack.code_directory(logical_id), self.store.code_dir)
        return FunctionSpec(
            logical_id=logical_id,
            function_name=function_name(stack, logical_id),
            arn=function_arn(stack, logical_id, pseudo),
            code_dir=str(code),
            handler=handler,
            timeout=int(properties.get("Timeout") or 3),
            memory_size=int(properties.get("MemorySize") or 128),
            runtime=runtime,
            region=pseudo.region,
            environment=environment,
        )

    def invoke(
        self,
        stack_name: str,
        stack_id: str,
        request_type: str,
        resource: ResourceState,
        function: FunctionSpec,
        properties: dict[str, Any],
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> Outcome:
        event = events.request(
            request_type,
            stack_id=stack_id,
            logical_id=resource.logical_id,
            resource_type=resource.type,
            service_token=resource.service_token or function.arn,
            response_url="",
            properties=properties,
            physical_id=physical_id,
            old_properties=old_properties,
        )
        return self.invoker.invoke(function, event, f"{_safe_name(stack_name)}.log")

    def delete_all(
        self, state: StackState, deletes: Sequence[Deletion], report: StackReport, *, stage: str
    ) -> dict[str, bool | None]:
        """Delete (or retain) each, dependents before what they depend on."""
        by_id = {d.resource.logical_id: d for d in deletes}
        dependents = {
            lid: {other for other, d in by_id.items() if lid in d.resource.depends_on and other != lid} for lid in by_id
        }

        def delete(logical_id: str) -> bool:
            return self._delete_one(state, by_id[logical_id], report, stage)

        return self.run_graph(list(by_id), dependents, delete, stop_on_failure=False)

    def _delete_one(self, state: StackState, deletion: Deletion, report: StackReport, stage: str) -> bool:
        resource = deletion.resource
        label = _label(resource.path, resource.logical_id)
        entry = report.resources.setdefault(
            resource.logical_id, ResourceReport(resource.logical_id, resource.type, resource.path)
        )
        if deletion.policy == "Retain" or (deletion.policy == "RetainExceptOnCreate" and stage != "rollback"):
            note = f"retained ({deletion.policy}): {deletion.physical_id} is kept and no longer managed"
            entry.status, entry.action, entry.physical_id = "DELETE_SKIPPED", "retain", deletion.physical_id
            entry.reason = f"{entry.reason}; {note}" if entry.reason else note
            self.progress.resource(state.stack_name, "DELETE_SKIPPED", resource.type, label, note)
            return True
        self.progress.resource(state.stack_name, "DELETE_IN_PROGRESS", resource.type, label)
        try:
            recorded = deletion.functions.get(resource.service_token)
            if stage == "destroy" and recorded and Path(recorded["code_dir"]).is_dir():
                function = FunctionSpec.from_json(recorded)  # the code deployed last, as Lambda still has it
            else:
                function = self.function(resource.service_token, deletion.functions)
        except Unresolvable as error:
            outcome = Outcome(None, str(error))
        else:
            outcome = self.invoke(
                state.stack_name,
                state.stack_id,
                events.DELETE,
                resource,
                function,
                deletion.properties,
                physical_id=deletion.physical_id,
            )
        entry.physical_id = deletion.physical_id
        action = "rollback" if stage == "rollback" else "delete"
        if outcome.succeeded:
            entry.status, entry.action = "DELETE_COMPLETE", action
            self.progress.resource(state.stack_name, "DELETE_COMPLETE", resource.type, label)
            return True
        entry.status, entry.action = "DELETE_FAILED", action
        entry.reason = f"{entry.reason}; rollback delete failed: {outcome.reason}" if entry.reason else outcome.reason
        self.progress.resource(state.stack_name, "DELETE_FAILED", resource.type, label, outcome.reason)
        return False


@dataclass
class Deletion:
    resource: ResourceState
    physical_id: str
    properties: dict[str, Any]
    policy: str
    functions: Mapping[str, dict[str, Any]]


# --- one stack's deploy ----------------------------------------------------------------


class StackRun:
    def __init__(self, engine: Engine, artifact: StackArtifact, previous: StackState | None, report: StackReport):
        self.engine = engine
        self.artifact = artifact
        self.previous = previous
        self.report = report
        self.progress = engine.progress
        self.name = artifact.stack_name
        self.template = artifact.template
        region = artifact.region or DEFAULT_REGION
        account = artifact.account or DEFAULT_ACCOUNT
        if previous is not None and previous.region != region:
            raise DeployError(f"{self.name} was deployed locally to {previous.region}, not {region}: destroy it first")
        stack_id = previous.stack_id if previous else events.new_stack_id(region, account, self.name)
        self.pseudo = Pseudo(region, account, self.name, stack_id)
        report.stack_id, report.region, report.account_id = stack_id, region, account
        self.parameters = parameter_values(self.template, engine.parameters.get(self.name, {}), self.name)
        self.exports: dict[str, Any] = {}
        for other in engine.store.all():
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
        self.things = {lid: r for lid, r in self.active.items() if r.get("Type") == MANAGED_THING}
        self.not_deployed = [(lid, str(r.get("Type"))) for lid, r in self.active.items() if lid not in self.things]
        report.not_deployed = list(self.not_deployed)
        if self.template.get("Transform"):
            report.warnings.append(
                f"{self.name} declares the Transform {self.template['Transform']}, which the local deploy does not "
                "run: the template is deployed as synthesized"
            )
        graph = resource_dependencies({"Resources": self.active})
        _check_cycles(self.name, graph)
        self.depends_on = {lid: _deployed_dependencies(lid, graph, self.things) for lid in self.things}
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
        self.progress.stack(self.name, "UPDATE_IN_PROGRESS" if self.previous else "CREATE_IN_PROGRESS")

    def deploy(self) -> StackReport:
        self.progress.not_deployed(
            self.name,
            self.not_deployed,
            "Only Custom::ManagedThing resources are deployed; their provider functions run locally.",
        )
        if self.previous is None:
            self._announce()
        if self.previous and self.previous.endpoint and self.previous.endpoint != self.engine.endpoint_label:
            warning = (
                f"{self.name} was deployed against {self.previous.endpoint}, now {self.engine.endpoint_label}: "
                "its recorded things may not exist there"
            )
            self.report.warnings.append(warning)
            self.progress.line(f"{self.name} | warning: {warning}")
        order = list(self.things)
        results = self.engine.run_graph(order, self.depends_on, self._apply, stop_on_failure=True)
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
        elif self.engine.interrupted or any(v is None for v in results.values()):
            failure = "Interrupted by the user"
        outputs: dict[str, OutputState] = {}
        if not failure:
            outputs = self._outputs()
            problem = self._export_problem(outputs)
            if problem:
                failure = problem
        if failure:
            return self._rollback(failure)
        self._cleanup()
        return self._finish(outputs)

    def _label(self, logical_id: str) -> str:
        return _label(_path(self.artifact, self.resources.get(logical_id, {})), logical_id)

    def _resource_state(self, logical_id: str, **values: Any) -> ResourceState:
        resource = self.resources[logical_id]
        return ResourceState(
            logical_id=logical_id,
            type=str(resource.get("Type")),
            path=_path(self.artifact, resource),
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
            change.function = self.engine.function(token)
        except Unresolvable as error:
            return self._failed(change, kind, label, f"{verb}_FAILED", str(error))
        self._announce()
        self.progress.resource(self.name, f"{verb}_IN_PROGRESS", kind, label)
        state = self._resource_state(logical_id, physical_id="", properties=properties, service_token=token)
        change.invoked = True
        if old is None:
            outcome = self.engine.invoke(
                self.name, self.pseudo.stack_id, events.CREATE, state, change.function, properties
            )
        else:
            outcome = self.engine.invoke(
                self.name,
                self.pseudo.stack_id,
                events.UPDATE,
                state,
                change.function,
                properties,
                physical_id=old.physical_id,
                old_properties=old.properties,
            )
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
        self.progress.resource(self.name, f"{verb}_COMPLETE", kind, label, note)
        return True

    def _failed(self, change: Change, kind: str, label: str, status: str, reason: str) -> bool:
        self._announce()
        change.reason = reason
        change.finished = time.monotonic()
        entry = self._entry(change.logical_id)
        entry.status, entry.reason = status, reason
        self.progress.resource(self.name, status, kind, label, reason)
        return False

    def _entry(self, logical_id: str) -> ResourceReport:
        resource = self.resources.get(logical_id) or {}
        with self._lock:
            return self.report.resources.setdefault(
                logical_id, ResourceReport(logical_id, str(resource.get("Type")), _path(self.artifact, resource))
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
        others = [s for s in self.engine.store.all() if s.stack_name != self.name]
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
        for logical_id, old in self.previous.resources.items():
            change = self.changes.get(logical_id)
            if logical_id not in self.things:
                deletes.append(
                    Deletion(old, old.physical_id, old.properties, old.deletion_policy, self.previous.functions)
                )
            elif change is not None and change.replaced:
                deletes.append(
                    Deletion(old, old.physical_id, old.properties, old.update_replace_policy, self.previous.functions)
                )
        if not deletes:
            return
        self._announce()
        self.progress.stack(self.name, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        cleanup = StackReport(self.name)
        results = self.engine.delete_all(self.previous, deletes, cleanup, stage="cleanup")
        for logical_id, entry in cleanup.resources.items():
            if logical_id not in self.things:  # a replaced resource keeps its entry for its new id
                self.report.resources[logical_id] = entry
            if results.get(logical_id) is not True:
                physical_id = next(d.physical_id for d in deletes if d.resource.logical_id == logical_id)
                self.report.warnings.append(
                    f"{_label(entry.path, logical_id)}: {physical_id} was not deleted "
                    f"({entry.reason or 'not started'}); "
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
            if change.service_token not in functions:
                try:
                    spec = self.engine.function(change.service_token)
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
        state = StackState(
            stack_name=self.name,
            stack_id=self.pseudo.stack_id,
            region=self.pseudo.region,
            account_id=self.pseudo.account_id,
            status=status,
            endpoint=self.engine.endpoint_label,
            resources=resources,
            outputs=outputs,
            imports=sorted(self.resolver.imports),
            functions=functions,
            artifact_id=self.artifact.artifact_id,
        )
        self.engine.store.save(state)
        self.report.status = status
        self._order_report()
        self._report_outputs(outputs)
        if changed:
            self._announce()
            self.progress.stack(self.name, status)
        else:
            self.progress.line(f"{self.name} | no changes")
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
        self.progress.stack(self.name, f"{stack_status}_IN_PROGRESS", failure)
        problems: list[str] = []
        # 1. What was updated in place (or attempted) goes back to its previous properties, in dependency order.
        updates = {
            c.logical_id: c
            for c in self.changes.values()
            if c.action == "update" and c.invoked and not c.replaced and c.old is not None
        }
        if updates:
            results = self.engine.run_graph(
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
            if not change.invoked or change.properties is None or not (change.action == "create" or change.replaced):
                continue
            # A Create that never answered still gets its Delete, with an id CloudFormation makes up.
            physical_id = change.physical_id or events.made_up_physical_id(self.name, change.logical_id)
            state = self._resource_state(
                change.logical_id,
                physical_id=physical_id,
                properties=change.properties,
                service_token=change.service_token,
            )
            deletes.append(Deletion(state, physical_id, change.properties, state.deletion_policy, {}))
        if deletes:
            context = StackState(self.name, self.pseudo.stack_id, self.pseudo.region, self.pseudo.account_id)
            results = self.engine.delete_all(context, deletes, self.report, stage="rollback")
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
        self.report.status = status
        self.progress.stack(self.name, status, "; ".join(problems))
        return self.report

    def _order_report(self) -> None:
        order = {lid: i for i, lid in enumerate(self.resources)}
        self.report.resources = dict(
            sorted(self.report.resources.items(), key=lambda item: order.get(item[0], len(order)))
        )

    def _rollback_update(self, change: Change, problems: list[str]) -> bool:
        old = change.old
        assert old is not None and change.properties is not None
        kind, label = old.type, self._label(change.logical_id)
        self.progress.resource(self.name, "UPDATE_IN_PROGRESS", kind, label, "rollback")
        try:
            # The provider as it was deployed: the rollback restores the old function too.
            function = self.engine.function(old.service_token, self.previous.functions if self.previous else None)
        except Unresolvable as error:
            outcome = Outcome(None, str(error))
        else:
            outcome = self.engine.invoke(
                self.name,
                self.pseudo.stack_id,
                events.UPDATE,
                old,
                function,
                old.properties,
                physical_id=old.physical_id,
                old_properties=change.properties,
            )
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
            self.progress.resource(self.name, "UPDATE_COMPLETE", kind, label, "rollback")
            return True
        entry.status = "UPDATE_FAILED"
        entry.reason = f"{entry.reason}; rollback update failed: {outcome.reason}" if entry.reason else outcome.reason
        problems.append(f"{label}: rollback update failed ({outcome.reason})")
        self.progress.resource(self.name, "UPDATE_FAILED", kind, label, f"rollback: {outcome.reason}")
        return False


# --- helpers ------------------------------------------------------------------------------------


def _guarded(work: Callable[[str], bool], node: str) -> bool:
    try:
        return work(node)
    except Exception:  # a bug must not hang the scheduler: the node fails, with the traceback on stderr
        traceback.print_exc()
        return False


def function_name(stack: StackArtifact, logical_id: str) -> str:
    properties = (stack.template.get("Resources", {}).get(logical_id) or {}).get("Properties") or {}
    name = properties.get("FunctionName")
    if isinstance(name, str) and name:
        return name
    return f"{stack.stack_name}-{logical_id}"[:64]


def function_arn(stack: StackArtifact, logical_id: str, pseudo: Pseudo) -> str:
    name = function_name(stack, logical_id)
    return f"arn:{pseudo.partition}:lambda:{pseudo.region}:{pseudo.account_id}:function:{name}"


def _pseudo_for(stack: StackArtifact, store: StateStore) -> Pseudo:
    state = store.load(stack.stack_name)
    region = stack.region or DEFAULT_REGION
    account = stack.account or DEFAULT_ACCOUNT
    return Pseudo(region, account, stack.stack_name, state.stack_id if state else "")


def _no_resources(stack: StackArtifact) -> Callable[[str, str | None], Any]:
    def lookup(logical_id: str, attribute: str | None) -> Any:
        kind = (stack.template.get("Resources", {}).get(logical_id) or {}).get("Type")
        expression = f"Ref {logical_id}" if attribute is None else f"Fn::GetAtt {logical_id}.{attribute}"
        raise Unresolvable(f"{expression} refers to {logical_id} ({kind}), which has no value here")

    return lookup


def _static_resolver(stack: StackArtifact) -> Resolver:
    pseudo = Pseudo(stack.region or DEFAULT_REGION, stack.account or DEFAULT_ACCOUNT, stack.stack_name, "")
    parameters = {
        name: str(definition.get("Default"))
        for name, definition in (stack.template.get("Parameters") or {}).items()
        if "Default" in definition
    }
    return Resolver(stack.template, pseudo, parameters, _no_resources(stack), {})


def _static_exports(stack: StackArtifact) -> list[str]:
    resolver = _static_resolver(stack)
    names = []
    for output in (stack.template.get("Outputs") or {}).values():
        export = (output.get("Export") or {}).get("Name")
        try:
            name = resolver.resolve(export) if export is not None else None
        except Unresolvable:
            continue
        if isinstance(name, str):
            names.append(name)
    return names


def _static_imports(stack: StackArtifact) -> list[str]:
    resolver = _static_resolver(stack)
    names = []
    for argument in import_arguments({"R": stack.template.get("Resources"), "O": stack.template.get("Outputs")}):
        try:
            name = resolver.resolve(argument)
        except Unresolvable:
            continue
        if isinstance(name, str):
            names.append(name)
    return names


def _check_cycles(stack_name: str, graph: Mapping[str, set[str]]) -> None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dependency in sorted(graph.get(node, ())):
            if state.get(dependency) == 1:
                cycle = trail[trail.index(dependency) :] if dependency in trail else [dependency]
                raise DeployError(f"{stack_name}: circular dependency between resources: {', '.join(cycle)}")
            if dependency not in state:
                visit(dependency, [*trail, dependency])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def _deployed_dependencies(logical_id: str, graph: Mapping[str, set[str]], deployed: Mapping[str, Any]) -> set[str]:
    """The deployed resources ``logical_id`` depends on, directly or through resources that are not deployed."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = list(graph.get(logical_id, ()))
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in deployed:
            found.add(node)
        else:
            pending.extend(graph.get(node, ()))
    return found


def _path(stack: StackArtifact, resource: Mapping[str, Any]) -> str:
    path = str((resource.get("Metadata") or {}).get("aws:cdk:path") or "")
    for prefix in (f"{stack.display_name}/", f"{stack.stack_name}/"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    for suffix in ("/Resource", "/Default"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return path


def _label(path: str, logical_id: str) -> str:
    return f"{path} ({logical_id})" if path and path != logical_id else logical_id


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
