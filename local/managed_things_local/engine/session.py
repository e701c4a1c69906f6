"""The local engine's Python API: one ``Session`` builds every part a deploy needs, in the order that matters.

``managed-things deploy|destroy|rollback`` parse their arguments, open a Session and print what it returns; tests
open one to drive the engine and read typed reports, never the CLI's output::

    with Session(Path("cdk.out"), SessionOptions(concurrency=4)) as session:
        result = session.deploy(["MyStack"])
        assert result.reports[0].status == "CREATE_COMPLETE"

What it starts, outermost first (each stops after those inside it): the state store's lock; the Managed
Integrations endpoint (``endpoint_url``, or an embedded emulator whose things persist beside the assembly); Secrets
Manager; the ResponseURL receiver; DescribeStacks; the front door that takes AWS's hostnames to them; the Lambda
runtime; and, innermost, the listeners (a Ctrl-C that stops waiting leaves them first, so what was abandoned is
not reported as it ends). IAM sits beside them all: every local service asks it whether a call is allowed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cloudformation.assembly import CloudAssembly, read_assembly
from ..emulator.server import EmulatorOptions, EmulatorServer
from ..environment import resolve_account
from ..errors import DeployError
from ..lambda_runtime.event_queue import EventQueue
from ..lambda_runtime.invoker import LambdaRuntime
from ..lambda_runtime.pool import DEFAULT_CONCURRENCY
from ..lambda_runtime.runtime import Runtime
from ..services.front_door import FrontDoor
from ..services.iam_authority import IamAuthority
from ..services.responses import ResponseReceiver
from ..services.secrets import SecretResource, SecretsServer, SecretVault
from ..services.stack_status import StackStatuses, StackStatusServer
from ..state.journal import JournalWriter
from ..state.state import STATE_DIR_NAME, StateStore
from .diff import StackDiff
from .diff import diff as diff_stacks
from .engine import Engine
from .executor import Executor, Listener
from .interrupts import Stopping
from .nested_stacks import NestedStackDestroyer
from .preview import preview_executor
from .report import StackReport

RuntimeFactory = Callable[["Session", LambdaRuntime], Runtime]


@dataclass(frozen=True)
class SessionOptions:
    """How a Session runs; the defaults are ``managed-things deploy``'s."""

    concurrency: int = DEFAULT_CONCURRENCY
    """Execution environments at once, one pool for every stack (as Lambda's concurrency); also the resources each
    stack starts at once."""
    stack_concurrency: int = 1
    """Stacks deployed or destroyed at once, dependency permitting (``cdk deploy --concurrency``)."""
    cold: bool = False
    """A fresh execution environment for every event (the provider's init path), instead of warm ones."""
    endpoint_url: str | None = None
    """A running Managed Integrations emulator; default: an embedded one."""
    emulator: EmulatorOptions = field(default_factory=EmulatorOptions)
    """The embedded emulator's options (its account is the stacks' unless set here: see ``things_account``)."""
    persist_emulator: bool = True
    """The embedded emulator keeps its things beside the assembly (``emulator.sqlite``); False: in memory."""
    allow_endpoint_change: bool = False
    """Run even when a stack's things were deployed against another endpoint."""
    verbose: bool = False
    """Every resource listed, also those not deployed locally."""
    parameters: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Stack name -> CloudFormation parameter values."""


@dataclass
class OperationResult:
    """What one deploy, destroy or rollback did: each stack's report, and what it did not get to."""

    reports: list[StackReport]
    not_started: list[str] = field(default_factory=list)
    """Stacks a failure or Ctrl-C kept back."""
    interrupted: bool = False
    """A Ctrl-C stopped it starting new work."""

    @property
    def failed(self) -> bool:
        return any(report.failed for report in self.reports)

    def status(self, stack_name: str) -> str:
        """The stack's status at the end; KeyError when it was not part of the operation."""
        return next(r.status for r in self.reports if r.stack_name == stack_name)


@dataclass(frozen=True)
class DestroyPlan:
    """What a destroy would delete: the stacks named, and with those that depend on them, in deletion order."""

    named: list[str]
    order: list[str]
    lines: list[str]

    @property
    def dependents(self) -> list[str]:
        """Stacks in the order that were not named: they depend on the named."""
        return [name for name in self.order if name not in self.named]


class Session:
    """Every part of a local deploy, started in order as one context manager; each operation reads the cloud
    assembly afresh (a test may rewrite a template between two deploys).

    ``listeners`` see every typed event and ``lines`` every line the engine says (the CLI's progress);
    ``runtime_factory`` may wrap the Lambda runtime the executor invokes (tests that deliver events twice).
    """

    def __init__(
        self,
        cdk_out: Path,
        options: SessionOptions | None = None,
        *,
        listeners: Sequence[Listener] = (),
        lines: Callable[[str], None] | None = None,
        runtime_factory: RuntimeFactory | None = None,
    ) -> None:
        self.cdk_out = Path(cdk_out)
        self.options = options or SessionOptions()
        self.store = StateStore(self.cdk_out.parent / STATE_DIR_NAME)
        self.iam = IamAuthority(self.store)  # the functions' roles, enforced by every local service they call
        self.statuses = StackStatuses()  # what DescribeStacks answers the providers
        self.emulator: EmulatorServer | None = None  # the embedded one, once started
        self.endpoint_url = ""
        self.endpoint_label = ""
        self._listeners = list(listeners)
        self._lines = lines or (lambda text: None)
        self._runtime_factory = runtime_factory
        self._stack: contextlib.ExitStack | None = None
        self.runtime: Runtime | None = None
        """What the executor invokes: the Lambda runtime (or what ``runtime_factory`` made of it) while open."""
        self._secrets: SecretsServer | None = None
        self._door: FrontDoor | None = None
        self._report: Listener | None = None
        self._queues: list[EventQueue] = []  # Lambda's queues of the operations so far (``settle``)

    # --- opening and closing ----------------------------------------------------------------------------------

    def __enter__(self) -> Session:
        with contextlib.ExitStack() as stack:
            stopping = Stopping()
            stack.enter_context(stopping.restoring())
            stack.enter_context(self.store.locked())
            self.endpoint_url, self.endpoint_label = stack.enter_context(self._endpoint())
            # Secrets Manager is local also with an endpoint URL
            self._secrets = stack.enter_context(SecretsServer(SecretVault(self.store.directory), self.iam.authorize))
            receiver = stack.enter_context(ResponseReceiver(self.store.directory))
            stack_status = stack.enter_context(StackStatusServer(self.statuses, self.iam.authorize))
            # the environments' AWS calls go to AWS's hostnames, through the front door
            self._door = stack.enter_context(
                FrontDoor(
                    receiver,
                    managed_integrations=self.endpoint_url,
                    secrets_manager=self._secrets.url,
                    cloudformation=stack_status.url,
                )
            )
            lambda_runtime = stack.enter_context(
                LambdaRuntime(
                    receiver,
                    self._door,
                    self.store.logs_dir,
                    concurrency=self.options.concurrency,
                    cold=self.options.cold,
                    identities=self.iam.bind,
                )
            )
            self.runtime = self._runtime_factory(self, lambda_runtime) if self._runtime_factory else lambda_runtime
            # left first: before the runtime stops what was abandoned
            self._report = stack.enter_context(stopping.reporting(self._tell_listeners))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        stack, self._stack = self._stack, None
        self.runtime = self._report = None
        if stack is not None:
            stack.__exit__(*exc_info)

    @contextlib.contextmanager
    def _endpoint(self) -> Iterator[tuple[str, str]]:
        """(URL, label for the state): ``endpoint_url``, or an embedded emulator in the stacks' account, where IAM
        decides who may call (an emulator at an endpoint URL answers every caller)."""
        if self.options.endpoint_url:
            yield self.options.endpoint_url, self.options.endpoint_url
            return
        self.store.directory.mkdir(parents=True, exist_ok=True)
        options = self.options.emulator
        if options.account_id == EmulatorOptions().account_id:
            options = dataclasses.replace(options, account_id=things_account(self.assembly()))
        state = self.store.emulator_database if self.options.persist_emulator else None
        with EmulatorServer(state=state, options=options, authorizer=self.iam.authorize) as server:
            self.emulator = server
            try:
                label = f"embedded emulator ({state})" if state else server.url
                yield server.url, label
            finally:
                self.emulator = None

    def _tell_listeners(self, event: Any) -> None:
        for listener in self._listeners:
            listener(event)

    # --- the operations ---------------------------------------------------------------------------------------

    def assembly(self) -> CloudAssembly:
        """The cloud assembly, as it is now in ``cdk_out``."""
        return read_assembly(self.cdk_out)

    @property
    def refused_hosts(self) -> list[str]:
        """Hosts the environments asked for that no endpoint rule of a service in the region gives."""
        return sorted(self._door.refused) if self._door else []

    def deploy(
        self, stacks: Sequence[str] = (), *, parameters: Mapping[str, Mapping[str, str]] | None = None
    ) -> OperationResult:
        """Deploy the stacks matching ``stacks`` (names or globs; all by default) and those they depend on;
        ``parameters`` (stack name -> values) instead of the options' for this deploy."""
        engine = self._engine(parameters=parameters)
        reports = engine.deploy(engine.deploy_order(engine.assembly.select(stacks)))
        return self._result(engine, reports)

    def destroy(
        self,
        stacks: Sequence[str] = (),
        *,
        with_dependents: bool = True,
        retain_resources: Sequence[str] = (),
        confirm: Callable[[DestroyPlan], bool] = lambda plan: True,
    ) -> OperationResult:
        """Destroy the stacks matching ``stacks`` (by default every stack of the app) and, ``with_dependents``,
        those that depend on them; ``retain_resources`` are kept (of a stack in DELETE_FAILED or ROLLBACK_FAILED).
        ``confirm`` sees the plan first: nothing is destroyed when it answers False or the plan is empty."""
        engine = self._engine()
        named = destroy_selection(engine.assembly, self.store, stacks)
        order = engine.destroy_order(named, with_dependents=with_dependents)
        engine.check_retained(order, retain_resources)  # before the plan is shown
        plan = DestroyPlan(named, order, engine.destruction_plan(order))
        if not confirm(plan) or not order:
            return OperationResult([])
        return self._result(engine, engine.destroy(order, retain_resources))

    def rollback(
        self, stacks: Sequence[str] = (), *, orphan: Sequence[str] = (), force: bool = False
    ) -> OperationResult:
        """Continue the rollback of the stacks in UPDATE_ROLLBACK_FAILED, like ``cdk rollback``: ``orphan`` skips
        those resources' failed rollback, ``force`` every one that fails."""
        engine = self._engine()
        reports = engine.rollback(destroy_selection(engine.assembly, self.store, stacks), orphan, force=force)
        return self._result(engine, reports)

    def diff(self, stacks: Sequence[str] = ()) -> list[StackDiff]:
        """What a deploy would do to each managed thing; needs nothing running (also outside ``with``)."""
        return diff_stacks(self.assembly(), self.store, list(stacks))

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until Lambda has finished every event this Session's operations sent: an operation returns when
        CloudFormation would, while a cancelled Create, or one whose answer came too late, may still run (as on AWS).
        False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for queue in self._queues:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not queue.settle(left):
                return False
        return True

    def check_deploy(self, stacks: Sequence[str] = ()) -> None:
        """CloudFormation's quotas on what ``deploy(stacks)`` would do: a ``DeployError`` before anything starts
        (call it before ``with``: a refused deploy then leaves nothing behind)."""
        engine = self._engine(open_=False)
        engine.check_quotas(engine.deploy_order(engine.assembly.select(stacks)))

    def _engine(self, *, open_: bool = True, parameters: Mapping[str, Mapping[str, str]] | None = None) -> Engine:
        assembly = self.assembly()
        parameters = self.options.parameters if parameters is None else parameters
        if not open_:
            executor = preview_executor(assembly, self.store)
            return Engine(assembly, self.store, executor, endpoint_label="", parameters=parameters)
        if self.runtime is None or self._report is None or self._secrets is None:
            raise RuntimeError("the Session is not open: use it in a `with` block")
        executor = Executor(
            assembly,
            self.store,
            self.runtime,
            concurrency=self.options.concurrency,
            listeners=[self._report, self.statuses],
            invocation_listeners=[JournalWriter(self.store.journal)],
            lines=self._lines,
            natives=[SecretResource(self._secrets)],
            nested_stacks=NestedStackDestroyer,
        )
        self._queues.append(executor.events)
        return Engine(
            assembly,
            self.store,
            executor,
            endpoint_label=self.endpoint_label,
            parameters=parameters,
            allow_endpoint_change=self.options.allow_endpoint_change,
            verbose=self.options.verbose,
            stack_concurrency=self.options.stack_concurrency,
        )

    @staticmethod
    def _result(engine: Engine, reports: list[StackReport]) -> OperationResult:
        return OperationResult(reports, list(engine.not_started), engine.executor.interrupted)


def things_account(assembly: CloudAssembly) -> str:
    """The account of the embedded emulator's things: the stacks' (a thing lives in the account of the provider
    that creates it, and its role's policies name that account's ARNs); the default one when they differ."""
    accounts = {resolve_account(stack.account) for stack in assembly.stacks}
    return accounts.pop() if len(accounts) == 1 else resolve_account(None)


def destroy_selection(assembly: CloudAssembly, store: StateStore, patterns: Sequence[str]) -> list[str]:
    """Stack names to destroy: the app's stacks, and by name also stacks deployed locally that left the app."""
    if not patterns:
        return [s.stack_name for s in assembly.stacks]
    ids = {s.artifact_id for s in assembly.stacks}
    # a nested stack goes with its parent, never by itself
    deployed = [
        s.stack_name
        for s in store.all()
        if s.artifact_id in ids or not any(s.artifact_id.startswith(f"{i}/") for i in ids)
    ]
    names: list[str] = []
    for pattern in patterns:
        matches = [
            s.stack_name
            for s in assembly.stacks
            if any(fnmatch.fnmatchcase(n, pattern) for n in (s.artifact_id, s.display_name, s.stack_name))
        ]
        matches += [n for n in deployed if fnmatch.fnmatchcase(n, pattern)]
        if not matches:
            raise DeployError(f"No stack matches '{pattern}' (in the app or deployed locally)")
        names += [n for n in dict.fromkeys(matches) if n not in names]
    return names
