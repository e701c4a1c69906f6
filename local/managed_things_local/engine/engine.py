"""Deploy and destroy the stacks of a cloud assembly, the way the CDK CLI and CloudFormation would.

The engine orders the stacks (dependencies and Fn::ImportValue first on deploy,
dependents first on destroy), runs each stack's deploy (``StackRun``) and
destroys stacks, independent ones side by side (``stack_concurrency``, the CDK
CLI's ``--concurrency``); invocations, scheduling and deletes are the ``Executor``'s.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence

from ..cloudformation import quotas
from ..cloudformation.assembly import CloudAssembly, StackArtifact, prune_code
from ..cloudformation.graph import ordered, reverse
from ..cloudformation.plan import Removal
from ..cloudformation.records import ResourceState, StackState
from ..cloudformation.stack_events import Phase, StackStatus, StackSummary
from ..cloudformation.stack_states import (
    DeployChoice,
    deploy_choice,
    deploy_refusal,
    recreate_failure,
    retain_refusal,
    rollback_options_refusal,
)
from ..cloudformation.templates import NESTED_STACK, resource_label, static_exports, static_imports
from ..errors import DeployError, Unresolvable
from ..state.state import StateStore
from .continue_rollback import UpdateRollbackContinuation
from .executor import Executor
from .operation_size import created_size, deploy_size, destroy_size
from .recovery import deliver_unanswered_creates
from .report import Reports, StackReport
from .stack_run import StackRun


class Engine:
    def __init__(
        self,
        assembly: CloudAssembly,
        store: StateStore,
        executor: Executor,
        *,
        endpoint_label: str,
        parameters: Mapping[str, Mapping[str, str]] | None = None,
        allow_endpoint_change: bool = False,
        verbose: bool = False,
        stack_concurrency: int = 1,
    ) -> None:
        self.assembly = assembly
        self.store = store
        self.executor = executor
        self.endpoint_label = endpoint_label
        self.parameters = parameters or {}
        self.allow_endpoint_change = allow_endpoint_change
        self.verbose = verbose
        self.stack_concurrency = max(1, stack_concurrency)
        self.not_started: list[str] = []  # of the last deploy or destroy: the stacks a failure or Ctrl-C kept back
        self.reports = Reports()
        executor.listeners.append(self.reports)
        executor.destroy_nested = lambda stack_name, parent: not self.destroy_stack(stack_name, parent).failed

    @property
    def interrupted(self) -> bool:
        return self.executor.interrupted

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
        chosen = [s.artifact_id for s in self.assembly.stacks if s.artifact_id in wanted]
        by_id = {s.artifact_id: s for s in self.assembly.stacks}
        names = {s.artifact_id: s.display_name for s in self.assembly.stacks}
        try:
            return [by_id[a] for a in ordered(chosen, edges)]
        except DeployError as error:  # name the stacks as the user knows them
            message = str(error)
            for artifact_id, name in sorted(names.items(), key=lambda item: -len(item[0])):
                message = message.replace(artifact_id, name)
            raise DeployError(message) from None

    # --- deploy ----------------------------------------------------------------------

    def check_endpoints(self, stack_names: Sequence[str]) -> None:
        """Refuse, before anything runs, a stack whose things live on another endpoint than this run's."""
        if self.allow_endpoint_change:
            return
        for name in stack_names:
            state = self.store.load(name)
            recorded = {r.endpoint for r in state.resources.values() if r.endpoint} if state else set()
            if state is not None and state.endpoint:
                recorded.add(state.endpoint)
            for endpoint in sorted(recorded - {self.endpoint_label}):
                raise DeployError(
                    f"{name} was deployed locally against {endpoint}, not {self.endpoint_label}: run against "
                    "that endpoint, or pass --allow-endpoint-change to use this one (its things may not exist here)"
                )

    def check_quotas(self, stacks: Sequence[StackArtifact]) -> None:
        """Refuse, before anything runs, a deploy CloudFormation would refuse: a template beyond its quotas, or
        more resources created, updated or deleted in one stack operation than it allows."""
        for artifact in stacks:
            try:
                run = StackRun(
                    self.executor,
                    self.store,
                    artifact,
                    self.store.load(artifact.stack_name),
                    endpoint_label=self.endpoint_label,
                    parameters=self.parameters.get(artifact.stack_name, {}),
                )
            except (DeployError, Unresolvable):  # the deploy reports it, as this stack's failure
                size = created_size(artifact)
                size.touched = 0
            else:
                size = deploy_size(run, self.executor)
            for template in size.templates:
                quotas.check_template(template)
            quotas.check_operation(artifact.stack_name, size.touched, "deploy")

    def deploy(self, stacks: Sequence[StackArtifact]) -> list[StackReport]:
        """Deploy ``stacks`` (dependencies first, as ``deploy_order`` gives them), side by side where they are
        independent, up to ``stack_concurrency`` at once."""
        self.check_endpoints([s.stack_name for s in stacks])
        self.check_quotas(stacks)
        by_name = {s.stack_name: s for s in stacks}
        names = {s.artifact_id: s.stack_name for s in stacks}
        edges = self.stack_edges()
        prerequisites = {s.stack_name: {names[d] for d in edges.get(s.artifact_id, ()) if d in names} for s in stacks}
        # Of stacks exporting one name, each waits for those before it: side by side, none would see the others'
        # export, where CloudFormation refuses all but the first ("Export names must be unique within a Region",
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-importvalue.html).
        exporters: dict[str, list[str]] = {}
        for stack in stacks:
            for export in dict.fromkeys(static_exports(stack)):
                prerequisites[stack.stack_name] |= set(exporters.setdefault(export, []))
                exporters[export].append(stack.stack_name)
        try:
            return self._run_stacks(
                list(by_name), prerequisites, lambda name: self.deploy_stack(by_name[name]), "deployed"
            )
        finally:
            self.prune_code()

    def _run_stacks(
        self, names: Sequence[str], prerequisites: Mapping[str, set[str]], run: Callable[[str], StackReport], verb: str
    ) -> list[StackReport]:
        """``run`` each stack once every stack it needs succeeded, up to ``stack_concurrency`` at once; the
        reports in the order of ``names``.

        As the CDK CLI's work graph (``cdk deploy``/``cdk destroy --concurrency N``) runs stacks: a failed stack
        marks every stack not yet started as skipped, so none starts, while the stacks in progress finish
        (https://github.com/aws/aws-cdk-cli/blob/main/packages/@aws-cdk/toolkit-lib/lib/api/work-graph/work-graph.ts,
        ``failed`` and ``skipRest``). A Ctrl-C stops starting stacks too; those in progress roll back.
        """
        reports: dict[str, StackReport] = {}
        failed: list[str] = []

        def work(name: str) -> bool:
            report = reports[name] = run(name)
            if report.failed:
                failed.append(name)  # before the scheduler hears of it: from now on no stack starts
                if self.stack_concurrency > 1 and len(names) > 1 and not self.interrupted:
                    self.executor.line(f"{name} failed: no other stack starts; the stacks in progress finish")
            return not report.failed

        with self.executor.interrupts_handled():
            results = self.executor.run_graph(
                names,
                prerequisites,
                work,
                stop_on_failure=True,
                stacks=self.stack_concurrency,
                stop=lambda: bool(failed),
            )
        broken = [name for name in names if results[name] is False and name not in reports]
        if broken:  # a bug of ours, whose traceback is on stderr
            raise DeployError(f"Internal error of the local deploy in the stack {broken[0]} (traceback above)")
        self.not_started = [name for name in names if results[name] is None]
        if self.not_started:
            why = "the run was interrupted" if self.interrupted else f"{failed[0]} failed"
            self.executor.line(f"Not {verb}, as {why}: {', '.join(self.not_started)}")
        return [reports[name] for name in names if name in reports]

    def prune_code(self) -> None:
        """Drop staged provider code that neither a deployed stack nor this run uses."""
        keep = {spec.code_dir for spec in self.executor.functions_used}
        for state in self.store.all():
            keep |= {str(function.get("code_dir")) for function in state.functions.values()}
        prune_code(self.store.code_dir, keep)

    def deploy_stack(self, artifact: StackArtifact) -> StackReport:
        started = time.monotonic()
        deliver_unanswered_creates(self.store, self.executor, artifact.stack_name)
        previous = self.store.load(artifact.stack_name)
        if not artifact.template.get("Resources"):
            return self._deploy_empty(artifact, previous is not None, started)
        choice = deploy_choice(previous.status if previous else None)
        if previous is not None and choice is not DeployChoice.UPDATE:
            previous = self._settle_failed_stack(artifact.stack_name, previous, choice)
            if previous is not None:
                report = self.reports.report(artifact.stack_name)
                report.elapsed = time.monotonic() - started
                return report
        try:
            run = StackRun(
                self.executor,
                self.store,
                artifact,
                previous,
                endpoint_label=self.endpoint_label,
                parameters=self.parameters.get(artifact.stack_name, {}),
                verbose=self.verbose,
            )
        except (DeployError, Unresolvable) as error:
            status = StackStatus.UPDATE_FAILED if previous else StackStatus.CREATE_FAILED
            self.executor.stack_event(artifact.stack_name, status, str(error))
        else:
            run.deploy()
        report = self.reports.report(artifact.stack_name)
        report.elapsed = time.monotonic() - started
        return report

    def _settle_failed_stack(self, name: str, state: StackState, choice: DeployChoice) -> StackState | None:
        """Before deploying a stack that CloudFormation would not update: a stack whose creation failed is deleted,
        so that the deploy creates it again (as ``cdk deploy`` does); any other is refused, in one line that says
        what to do. None when the deploy goes on (as a create), else the stack as it stays."""
        if choice is DeployChoice.RECREATE:
            self.executor.line(f"{name} | previously failed creation ({state.status}): deleting it, then creating it")
            if not self.destroy_stack(name).failed:
                return None
            # The destroy's DELETE_FAILED already names the resource, and how to retain it.
            self.executor.warning(name, recreate_failure(name, StackStatus.DELETE_FAILED))
            return state
        self.executor.stack_event(
            name, StackStatus(state.status), deploy_refusal(name, state.stack_id, state.status), state.stack_id
        )
        return state

    def _deploy_empty(self, artifact: StackArtifact, exists: bool, started: float) -> StackReport:
        """A stack without resources, as the CDK CLI deploys it: CloudFormation refuses such a template, so the CLI
        skips the stack, or deletes it where it exists (``CdkToolkit.deploy`` in aws-cdk's cdk-toolkit.ts). A stack
        that holds only a ``ManagedThingFleet`` is one: its things are in the shard stacks."""
        name = artifact.stack_name
        if exists:
            self.executor.warning(name, f"{artifact.display_name}: stack has no resources, deleting existing stack.")
            report = self.destroy_stack(name)
        else:
            note = "stack has no resources, skipping deployment."
            self.executor.warning(name, f"{artifact.display_name}: {note}")
            summary = StackSummary(no_changes=True, note=note)
            self.executor.stack_event(name, StackStatus.DELETE_COMPLETE, summary=summary)
            report = self.reports.report(name)
        report.elapsed = time.monotonic() - started
        return report

    # --- destroy -------------------------------------------------------------------

    def destroy_edges(self) -> dict[str, set[str]]:
        """Each deployed stack -> the deployed stacks it depends on: the app's dependencies and its imports."""
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
        return edges

    def destroy_order(self, names: Sequence[str], *, with_dependents: bool = True) -> list[str]:
        """The named stacks and (unless not ``with_dependents``) the deployed stacks that depend on them,
        dependents first."""
        edges = self.destroy_edges()
        wanted = [n for n in names if n in edges]
        pending = list(wanted) if with_dependents else []
        while pending:
            name = pending.pop()
            for consumer, needs in edges.items():
                if name in needs and consumer not in wanted:
                    wanted.append(consumer)
                    pending.append(consumer)
        # dependents first: a stack goes when nothing remaining depends on it
        return ordered(sorted(wanted), reverse(sorted(wanted), edges))

    def destruction_plan(self, names: Sequence[str]) -> list[str]:
        """What a destroy of ``names`` deletes, a line per stack: the resources its summary will count (those of
        its nested stacks, not the nested stacks themselves), those its DeletionPolicy retains apart; then, for
        several stacks, the total the summary ends with."""
        lines = []
        total = 0
        for name in names:
            state = self.store.load(name)
            if state is None:
                continue
            removals = [Removal(r.logical_id, r, r.deletion_policy) for r in self._destroyed_resources(state)]
            deleted = [resource_label(r.resource.path, r.resource.logical_id) for r in removals if not r.retained]
            retained = len(removals) - len(deleted)
            shown = ", ".join(deleted[:5]) + (", ..." if len(deleted) > 5 else "")
            lines.append(
                f"{name} | will delete {len(deleted)} resource{'s' if len(deleted) != 1 else ''}"
                + (f" and retain {retained}" if retained else "")
                + (f": {shown}" if deleted else "")
            )
            total += len(deleted)
        if len(lines) > 1:
            lines.append(f"will delete {total} resource{'s' if total != 1 else ''} in {len(lines)} stacks")
        return lines

    def _destroyed_resources(self, state: StackState) -> Iterator[ResourceState]:
        """The resources of ``state`` and of its deployed nested stacks (at any depth), nested stacks left out."""
        for resource in state.resources.values():
            if resource.type != NESTED_STACK:
                yield resource
                continue
            nested = self.store.load(str(resource.data.get("StackName", "")))
            if nested is not None:
                yield from self._destroyed_resources(nested)

    def destroy(self, names: Sequence[str], retain_resources: Collection[str] = ()) -> list[StackReport]:
        """Destroy ``names`` (as ``destroy_order`` gives them), each once the stacks that depend on it are gone,
        side by side where they are independent, up to ``stack_concurrency`` at once. ``retain_resources``:
        logical ids of resources of stacks in DELETE_FAILED to keep instead of deleting (DeleteStack's
        RetainResources)."""
        self.check_endpoints(names)
        retained = self.check_retained(names, retain_resources)
        for name in names:  # each is one DeleteStack, its nested stacks' resources included
            quotas.check_operation(name, destroy_size(self.store, name), "destroy")
        dependents_first = reverse(list(names), self.destroy_edges())

        def destroy_one(name: str) -> StackReport:
            started = time.monotonic()
            report = self.destroy_stack(name, retain=retained.get(name, frozenset()))
            report.elapsed = time.monotonic() - started
            return report

        try:
            return self._run_stacks(list(names), dependents_first, destroy_one, "destroyed")
        finally:
            self.prune_code()

    def check_retained(self, names: Sequence[str], retain_resources: Collection[str]) -> dict[str, frozenset[str]]:
        """Stack name -> the logical ids of its resources to retain; refused unless the stack is in DELETE_FAILED."""
        retained: dict[str, frozenset[str]] = {}
        found: set[str] = set()
        for name in names:
            state = self.store.load(name) if retain_resources else None
            if state is None:
                continue
            known = {r.logical_id for r in state.resources.values()}
            mine = frozenset(set(retain_resources) & known)
            found |= mine
            refusal = retain_refusal(name, state.status, mine, known)
            if refusal:
                raise DeployError(refusal)
            retained[name] = mine
        missing = sorted(set(retain_resources) - found)
        if missing:
            raise DeployError(f"--retain-resources {', '.join(missing)}: no stack being destroyed has such a resource")
        return retained

    def rollback(self, names: Sequence[str], orphan: Collection[str] = (), *, force: bool = False) -> list[StackReport]:
        """Continue the update rollback of each stack in UPDATE_ROLLBACK_FAILED (``continue_rollback``), one at a
        time; ``orphan``: logical ids to skip, ``force``: skip every resource whose rollback fails."""
        refusal = rollback_options_refusal(orphan, force)
        if refusal:
            raise DeployError(refusal)
        self.check_endpoints(names)
        continuation = UpdateRollbackContinuation(self.executor, self.store)

        def roll_back(name: str) -> StackReport:
            started = time.monotonic()
            continuation.run(name, orphan, force=force)
            report = self.reports.report(name)
            report.elapsed = time.monotonic() - started
            return report

        return self._run_stacks(list(names), {name: set() for name in names}, roll_back, "rolled back")

    def destroy_stack(self, stack_name: str, parent: str | None = None, retain: Collection[str] = ()) -> StackReport:
        """Delete every resource of the stack (a nested stack's: ``parent`` names the stack that holds it), but
        those ``retain`` names (a stack in DELETE_FAILED)."""
        deliver_unanswered_creates(self.store, self.executor, stack_name)
        state = self.store.load(stack_name)
        report = self.reports.report(stack_name)
        if state is None:
            note = "not deployed locally: nothing to destroy"
            self.executor.warning(stack_name, f"{stack_name} is {note}")
            summary = StackSummary(note=note)
            self.executor.stack_event(stack_name, StackStatus.DELETE_COMPLETE, summary=summary, parent=parent)
            return report
        # Only a stack with exports reads the others: a fleet's nested stacks are destroyed side by side, and
        # each reading every other's state (while they are deleted) would be quadratic, and racy.
        for consumer in self.store.all() if state.exports() else ():
            used = sorted(set(consumer.imports) & set(state.exports())) if consumer.stack_name != stack_name else []
            if used:
                error = f"Export {used[0]} cannot be deleted as it is in use by {consumer.stack_name}"
                self.executor.stack_event(stack_name, StackStatus.DELETE_FAILED, error, state.stack_id, parent=parent)
                return report
        self.executor.stack_event(stack_name, StackStatus.DELETE_IN_PROGRESS, stack_id=state.stack_id, parent=parent)
        removals = [
            Removal(key, r, "Retain" if r.logical_id in retain else r.deletion_policy)
            for key, r in state.resources.items()
        ]
        failures = self.executor.delete_all(state, removals, phase=Phase.DESTROY)
        failed = [r for r in removals if failures.get(r.key) is not None]
        if failed:
            for removal in removals:
                if failures.get(removal.key) is None:
                    del state.resources[removal.key]
            state.status = StackStatus.DELETE_FAILED
            with contextlib.suppress(OSError):  # then the journal keeps what is left
                self.store.save(state)
            first = failed[0].resource
            error = f"{resource_label(first.path, first.logical_id)}: {failures[failed[0].key] or 'not deleted'}"
            if parent is None:
                stuck = " ".join(sorted({r.resource.logical_id for r in failed}))
                error += (
                    f" (destroy again once fixed, or keep what cannot be deleted: `managed-things destroy {stack_name} "
                    f"--retain-resources {stuck}`)"
                )
            summary = StackSummary(resources=state.resources, failed_resource=first.logical_id)
            self.executor.stack_event(
                stack_name, StackStatus.DELETE_FAILED, error, state.stack_id, summary=summary, parent=parent
            )
            return report
        summary = StackSummary()
        try:
            self.store.delete(stack_name)
        except OSError as error:  # everything is deleted: only the record of it stays behind
            self.executor.warning(stack_name, f"Cannot remove the local state {self.store.path}: {error}")
        self.executor.stack_event(
            stack_name, StackStatus.DELETE_COMPLETE, stack_id=state.stack_id, summary=summary, parent=parent
        )
        return report
