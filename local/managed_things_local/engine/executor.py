"""The impure part of the local deploy: it drives a ``Runtime`` and is where every status is born.

Stack runs and destroys ask it to invoke a provider, to run resources
concurrently in dependency order, and to delete (or retain) resources; it
yields each status change as a typed ``ResourceEvent`` or ``StackEvent`` to its
listeners (progress, the journal), which fold them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..cloudformation.assembly import CloudAssembly, StackArtifact
from ..cloudformation.graph import reverse
from ..cloudformation.plan import Removal
from ..cloudformation.requests import CustomResourceRequest, RequestType
from ..cloudformation.service_timeout import CREATION_CANCELLED, no_response, service_timeout
from ..cloudformation.stack_events import (
    Action,
    DeployEvent,
    Phase,
    ResourceEvent,
    ResourceStatus,
    StackEvent,
    StackStatus,
    StackSummary,
    StackWarning,
)
from ..cloudformation.templates import NESTED_STACK
from ..errors import Unresolvable
from ..lambda_runtime.event_queue import Clock, Delivery, EventQueue
from ..lambda_runtime.functions import find_function
from ..lambda_runtime.invoker import FunctionSpec, Outcome
from ..lambda_runtime.runtime import Runtime
from ..services.native import NATIVE_TYPES, NativeResource
from ..state.journal import Invocation
from ..state.state import ResourceState, StackState, StateStore
from .concurrent_runs import run_concurrently
from .interrupts import Interrupts, StopWaiting

Listener = Callable[[DeployEvent], None]


InvocationListener = Callable[[Invocation], None]

Provider = FunctionSpec | NativeResource  # what answers a resource's requests


class NestedStacks(Protocol):
    """What the executor asks of nested stacks: deleting one (``AWS::CloudFormation::Stack``) is destroying it."""

    def destroy(self, stack_name: str, parent: str) -> bool:
        """Destroy nested stack ``stack_name`` of stack ``parent``; whether it is gone."""
        ...


class NoNestedStacks:
    """For an executor that deploys no nested stack (a preview): a nested stack's Delete fails."""

    def destroy(self, stack_name: str, parent: str) -> bool:
        return False


_POLL_SECONDS = 0.05  # how soon a wait for an answer sees a cancellation, a ServiceTimeout or a second Ctrl-C


class Executor:
    """Runs provider functions through a runtime and reports every status change as an event."""

    def __init__(
        self,
        assembly: CloudAssembly,
        store: StateStore,
        runtime: Runtime,
        *,
        concurrency: int = 4,
        listeners: Sequence[Listener] = (),
        invocation_listeners: Sequence[InvocationListener] = (),
        lines: Callable[[str], None] | None = None,
        natives: Iterable[NativeResource] = (),
        clock: Clock = time.monotonic,
        nested_stacks: Callable[[Executor], NestedStacks] = lambda executor: NoNestedStacks(),
    ) -> None:
        """``nested_stacks`` builds, from this executor, what destroys a nested stack when it is deleted."""
        self.assembly = assembly
        self.natives = {native.resource_type: native for native in natives}
        self.store = store
        self.runtime = runtime
        self.concurrency = max(1, concurrency)
        self.listeners = list(listeners)
        self.invocation_listeners = list(invocation_listeners)
        self._lines = lines or (lambda text: None)
        self._extra_stacks: dict[str, StackArtifact] = {}  # nested stacks, whose functions are providers too
        self._functions: dict[str, FunctionSpec] = {}
        self._functions_lock = threading.Lock()
        self._emit_lock = threading.Lock()
        self.interrupts = Interrupts(self.line)
        self.events = EventQueue(runtime, concurrency=self.concurrency, clock=clock, on_drop=self._dropped)
        self.nested_stacks = nested_stacks(self)

    # --- events ------------------------------------------------------------------------

    def emit(self, event: DeployEvent) -> None:
        self.stop_if_abandoned()
        with self._emit_lock:
            for listener in self.listeners:
                listener(event)

    def resource_event(
        self,
        stack_name: str,
        resource: ResourceState,
        status: ResourceStatus,
        action: Action,
        phase: Phase,
        reason: str = "",
        physical_id: str = "",
    ) -> None:
        self.emit(
            ResourceEvent(
                stack_name,
                resource.logical_id,
                resource.type,
                resource.path,
                status,
                action,
                phase,
                physical_id=physical_id or resource.physical_id,
                reason=reason,
            )
        )

    def stack_event(
        self,
        stack_name: str,
        status: StackStatus,
        reason: str = "",
        stack_id: str = "",
        *,
        parent: str | None = None,
        summary: StackSummary | None = None,
    ) -> None:
        self.emit(StackEvent(stack_name, status, stack_id=stack_id, reason=reason, parent=parent, summary=summary))

    def warning(self, stack_name: str, text: str) -> None:
        self.emit(StackWarning(stack_name, text))

    def line(self, text: str) -> None:
        """A note that is not a status change (e.g. what is not deployed locally)."""
        self._lines(text)

    # --- scheduling ----------------------------------------------------------------------

    def run_graph(
        self,
        nodes: Sequence[str],
        prerequisites: Mapping[str, Iterable[str]],
        work: Callable[[str], bool],
        *,
        stop_on_failure: bool,
        stacks: int = 0,
        stop: Callable[[], bool] = lambda: False,
    ) -> dict[str, bool | None]:
        """``concurrent_runs.run_concurrently`` with this deploy's concurrency; an interrupt stops starting new work.

        ``stacks``: the nodes are whole stacks, up to that many at once (their resources share the runtime's
        concurrency); ``stop`` (polled, with ``stop_on_failure``) also stops starting new work."""

        return run_concurrently(
            nodes,
            prerequisites,
            lambda node: _guarded(work, node),
            concurrency=stacks or self.concurrency,
            stop_on_failure=stop_on_failure,
            on_interrupt=self.interrupt,
            # An interrupt stops creates and updates; the rollback and cleanup deletes still run.
            should_stop=(lambda: self.interrupted or stop()) if stop_on_failure else (lambda: False),
            thread_name_prefix="stack" if stacks else "resource",
        )

    @property
    def interrupted(self) -> bool:
        return self.interrupts.interrupted

    def stop_if_abandoned(self) -> None:
        """After a second Ctrl-C, raise ``StopWaiting`` in the worker that calls: the command stopped waiting for
        it, so it sends no request and reports nothing more (a stack's rollback would otherwise follow behind the
        user's back, and its Deletes hide the unanswered Creates that the next run must deliver again)."""
        if self.interrupts.stopped_waiting:
            raise StopWaiting

    def interrupt(self) -> None:
        """Stop starting new work; what is in flight finishes, then the stack rolls back."""
        self.interrupts.interrupt()

    def interrupts_handled(self) -> contextlib.AbstractContextManager[None]:
        """While deploying, a first Ctrl-C interrupts (see ``interrupt``); a second one stops waiting."""
        return self.interrupts.handled()

    # --- provider functions --------------------------------------------------------------

    def add_stacks(self, stacks: Iterable[StackArtifact]) -> None:
        """Nested stacks being deployed: the functions they hold can be providers too."""
        with self._functions_lock:
            self._extra_stacks.update((s.artifact_id, s) for s in stacks)

    def function(
        self, token: str, fallback: Mapping[str, dict[str, Any]] | None = None, *, as_deployed: bool = False
    ) -> FunctionSpec:
        """The provider a ServiceToken names: a Python Lambda function of this cloud assembly, staged locally;
        ``as_deployed``: the one ``fallback`` (a state's functions) recorded, while its staged code is there."""
        recorded = (fallback or {}).get(token)
        # (a record from before roles were recorded has none: the app's function, with its role, comes first)
        if as_deployed and recorded and recorded.get("role") and Path(recorded["code_dir"]).is_dir():
            return FunctionSpec.from_json(recorded)
        with self._functions_lock:  # held while staging: each function's code is copied once
            if token not in self._functions:
                stacks = [*self.assembly.stacks, *self._extra_stacks.values()]
                self._functions[token] = find_function(stacks, self.store, token, fallback)
            return self._functions[token]

    def provider(
        self,
        resource_type: str,
        token: str,
        fallback: Mapping[str, dict[str, Any]] | None = None,
        *,
        as_deployed: bool = False,
    ) -> Provider:
        """What answers a resource's requests: its native runner (a secret), else the function its token names."""
        if resource_type in NATIVE_TYPES:
            native = self.natives.get(resource_type)
            if native is None:
                raise Unresolvable(f"{resource_type} cannot be deployed here: no local service runs it")
            return native
        return self.function(token, fallback, as_deployed=as_deployed)

    def recorded_properties(self, resource_type: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        """The properties as the state and the journal may keep them (a secret's value only as a digest)."""
        native = self.natives.get(resource_type)
        return native.recorded_properties(properties) if native is not None else dict(properties)

    @property
    def functions_used(self) -> list[FunctionSpec]:
        return list(self._functions.values())

    def invoke(
        self,
        stack_name: str,
        resource: ResourceState,
        function: Provider,
        request: CustomResourceRequest,
        *,
        cancel: threading.Event | None = None,
    ) -> Outcome:
        """Deliver ``request`` to a provider function (through the runtime) or a native resource (in process);
        listeners (the journal) hear of it before it is sent and again with its outcome.

        A request that cannot be journaled is not sent: nothing is created that the state could lose. A function's
        event goes through Lambda's queue (``event_queue``); its answer is awaited until the resource's
        ServiceTimeout, or until ``cancel`` is set (a cancelled Create); an answer after that is ignored.
        """
        self.stop_if_abandoned()
        spec = function.to_json() if isinstance(function, FunctionSpec) else None
        sent = Invocation(stack_name, request.request_id, str(request.request_type), resource, spec)
        try:
            for listener in self.invocation_listeners:
                listener(sent)
        except OSError as error:
            return Outcome(None, f"Not sent: the local state journal cannot be written ({error})")
        if isinstance(function, FunctionSpec):
            delivery = self.events.send(function, request, f"{_safe_name(stack_name)}.log")
            outcome = self._await(stack_name, request, delivery, cancel)
        else:
            outcome = Outcome(function.handle(request))
        answer = outcome.answer
        answered = dataclasses.replace(
            sent,
            answered=True,
            succeeded=outcome.succeeded,
            physical_id=answer.physical_id if answer else "",
            data=dict(answer.data) if answer else {},
            unknown=answer is None,
        )
        try:
            for listener in self.invocation_listeners:
                listener(answered)
        except OSError as error:
            self.line(f"{stack_name} | warning: the answer to {request.logical_id} was not journaled ({error})")
        return outcome

    def _await(
        self, stack_name: str, request: CustomResourceRequest, delivery: Delivery, cancel: threading.Event | None
    ) -> Outcome:
        """The outcome of a delivery, as CloudFormation waits for it: until the ServiceTimeout, or a cancellation
        (then the Outcome has no answer, and whatever the invocation answers later is ignored)."""
        timeout = service_timeout(request.properties)
        while True:
            outcome = delivery.wait(_POLL_SECONDS)
            if outcome is not None:
                return outcome
            self.stop_if_abandoned()
            cancelled = cancel is not None and cancel.is_set()
            if not cancelled and self.events.clock() - delivery.sent_at < timeout:
                continue
            outcome = delivery.abandon(lambda late: self._answered_late(stack_name, request, late))
            if outcome is not None:
                return outcome
            if cancelled:
                return Outcome(None, CREATION_CANCELLED, cancelled=True)
            return Outcome(None, no_response(request.request_id))

    def _answered_late(self, stack_name: str, request: CustomResourceRequest, outcome: Outcome) -> None:
        answered = "SUCCESS" if outcome.succeeded else "FAILED" if outcome.answer else "nothing"
        physical_id = f" ({outcome.answer.physical_id})" if outcome.answer and outcome.answer.physical_id else ""
        self.line(
            f"{stack_name} | {request.logical_id}: its {request.request_type} answered {answered}{physical_id} after "
            "CloudFormation stopped waiting; the answer is ignored"
        )

    def _dropped(self, function: FunctionSpec, request: CustomResourceRequest, waited: float) -> None:
        self.line(
            f"{function.function_name}: the {request.request_type} event of {request.logical_id} waited {waited:.0f} s "
            f"in Lambda's queue, longer than its MaximumEventAge of {function.maximum_event_age} s, and was dropped"
        )

    def record(
        self, stack_name: str, request_type: RequestType, resource: ResourceState, data: Mapping[str, Any]
    ) -> None:
        """Tell the listeners (the journal) of a change the engine made itself, such as a nested stack's."""
        sent = Invocation(stack_name, str(uuid.uuid4()), str(request_type), resource)
        answered = dataclasses.replace(
            sent, answered=True, succeeded=True, physical_id=resource.physical_id, data=dict(data)
        )
        with contextlib.suppress(OSError):  # the snapshot written at the end of the run has it too
            for listener in self.invocation_listeners:
                listener(sent)
                listener(answered)

    # --- deletes -------------------------------------------------------------------------

    def delete_all(
        self,
        state: StackState,
        removals: Sequence[Removal],
        *,
        phase: Phase,
        functions: Mapping[str, dict[str, Any]] | None = None,
    ) -> dict[str, str | None]:
        """Delete (or retain) each, dependents before what they depend on: key -> None if done, else why not."""
        by_key = {r.key: r for r in removals}
        keys: dict[str, list[str]] = {}
        for key, removal in by_key.items():
            keys.setdefault(removal.resource.logical_id, []).append(key)
        prerequisites = {
            key: [k for lid in r.resource.depends_on for k in keys.get(lid, ())] for key, r in by_key.items()
        }
        dependents_first = reverse(list(by_key), prerequisites)
        failures: dict[str, str] = {}

        def delete(key: str) -> bool:
            failure = self._delete_one(
                state, by_key[key], phase, functions if functions is not None else state.functions
            )
            if failure:
                failures[key] = failure
            return not failure

        results = self.run_graph(list(by_key), dependents_first, delete, stop_on_failure=False)
        return {key: None if ok else failures.get(key, "not started") for key, ok in results.items()}

    def _delete_one(
        self, state: StackState, removal: Removal, phase: Phase, functions: Mapping[str, dict[str, Any]]
    ) -> str:
        """Delete or retain one resource; why it failed, or ""."""
        resource = removal.resource
        stack_name = state.stack_name
        if removal.retained or (removal.policy == "RetainExceptOnCreate" and phase is not Phase.ROLLBACK):
            note = f"retained ({removal.policy}): {resource.physical_id} is kept and no longer managed"
            self.resource_event(stack_name, resource, ResourceStatus.DELETE_SKIPPED, Action.RETAIN, phase, note)
            return ""
        action = Action.ROLLBACK if phase is Phase.ROLLBACK else Action.DELETE
        self.resource_event(stack_name, resource, ResourceStatus.DELETE_IN_PROGRESS, action, phase)
        if resource.type == NESTED_STACK:  # deleting a nested stack is destroying it
            nested_name = str(resource.data.get("StackName") or "")
            failure = "" if self.nested_stacks.destroy(nested_name, stack_name) else "not destroyed"
            if not failure:
                self.record(stack_name, RequestType.DELETE, resource, {})
        else:
            failure = self._invoke_delete(state, resource, phase, functions)
        if not failure:
            self.resource_event(stack_name, resource, ResourceStatus.DELETE_COMPLETE, action, phase)
            return ""
        reason = f"rollback delete failed: {failure}" if phase is Phase.ROLLBACK else failure
        self.resource_event(stack_name, resource, ResourceStatus.DELETE_FAILED, action, phase, reason)
        return failure

    def _invoke_delete(
        self, state: StackState, resource: ResourceState, phase: Phase, functions: Mapping[str, dict[str, Any]]
    ) -> str:
        function: Provider
        try:
            # A destroy runs the code deployed last, as Lambda still has it.
            function = self.provider(
                resource.type, resource.service_token, functions, as_deployed=phase is Phase.DESTROY
            )
        except Unresolvable as error:
            return str(error)
        request = CustomResourceRequest(
            RequestType.DELETE,
            state.stack_id,
            resource.logical_id,
            resource.type,
            service_token(resource.service_token, function),
            resource.properties,
            physical_id=resource.physical_id,
        )
        outcome = self.invoke(state.stack_name, resource, function, request)
        return "" if outcome.succeeded else outcome.reason or "failed"


def service_token(token: str, provider: Provider) -> str:
    """The ServiceToken of a request: the resource's, else the function's ARN (a native resource has none)."""
    return token or (provider.arn if isinstance(provider, FunctionSpec) else "")


def _guarded(work: Callable[[str], bool], node: str) -> bool:
    try:
        return work(node)
    except Exception:  # a bug must not hang the scheduler: the node fails, with the traceback on stderr
        traceback.print_exc()
        return False


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
