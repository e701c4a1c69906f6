"""Lambda's asynchronous invocation, as CloudFormation uses it: each function's events queue for its concurrency.

CloudFormation invokes a custom resource's function asynchronously
(``InvocationType=Event``). Lambda puts the event in the function's queue and
runs it when the function has concurrency free: its
``ReservedConcurrentExecutions``, else (here) the engine's concurrency. An
event that waited longer than the function's ``MaximumEventAgeInSeconds``
(``AWS::Lambda::EventInvokeConfig``, 60 to 21600, default 21600) is discarded,
never run. See https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html,
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html and
https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html.

The sender does not wait on the queue: it gets a ``Delivery`` and decides how
long to wait for its outcome (CloudFormation: the resource's ServiceTimeout).
An outcome that arrives after the sender stopped waiting goes to the handler it
left (CloudFormation ignores it). The age is measured with the queue's clock,
which tests can hand in.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..cloudformation.requests import CustomResourceRequest
from .invoker import FunctionSpec, Outcome
from .runtime import Runtime

Clock = Callable[[], float]
DropListener = Callable[[FunctionSpec, CustomResourceRequest, float], None]  # the event and how long it waited


class Delivery:
    """One event sent to a function: its outcome once the invocation ended, unless the event was dropped."""

    def __init__(self, sent_at: float) -> None:
        self.sent_at = sent_at
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._outcome: Outcome | None = None
        self._error: BaseException | None = None  # raised by the runtime: raised again to whoever waits
        self._late: Callable[[Outcome], None] | None = None

    def wait(self, seconds: float) -> Outcome | None:
        """The outcome, if it arrives within ``seconds``; else None."""
        if not self._done.wait(seconds):
            return None
        if self._error is not None:
            raise self._error
        return self._outcome

    def abandon(self, late: Callable[[Outcome], None]) -> Outcome | None:
        """Stop waiting: an outcome arriving later goes to ``late``. The outcome if it arrived meanwhile."""
        with self._lock:
            if not self._done.is_set():
                self._late = late
                return None
        return self.wait(0)

    def resolve(self, outcome: Outcome | None, error: BaseException | None = None) -> None:
        with self._lock:
            self._outcome, self._error = outcome, error
            self._done.set()
            late = self._late
        if late is not None and outcome is not None:
            late(outcome)


@dataclass
class _Event:
    function: FunctionSpec
    request: CustomResourceRequest
    log_name: str
    delivery: Delivery


@dataclass
class _FunctionQueue:
    waiting: deque[_Event] = field(default_factory=deque)
    running: int = 0


class EventQueue:
    """Sends events to functions through ``runtime``, at most each function's concurrency at once."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        concurrency: int,
        clock: Clock = time.monotonic,
        on_drop: DropListener = lambda function, request, waited: None,
    ) -> None:
        self.runtime = runtime
        self.concurrency = max(1, concurrency)
        self.clock = clock
        self.on_drop = on_drop
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # an event ended: for ``settle``
        self._functions: dict[str, _FunctionQueue] = {}

    def send(self, function: FunctionSpec, request: CustomResourceRequest, log_name: str) -> Delivery:
        """Queue the event (Lambda accepted it); it runs when the function has room, unless it is too old by then."""
        event = _Event(function, request, log_name, Delivery(self.clock()))
        with self._lock:
            queue = self._functions.setdefault(function.arn, _FunctionQueue())
            queue.waiting.append(event)
            started = self._take_runnable(queue)
        self._start(started)
        return event.delivery

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until no event runs or waits: Lambda has finished what it was sent, answers nobody waits for
        included. False if ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not any(queue.running or queue.waiting for queue in self._functions.values()), timeout
            )

    @property
    def waiting(self) -> int:
        """How many events wait in the queues."""
        with self._lock:
            return sum(len(queue.waiting) for queue in self._functions.values())

    def _limit(self, function: FunctionSpec) -> int:
        # ReservedConcurrentExecutions 0 still lets one through: the runtime answers it throttled.
        reserved = function.reserved_concurrency
        return max(1, reserved) if reserved is not None else self.concurrency

    def _take_runnable(self, queue: _FunctionQueue) -> list[_Event]:
        """The events that get room now (with the lock held); those too old are dropped on the way."""
        started: list[_Event] = []
        dropped: list[tuple[_Event, float]] = []
        while queue.waiting and queue.running < self._limit(queue.waiting[0].function):
            event = queue.waiting.popleft()
            waited = self.clock() - event.delivery.sent_at
            if waited > event.function.maximum_event_age:
                dropped.append((event, waited))  # its Delivery never resolves: nobody hears back
                continue
            queue.running += 1
            started.append(event)
        for event, waited in dropped:
            self.on_drop(event.function, event.request, waited)
        return started

    def _start(self, events: list[_Event]) -> None:
        for event in events:
            name = f"event-{event.request.logical_id}"
            threading.Thread(target=self._run, args=(event,), name=name, daemon=True).start()

    def _run(self, event: _Event) -> None:
        outcome: Outcome | None = None
        error: BaseException | None = None
        try:
            outcome = self.runtime.invoke(event.function, event.request, event.log_name)
        except BaseException as problem:  # noqa: BLE001 - handed to whoever waits, in its thread
            error = problem
        finally:
            with self._lock:
                queue = self._functions[event.function.arn]
                queue.running -= 1
                started = self._take_runnable(queue)
                self._changed.notify_all()
            self._start(started)
        event.delivery.resolve(outcome, error)
