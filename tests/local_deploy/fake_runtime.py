"""An in-process runtime and hand-written cloud assemblies: every failure path of the engine in milliseconds.

``FakeRuntime`` answers each request the way a well-behaved provider would (a
Create's physical id is its ``Id`` property, so changing ``Id`` is a
replacement; an Update without a new ``Id`` keeps its id), unless a script says
otherwise: fail, never answer, answer another id, or be interrupted by Ctrl-C.
"""

from __future__ import annotations

import io
import json
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from managed_things_local.cli.progress import Progress, StackReport
from managed_things_local.cloudformation.requests import CustomResourceRequest, RequestType
from managed_things_local.cloudformation.stack_events import DeployEvent
from managed_things_local.engine.engine import Engine
from managed_things_local.engine.executor import Executor
from managed_things_local.engine.nested_stacks import NestedStackDestroyer
from managed_things_local.lambda_runtime.invoker import FunctionSpec, Outcome
from managed_things_local.services.responses import Answer
from managed_things_local.state.journal import JournalWriter
from managed_things_local.state.state import StateStore

Key = tuple[str, RequestType]  # (logical id, request type)
PROVIDER = {
    "Type": "AWS::Lambda::Function",
    "Properties": {"Runtime": "python3.12", "Handler": "provider.handler", "Timeout": 30},
    "Metadata": {"aws:asset:path": "asset.provider", "aws:asset:property": "Code"},
}
TOKEN = {"Fn::GetAtt": ["Provider", "Arn"]}


@dataclass
class FakeRuntime:
    """Answers requests in-process, as scripted; records every request it was given, in order."""

    fail: dict[Key, str] = field(default_factory=dict)  # answer FAILED with this reason, once
    silent: set[Key] = field(default_factory=set)  # never answer (the function ends without answering)
    new_id: dict[Key, str] = field(default_factory=dict)  # answer SUCCESS with this physical id
    interrupt: set[Key] = field(default_factory=set)  # Ctrl-C at the terminal while this one runs
    hold: dict[Key, threading.Event] = field(default_factory=dict)  # answer only once this is set (10 s at most)
    requests: list[CustomResourceRequest] = field(default_factory=list)
    timeline: list[tuple[str, str, str]] = field(default_factory=list)  # ("sent" or "answered", type, logical id)
    on_request: Callable[[CustomResourceRequest], None] | None = None
    on_line: Callable[[str], None] | None = None  # hears each line the engine writes that is not an event
    closed: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.interrupt_seen = threading.Event()  # set when the engine says it was interrupted

    def invoke(self, function: FunctionSpec, request: CustomResourceRequest, log_name: str) -> Outcome:
        with self._lock:
            self.requests.append(request)
            self.timeline.append(("sent", str(request.request_type), request.logical_id))
        if self.on_request:
            self.on_request(request)
        key = (request.logical_id, request.request_type)
        if key in self.hold:
            self.hold[key].wait(10)
        outcome = self._answer(function, request, key)
        with self._lock:
            self.timeline.append(("answered", str(request.request_type), request.logical_id))
        return outcome

    def _answer(self, function: FunctionSpec, request: CustomResourceRequest, key: Key) -> Outcome:
        if key in self.interrupt:
            signal.raise_signal(signal.SIGINT)  # arrives in the main thread, which waits on this invocation
            self.interrupt_seen.wait(10)  # answer once the engine took the interrupt, as a slow provider would
        if key in self.silent:
            return Outcome(None, f"The function {function.function_name} ended without answering")
        with self._lock:
            reason = self.fail.pop(key, None)
        if reason is not None:
            return Outcome(Answer("FAILED", reason, request.physical_id or f"{request.logical_id}-failed"))
        if key in self.new_id:
            return Outcome(Answer("SUCCESS", "", self.new_id[key], {}))
        if request.request_type is RequestType.DELETE:
            physical_id = request.physical_id or ""
        else:
            physical_id = str(request.properties.get("Id") or request.physical_id or f"{request.logical_id}-id")
        return Outcome(Answer("SUCCESS", "", physical_id, {"Echo": str(request.properties.get("Id", ""))}))

    def close(self) -> None:
        self.closed = True

    def calls(self) -> list[tuple[str, str, str]]:
        """(RequestType, LogicalResourceId, PhysicalResourceId or the new Id) per request, in order."""
        return [
            (str(r.request_type), r.logical_id, r.physical_id or str(r.properties.get("Id", ""))) for r in self.requests
        ]


def thing(identifier: str, **properties: Any) -> dict[str, Any]:
    """A Custom::ManagedThing served by the assembly's provider; ``Id`` becomes its physical id."""
    resource: dict[str, Any] = {
        "Type": "Custom::ManagedThing",
        "Properties": {"ServiceToken": TOKEN, "Id": identifier, **properties},
    }
    return resource


def nested_stack(file_name: str, construct_path: str, **parameters: Any) -> dict[str, Any]:
    """An AWS::CloudFormation::Stack resource as CDK synthesizes a NestedStack's, its template an asset."""
    return {
        "Type": "AWS::CloudFormation::Stack",
        "Properties": {"TemplateURL": "https://s3.example/template.json", **({"Parameters": parameters} or {})},
        "Metadata": {
            "aws:cdk:path": f"{construct_path}.NestedStack/{construct_path.rsplit('/', 1)[-1]}.NestedStackResource",
            "aws:asset:path": file_name,
            "aws:asset:property": "TemplateURL",
        },
    }


@dataclass
class Deployed:
    reports: list[StackReport]
    lines: list[str]
    events: list[DeployEvent]

    def report(self, stack: str = "Fake") -> StackReport:
        return next(r for r in self.reports if r.stack_name == stack)


@dataclass
class FakeApp:
    """A cloud assembly written by hand below ``root``, deployed through the engine with a fake runtime."""

    root: Path

    @property
    def cdk_out(self) -> Path:
        return self.root / "cdk.out"

    @property
    def store(self) -> StateStore:
        return StateStore(self.root / ".managed-things")

    def write(
        self,
        stacks: Mapping[str, Mapping[str, Any]],
        nested: Mapping[str, Mapping[str, Any]] = {},
        dependencies: Mapping[str, Sequence[str]] = {},
    ) -> None:
        """``stacks``: stack name -> its Resources (the provider is added) or a whole template (with "Resources");
        ``nested``: nested template file name -> its template (its own provider is added); ``dependencies``:
        stack name -> the stacks it depends on (the manifest's, as ``stack.add_dependency`` writes them)."""
        (self.cdk_out / "asset.provider").mkdir(parents=True, exist_ok=True)
        (self.cdk_out / "asset.provider" / "provider.py").write_text("def handler(event, context): pass\n")
        artifacts: dict[str, Any] = {}
        for file_name, content in nested.items():
            template = {**content, "Resources": {"Provider": PROVIDER, **content["Resources"]}}
            (self.cdk_out / file_name).write_text(json.dumps(template))
        for name, content in stacks.items():
            template = dict(content) if "Resources" in content else {"Resources": dict(content)}
            template["Resources"] = {"Provider": PROVIDER, **template["Resources"]}
            (self.cdk_out / f"{name}.template.json").write_text(json.dumps(template))
            artifacts[name] = {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": f"{name}.template.json"},
                **({"dependencies": list(dependencies[name])} if name in dependencies else {}),
            }
        (self.cdk_out / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": artifacts}))

    def engine(
        self,
        runtime: FakeRuntime,
        endpoint: str = "fake",
        allow_endpoint_change: bool = False,
        stack_concurrency: int = 1,
        concurrency: int = 2,
        clock: Callable[[], float] | None = None,
    ) -> tuple[Engine, list[str], list[DeployEvent]]:
        from managed_things_local.cloudformation.assembly import read_assembly

        stream = io.StringIO()
        progress = Progress(stream)
        events: list[DeployEvent] = []
        lines: list[str] = []

        def line(text: str) -> None:
            if text.startswith("Interrupted"):
                runtime.interrupt_seen.set()
            if runtime.on_line:
                runtime.on_line(text)
            lines.append(text)
            progress.line(text)

        def listen(event: DeployEvent) -> None:
            events.append(event)
            progress(event)
            printed = stream.getvalue().splitlines()
            if printed:  # a warning before any stack event prints nothing yet
                lines.append(printed[-1])

        assembly = read_assembly(self.cdk_out)
        executor = Executor(
            assembly,
            self.store,
            runtime,
            concurrency=concurrency,
            listeners=[listen],
            invocation_listeners=[JournalWriter(self.store.journal)],
            lines=line,
            nested_stacks=NestedStackDestroyer,
            **({"clock": clock} if clock is not None else {}),
        )
        engine = Engine(
            assembly,
            self.store,
            executor,
            endpoint_label=endpoint,
            allow_endpoint_change=allow_endpoint_change,
            stack_concurrency=stack_concurrency,
        )
        return engine, lines, events

    def deploy(self, runtime: FakeRuntime, stacks: Sequence[str] = (), **options: Any) -> Deployed:
        engine, lines, events = self.engine(runtime, **options)
        selected = engine.assembly.select(list(stacks))
        return Deployed(engine.deploy(engine.deploy_order(selected)), lines, events)

    def destroy(self, runtime: FakeRuntime, stacks: Sequence[str] = (), **options: Any) -> Deployed:
        engine, lines, events = self.engine(runtime, **options)
        names = list(stacks) or [s.stack_name for s in engine.assembly.stacks]
        return Deployed(engine.destroy(engine.destroy_order(names)), lines, events)

    def state(self, stack: str = "Fake") -> dict[str, str]:
        """logical id -> physical id of the stack's recorded resources ({} when it has no state)."""
        state = self.store.load(stack)
        return {lid: r.physical_id for lid, r in state.resources.items()} if state else {}


class FakeClock:
    """A monotonic clock that moves only when told: Lambda's queue and CloudFormation's ServiceTimeout read it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Died(BaseException):
    """The deploy's process ended here: nothing after it runs (a BaseException, which the engine does not catch)."""


def deploy_dying_at(app: FakeApp, logical_id: str | None = None) -> list[CustomResourceRequest]:
    """Deploy ``app`` until the request of ``logical_id`` (else the first request) is in flight, and end the
    process there; the requests that were in flight."""
    lost: list[CustomResourceRequest] = []

    def die(request: CustomResourceRequest) -> None:
        if logical_id is None or request.logical_id == logical_id:
            lost.append(request)
            raise Died()

    try:
        app.deploy(FakeRuntime(on_request=die))
    except Died:
        return lost
    raise AssertionError(f"the deploy never reached {logical_id or 'a request'}")
