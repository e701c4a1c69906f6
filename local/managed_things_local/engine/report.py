"""The final report of a deploy or destroy (``--json`` and the summary): a fold over the executor's events.

``Reports`` listens to the events as they are born and keeps one ``StackReport``
per stack: a resource's entry is its last event (failure reasons of a rollback
added to the reason that caused it), a stack's status, error and outputs come
from its stack events, and the summary on a stack's last event fills in the
resources that had no event (unchanged ones, or those a rollback left as they
were). Nothing else writes a report.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any

from ..cloudformation.records import ResourceState
from ..cloudformation.stack_events import (
    STACK_TYPE,
    Action,
    DeployEvent,
    Phase,
    ResourceEvent,
    ResourceStatus,
    StackEvent,
    StackSummary,
    StackWarning,
)


@dataclass
class StackReport:
    stack_name: str
    stack_id: str = ""
    status: str = ""
    resources: dict[str, ResourceEvent] = field(default_factory=dict)  # logical id -> its last event
    not_deployed: list[tuple[str, str]] = field(default_factory=list)  # (logical id, type)
    outputs: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)
    unavailable_outputs: dict[str, str] = field(default_factory=dict)
    error: str = ""  # why the stack failed, naming the resource
    failed_resource: str = ""
    no_changes: bool = False
    warnings: list[str] = field(default_factory=list)
    nested: list[StackReport] = field(default_factory=list)  # the nested stacks this stack deployed
    elapsed: float = 0.0  # seconds this stack's deploy or destroy took

    @property
    def region(self) -> str:
        return _arn_part(self.stack_id, 3)

    @property
    def account_id(self) -> str:
        return _arn_part(self.stack_id, 4)

    def action_counts(self) -> dict[str, int]:
        """How many resources each action touched: this stack's and its nested stacks' (at any depth), the nested
        stacks themselves not counted, so that a redeploy changing 3 things of a fleet counts 3 updates, not the
        nested stacks that hold them (the same count as ``Engine.destruction_plan``'s)."""
        counts: dict[str, int] = {}
        for resource in self.resources.values():
            if resource.action is not Action.NONE and resource.resource_type != STACK_TYPE:
                counts[str(resource.action)] = counts.get(str(resource.action), 0) + 1
        for nested in self.nested:
            for action, count in nested.action_counts().items():
                counts[action] = counts.get(action, 0) + count
        return counts

    @property
    def failed(self) -> bool:
        return bool(self.error)

    def to_json(self) -> dict[str, Any]:
        return {
            "stackName": self.stack_name,
            "stackId": self.stack_id,
            "region": self.region,
            "account": self.account_id,
            "status": self.status,
            "noChanges": self.no_changes,
            "resources": [_resource_json(r) for r in self.resources.values()],
            "notDeployedLocally": [{"logicalId": lid, "type": kind} for lid, kind in self.not_deployed],
            "outputs": self.outputs,
            "exports": self.exports,
            "unavailableOutputs": self.unavailable_outputs,
            **({"error": self.error, "failedResource": self.failed_resource} if self.error else {}),
            "warnings": self.warnings,
            **({"nestedStacks": [n.to_json() for n in self.nested]} if self.nested else {}),
        }


class Reports:
    """A listener of the executor: folds every event into its stack's report; safe from worker threads."""

    def __init__(self) -> None:
        self._reports: dict[str, StackReport] = {}
        self._lock = threading.Lock()

    def report(self, stack_name: str) -> StackReport:
        with self._lock:
            return self._reports.setdefault(stack_name, StackReport(stack_name))

    def __call__(self, event: DeployEvent) -> None:
        report = self.report(event.stack_name)
        with self._lock:
            if isinstance(event, ResourceEvent):
                report.resources[event.logical_id] = _entry(report.resources.get(event.logical_id), event)
            elif isinstance(event, StackWarning):
                report.warnings.append(event.text)
            else:
                self._stack_event(report, event)

    def _stack_event(self, report: StackReport, event: StackEvent) -> None:
        report.status = str(event.status)
        report.stack_id = event.stack_id or report.stack_id
        if event.status.failed and event.reason and not report.error:
            report.error = event.reason
        if event.parent is not None:
            parent = self._reports.setdefault(event.parent, StackReport(event.parent))
            if report not in parent.nested:
                parent.nested.append(report)
        if event.summary is not None:
            _summarize(report, event.summary)


def _entry(previous: ResourceEvent | None, event: ResourceEvent) -> ResourceEvent:
    """A resource's entry after ``event``: the event, but a rollback keeps the failure it is undoing."""
    undoing = previous is not None and (previous.status.failed or previous.phase is Phase.ROLLBACK)
    if previous is None or event.phase is not Phase.ROLLBACK or not undoing or not previous.reason:
        if event.phase is Phase.CLEANUP and previous is not None and previous.physical_id != event.physical_id:
            return previous  # the old resource of a replacement: the entry stays with the new one
        return event
    reason = f"{previous.reason}; {event.reason}" if event.reason else previous.reason
    return dataclasses.replace(event, reason=reason)


def _summarize(report: StackReport, summary: StackSummary) -> None:
    report.not_deployed = list(summary.not_deployed)
    report.failed_resource = summary.failed_resource or report.failed_resource
    report.no_changes = summary.no_changes
    report.error = report.error or summary.error
    report.outputs, report.exports, report.unavailable_outputs = {}, {}, {}
    for key, output in summary.outputs.items():
        if output.unavailable:
            report.unavailable_outputs[key] = output.unavailable
            continue
        report.outputs[key] = output.value
        if output.export_name:
            report.exports[output.export_name] = output.value
    entries = {}
    for logical_id, resource in summary.resources.items():
        entry = report.resources.get(logical_id)
        entries[logical_id] = _unchanged(report.stack_name, resource) if entry is None else entry
    report.resources = entries | {k: v for k, v in report.resources.items() if k not in entries}


def _unchanged(stack_name: str, resource: ResourceState) -> ResourceEvent:
    """The entry of a resource the run did not touch: its recorded status."""
    return ResourceEvent(
        stack_name,
        resource.logical_id,
        resource.type,
        resource.path,
        ResourceStatus(resource.status),
        Action.NONE,
        Phase.DEPLOY,
        physical_id=resource.physical_id,
    )


def _resource_json(event: ResourceEvent) -> dict[str, Any]:
    return {
        "logicalId": event.logical_id,
        "type": event.resource_type,
        "path": event.path,
        "status": str(event.status),
        "physicalId": event.physical_id,
        "action": str(event.action),
        **({"reason": event.reason} if event.reason else {}),
    }


def _arn_part(arn: str, index: int) -> str:
    parts = arn.split(":")
    return parts[index] if len(parts) > index else ""
