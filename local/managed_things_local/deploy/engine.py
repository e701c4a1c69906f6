"""Deploy and destroy the stacks of a cloud assembly, the way the CDK CLI and CloudFormation would.

The engine orders the stacks (dependencies and Fn::ImportValue first on deploy,
dependents first on destroy), runs each stack's deploy (``StackRun``), destroys
stacks, and holds what the stacks share: the scheduler that runs resources
concurrently in dependency order, the provider functions and their invocation,
and the deletes.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from . import events
from .assembly import CloudAssembly, StackArtifact, dependency_order, prune_code
from .changes import Deletion
from .errors import DeployError, Unresolvable
from .functions import find_function
from .invoker import FunctionSpec, Invoker, Outcome
from .progress import Progress, ResourceReport, StackReport
from .requests import CustomResourceRequest, RequestType
from .stack_run import StackRun
from .state import ResourceState, StackState, StateStore
from .templates import resource_label, static_exports, static_imports


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
            for export in static_exports(stack):
                producers.setdefault(export, stack.artifact_id)
        edges: dict[str, set[str]] = {}
        for stack in self.assembly.stacks:
            needed = set(stack.dependencies)
            for export in static_imports(stack):
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
            report.error = f"{resource_label(first.path, first.logical_id)}: {why or 'not deleted'}"
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
                self._functions[token] = find_function(self.assembly, self.store, token, fallback)
            return self._functions[token]

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
        request = CustomResourceRequest(
            RequestType(request_type),
            stack_id=stack_id,
            logical_id=resource.logical_id,
            resource_type=resource.type,
            service_token=resource.service_token or function.arn,
            properties=properties,
            physical_id=physical_id,
            old_properties=old_properties,
        )
        return self.invoker.invoke(function, request, f"{_safe_name(stack_name)}.log")

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
        label = resource_label(resource.path, resource.logical_id)
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


def _guarded(work: Callable[[str], bool], node: str) -> bool:
    try:
        return work(node)
    except Exception:  # a bug must not hang the scheduler: the node fails, with the traceback on stderr
        traceback.print_exc()
        return False


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
