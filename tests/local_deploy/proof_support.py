"""Shared by the proof tests: the convergence invariant, an emulator whose faults change live, and a runtime
that delivers CloudFormation's requests at least once (twice, or again after killing the handler mid-request).

The invariant (issue 7 §3): after any sequence of events CloudFormation really sends, the things the emulator
holds are exactly those the local deploy's state records, each PhysicalResourceId naming one of them: no
duplicate, no orphan, and no stack left in a *_FAILED state (or, where a test allows one, a plain redeploy
recovers it).
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canary_scan import SCAN

from managed_things_local.cli.progress import Progress
from managed_things_local.cloudformation.requests import CustomResourceRequest
from managed_things_local.emulator.faults import EmulatorOptions, FaultInjector
from managed_things_local.emulator.server import EmulatorServer
from managed_things_local.engine.session import OperationResult, Session, SessionOptions
from managed_things_local.lambda_runtime.invoker import FunctionSpec, LambdaRuntime, Outcome
from managed_things_local.services.stack_status import StackStatuses
from managed_things_local.state.state import StateStore

MANAGED_THING = "Custom::ManagedThing"
RECOVERABLE = "ClientToken/"  # the provider's id for a Create of unknown outcome
# What the issue asks the emulator to do to every deploy of the proof: 30 % throttled, 5 % 5xx (before or after a
# committed Create), some latency; seeded so that a run repeats (as far as concurrent requests arrive in order).
FAULTS = EmulatorOptions(
    throttle_fraction=0.3, error_fraction=0.05, error_after_commit_fraction=0.05, latency=0.02, seed=7
)


# --- the invariant ------------------------------------------------------------------------------------------


def live_things(server: EmulatorServer) -> dict[str, dict[str, Any]]:
    """Every thing the emulator holds, by Id."""
    return {thing["Id"]: thing for thing in server.backend.list_things()}


def client_tokens(server: EmulatorServer) -> dict[str, str]:
    """ClientToken -> the Id of the thing a Create with it made (as the service keeps them)."""
    with server.store.transaction() as tx:
        return {t.client_token: t.doc["Id"] for t in tx.page(None, {}, 0, -1) if t.client_token}


def convergence_problems(
    things: Mapping[str, Mapping[str, Any]],
    store: StateStore,
    *,
    allow_failed: bool = False,
    tokens: Mapping[str, str] | None = None,
) -> list[str]:
    """Why the emulator's things and the recorded state disagree (empty when they converge).

    With ``allow_failed``, a stack left *_FAILED may record a Create of unknown outcome by its recoverable id
    ``ClientToken/<token>``: it names the thing a Create with that token made (``tokens``), if any.
    """
    problems: list[str] = []
    tokens = tokens or {}
    owners: dict[str, list[str]] = collections.defaultdict(list)
    for state in store.all():  # snapshots with their journals replayed: what destroy and the next deploy see
        if state.status.endswith("_FAILED") and not allow_failed:
            problems.append(f"stack {state.stack_name} is left {state.status}")
        for resource in state.resources.values():
            if resource.type != MANAGED_THING:
                continue
            where = f"{state.stack_name}/{resource.logical_id}"
            if allow_failed and resource.physical_id.startswith(RECOVERABLE):
                made = tokens.get(resource.physical_id.removeprefix(RECOVERABLE))
                if made is not None:
                    owners[made].append(where)
                continue
            owners[resource.physical_id].append(where)
            thing = things.get(resource.physical_id)
            if thing is None:
                problems.append(f"{where} records {resource.physical_id!r}, which names no live thing")
                continue
            for member in ("Role", "Name"):
                wanted = resource.properties.get(member)
                if wanted is not None and thing.get(member) != wanted:
                    problems.append(f"{where}: the thing's {member} is {thing.get(member)!r}, not {wanted!r}")
    for physical_id, where in owners.items():
        if len(where) > 1:
            problems.append(f"{physical_id} is recorded by {len(where)} resources: {', '.join(where)}")
    for thing_id, thing in things.items():
        if thing_id not in owners:
            problems.append(f"orphan: thing {thing_id} (Name {thing.get('Name')!r}) is recorded by no resource")
    return problems


def assert_converged(server: EmulatorServer, store: StateStore, *, allow_failed: bool = False) -> None:
    """The invariant: emulator things == recorded resources, one to one, and no stack left *_FAILED."""
    problems = convergence_problems(live_things(server), store, allow_failed=allow_failed, tokens=client_tokens(server))
    assert not problems, "not converged:\n  " + "\n  ".join(problems)


# --- the emulator's faults, changed while it runs -------------------------------------------------------------


def set_faults(server: EmulatorServer, options: EmulatorOptions = EmulatorOptions()) -> None:  # noqa: B008
    """From the next request on, the emulator misbehaves as ``options`` say (the defaults: it behaves)."""
    server.responses.faults = FaultInjector(options)


class SlowFirst(FaultInjector):
    """The first ``count`` Creates are committed at once but answered ``seconds`` late; the rest at once.

    (Committed first, as the issue measured it: a thing the service made while the provider gave up waiting.
    A request held back before it commits would race the rollback's own Create with the same ClientToken.)
    """

    def __init__(self, seconds: float, count: int = 1) -> None:
        super().__init__(EmulatorOptions())
        self.seconds = seconds
        self.count = count

    def after_commit(self) -> None:
        with self._lock:
            slow = self.count > 0
            self.count -= 1
        if slow:
            time.sleep(self.seconds)


@dataclass
class HandledHook:
    """Calls ``callback(method, target, status)`` after the emulator carried out a request, before it answers."""

    server: EmulatorServer
    callbacks: list[Callable[[str, str, int], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        responses = self.server.responses
        handle = responses.handle

        def hooked(request: Any) -> Any:
            response = handle(request)
            for callback in list(self.callbacks):
                callback(request.method, request.target, response.status)
            return response

        responses.handle = hooked  # type: ignore[method-assign]


# --- at-least-once delivery -------------------------------------------------------------------------------------

Choose = Callable[[CustomResourceRequest], bool]
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Delivery:
    """One delivery of a request, as the wrapper saw it."""

    request_type: str
    logical_id: str
    request_id: str
    how: str  # "once", "duplicate", "killed", "redelivered"
    succeeded: bool
    physical_id: str


class _Gate:
    """Invocations run side by side (``shared``), except one that must run alone (``exclusive``)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running = 0
        self._exclusive = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._exclusive)
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._exclusive and not self._running)
            self._exclusive = True
        try:
            yield
        finally:
            with self._changed:
                self._exclusive = False
                self._changed.notify_all()


class AtLeastOnceRuntime:
    """The real ``LambdaRuntime``, delivering chosen requests twice, or killing the handler mid-request and
    delivering the same event again (Lambda's asynchronous invocation is at-least-once).

    ``duplicate``: the request is delivered a second time after its first delivery answered; CloudFormation
    keeps the first answer. ``kill``: once the emulator has carried out the invocation's first mutating API
    call (a Create committed, a Delete done...), the environment's process is killed before the answer reaches
    the handler; the event is then delivered again, to a fresh environment, and that answer counts. An invocation
    to be killed runs alone (the others wait, and it waits for them), so that the mutating call the emulator sees
    is its own: at a concurrency above 1 another invocation's call would kill it at a point of no meaning.
    """

    def __init__(self, inner: LambdaRuntime, server: EmulatorServer, hook: HandledHook) -> None:
        self.inner = inner
        self.duplicate: Choose = lambda request: False
        self.kill: Choose = lambda request: False
        self.deliveries: list[Delivery] = []
        self._environments: dict[int, Any] = {}
        self._armed: list[int] = []  # threads whose environment is to be killed at its next mutating call
        self._lock = threading.Lock()
        self._alone = _Gate()
        pool = inner._pool
        acquire = pool.acquire

        def recorded(function: FunctionSpec) -> Any:
            environment = acquire(function)
            with self._lock:
                self._environments[threading.get_ident()] = environment
            return environment

        pool.acquire = recorded  # type: ignore[method-assign]
        hook.callbacks.append(self._after_request)

    def _after_request(self, method: str, target: str, status: int) -> None:
        if method.upper() not in _MUTATING or status >= 300:
            return
        with self._lock:
            if not self._armed:
                return
            environment = self._environments.get(self._armed.pop(0))
        if environment is not None and environment.pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(environment.pid, signal.SIGKILL)

    def invoke(self, function: FunctionSpec, request: CustomResourceRequest, log_name: str) -> Outcome:
        if self.kill(request):
            with self._alone.exclusive():
                with self._lock:
                    self._armed.append(threading.get_ident())
                killed = self.inner.invoke(function, request, log_name)
                with self._lock:
                    armed = threading.get_ident() in self._armed
                    if armed:  # no mutating call was made: nothing was killed
                        self._armed.remove(threading.get_ident())
            self._note(request, "once" if armed else "killed", killed)
            if armed or killed.answer is not None:
                return killed
            outcome = self.inner.invoke(function, request, log_name)
            self._note(request, "redelivered", outcome)
            return outcome
        with self._alone.shared():
            outcome = self.inner.invoke(function, request, log_name)
        self._note(request, "once", outcome)
        if self.duplicate(request):
            with self._alone.shared():
                again = self.inner.invoke(function, request, log_name)
            self._note(request, "duplicate", again)
        return outcome

    def _note(self, request: CustomResourceRequest, how: str, outcome: Outcome) -> None:
        answer = outcome.answer
        delivery = Delivery(
            str(request.request_type),
            request.logical_id,
            request.request_id,
            how,
            outcome.succeeded,
            answer.physical_id if answer else "",
        )
        with self._lock:
            self.deliveries.append(delivery)

    def close(self) -> None:
        self.inner.close()


# --- the engine, driven directly: one warm runtime for many deploys ---------------------------------------------


class Harness:
    """A ``Session`` with an in-memory emulator (its faults changeable) and one warm ``LambdaRuntime`` wrapped to
    deliver events at least once, deploying the cloud assembly in ``cdk_out`` for many deploys, each as
    ``managed-things deploy`` would; each operation's progress text is kept in ``outputs``."""

    def __init__(self, cdk_out: Path, session: Session, hook: HandledHook, stream: io.StringIO) -> None:
        self.cdk_out = cdk_out
        self.session = session
        self.hook = hook
        self.outputs: list[str] = []
        self._stream = stream

    @property
    def server(self) -> EmulatorServer:
        assert self.session.emulator is not None
        return self.session.emulator

    @property
    def runtime(self) -> AtLeastOnceRuntime:
        return self.session.runtime  # type: ignore[return-value]

    @runtime.setter
    def runtime(self, runtime: Any) -> None:
        self.session.runtime = runtime

    @property
    def statuses(self) -> StackStatuses:
        return self.session.statuses

    @property
    def store(self) -> StateStore:
        return self.session.store

    def _done(self, command: str, result: OperationResult) -> OperationResult:
        # Time passes until Lambda has finished what it was sent (a cancelled Create may still run when the
        # operation ends, as on AWS): the invariant is checked of what stays.
        assert self.session.settle(timeout=600), "Lambda's invocations did not end"
        output = self._stream.getvalue()
        self._stream.seek(0)
        self._stream.truncate()
        self.outputs.append(output)
        SCAN.output(f"engine {command}", output)
        return result

    def deploy(self, parameters: Mapping[str, Mapping[str, str]] | None = None) -> OperationResult:
        return self._done("deploy", self.session.deploy(parameters=parameters))

    def destroy(self) -> OperationResult:
        return self._done("destroy", self.session.destroy())

    def rollback(self, orphan: Sequence[str] = (), *, force: bool = False) -> OperationResult:
        """``managed-things rollback`` of every stack: continue the rollback of those in UPDATE_ROLLBACK_FAILED."""
        return self._done("rollback", self.session.rollback(orphan=orphan, force=force))

    def recover(self, stack: str, status: str) -> None:
        """Get a stack out of a failed state as on AWS, once the service behaves: an UPDATE_ROLLBACK_FAILED stack
        has its rollback continued (`managed-things rollback`, as CloudFormation never retries it by itself); the
        deploy that follows deletes and re-creates a ROLLBACK_FAILED one."""
        if status == "UPDATE_ROLLBACK_FAILED":
            status = self.rollback().status(stack)
            assert status == "UPDATE_ROLLBACK_COMPLETE", self.outputs[-1]

    def assert_converged(self, *, allow_failed: bool = False) -> None:
        assert_converged(self.server, self.store, allow_failed=allow_failed)


@contextlib.contextmanager
def harness(
    cdk_out: Path,
    options: EmulatorOptions = EmulatorOptions(),  # noqa: B008
    concurrency: int = 2,
) -> Iterator[Harness]:
    """A Session as ``managed-things deploy`` opens it, with an in-memory emulator, open for many deploys.

    Kill tests use ``concurrency=1``: the killer takes the environments in the order their invocations began."""
    hooks: list[HandledHook] = []

    def at_least_once(session: Session, inner: LambdaRuntime) -> AtLeastOnceRuntime:
        assert session.emulator is not None
        hooks.append(HandledHook(session.emulator))
        return AtLeastOnceRuntime(inner, session.emulator, hooks[0])

    stream = io.StringIO()
    progress = Progress(stream)
    session_options = SessionOptions(concurrency=concurrency, emulator=options, persist_emulator=False)
    session = Session(
        cdk_out, session_options, listeners=[progress], lines=progress.line, runtime_factory=at_least_once
    )
    with session:
        yield Harness(cdk_out, session, hooks[0], stream)


def write_template(cdk_out: Path, stack: str, base: Mapping[str, Any], things: Mapping[str, Mapping[str, Any]]) -> None:
    """The stack's template in ``cdk_out`` becomes ``base`` with ``things`` as its managed things."""
    (cdk_out / f"{stack}.template.json").write_text(json.dumps(replace_things(base, things)))


def replace_things(template: Mapping[str, Any], things: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``template`` (as synthesized, with its provider) with its Custom::ManagedThing resources replaced by
    ``things`` (logical id -> resource: ``Properties`` without ServiceToken, optional ``DependsOn``)."""
    resources = {k: v for k, v in template["Resources"].items() if v.get("Type") != MANAGED_THING}
    token = next(v for v in template["Resources"].values() if v.get("Type") == MANAGED_THING)["Properties"][
        "ServiceToken"
    ]
    for logical_id, resource in things.items():
        resources[logical_id] = {
            **{k: v for k, v in resource.items() if k != "Properties"},
            "Type": MANAGED_THING,
            "Properties": {"ServiceToken": token, "ServiceTimeout": "300", **resource["Properties"]},
        }
    return {**template, "Resources": resources}


__all__ = [
    "FAULTS",
    "AtLeastOnceRuntime",
    "Delivery",
    "Harness",
    "HandledHook",
    "SlowFirst",
    "assert_converged",
    "client_tokens",
    "convergence_problems",
    "harness",
    "live_things",
    "replace_things",
    "set_faults",
    "write_template",
]
