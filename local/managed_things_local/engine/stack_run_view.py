"""What a stack run shows the modules that deploy, finish and roll back parts of it.

``StackRun`` is the one implementation. The modules it delegates to (``resource_deploy``, ``nested_stacks``,
``rollback``, ``stack_finish``) see it through ``StackRunView``, so that data flows one way: the run imports them,
and they import only this.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from ..cloudformation.assembly import StackArtifact
from ..cloudformation.intrinsics import Pseudo, Resolver
from ..cloudformation.plan import StackPlan
from ..cloudformation.stack_events import Action, Phase, ResourceStatus, StackStatus, StackSummary
from ..state.state import OutputState, ResourceState, StackState, StateStore
from .executor import Executor


class CreatesInFlight:
    """The Creates of one stack run in flight, each with what cancels it.

    As CloudFormation does when a resource fails: every Create in flight (running, or queued by Lambda) is
    CREATE_FAILED "Resource creation cancelled" at once, and the rollback does not wait for its answer: it
    sends a Delete with a physical id it makes up (cloudformation-coverage-roadmap#1814, aws-cdk#36951).
    Updates in flight are waited for: what CloudFormation does with them is not documented."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancels: dict[str, threading.Event] = {}
        self._cancelling = False

    def start(self, logical_id: str, *, cancellable: bool) -> threading.Event | None:
        """What cancels the request about to be sent for ``logical_id`` (only a Create's is ever set); None once
        a resource failed: nothing more starts."""
        cancel = threading.Event()
        with self._lock:
            if self._cancelling:
                return None
            if cancellable:
                self._cancels[logical_id] = cancel
        return cancel

    def finished(self, logical_id: str) -> None:
        with self._lock:
            self._cancels.pop(logical_id, None)

    def cancel_all(self) -> None:
        """A resource failed: cancel every Create in flight, and start nothing more."""
        with self._lock:
            self._cancelling = True
            in_flight = list(self._cancels.values())
        for cancel in in_flight:
            cancel.set()


class StackRunView(Protocol):
    """One stack's run, as its parts see it."""

    executor: Executor
    store: StateStore
    artifact: StackArtifact
    previous: StackState | None
    name: str
    pseudo: Pseudo
    plan: StackPlan
    resolver: Resolver
    outputs: dict[str, OutputState]
    failed_resource: str
    creates_in_flight: CreatesInFlight

    @property
    def children(self) -> Mapping[str, StackRunView]: ...

    @property
    def changed(self) -> bool: ...

    def deployed(self, logical_id: str) -> ResourceState | None: ...

    def properties(self, logical_id: str) -> dict[str, Any]: ...

    def announce(self) -> None: ...

    def begin_journal(self) -> str: ...

    def apply(self) -> str: ...

    def commit(self) -> None: ...

    def rollback(self, failure: str) -> list[str]: ...

    def nested_run(
        self, artifact: StackArtifact, previous: StackState | None, parameters: Mapping[str, str]
    ) -> StackRunView: ...

    def add_child(self, logical_id: str, child: StackRunView) -> None: ...

    def records_now(self) -> dict[str, ResourceState]: ...

    def output_attributes(self) -> dict[str, Any]: ...

    def event(
        self,
        logical_id: str,
        status: ResourceStatus,
        action: Action,
        reason: str = "",
        phase: Phase = Phase.DEPLOY,
        physical_id: str = "",
    ) -> None: ...

    def stack_event(self, status: StackStatus, reason: str = "", summary: StackSummary | None = None) -> None: ...

    def label(self, logical_id: str) -> str: ...

    def stack_state(self, status: str, **values: Any) -> StackState: ...

    def resource_state(self, logical_id: str, **values: Any) -> ResourceState: ...

    def record(self, record: ResourceState) -> None: ...

    def failed(self, logical_id: str, verb: str, reason: str, physical_id: str = "") -> bool: ...
