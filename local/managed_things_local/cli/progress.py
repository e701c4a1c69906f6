"""What a deploy says as it goes (stderr, like ``cdk deploy``) and what it reports at the end (stdout)."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from tqdm import tqdm

from ..cloudformation.stack_events import STACK_TYPE, DeployEvent, ResourceEvent, StackEvent, StackWarning
from ..engine.report import StackReport

__all__ = ["Progress", "StackReport", "json_document", "print_summary"]


class Progress:
    """Status lines to ``stream`` (stderr), safe to call from worker threads.

    One line per event; or, with ``bar`` (a terminal, neither --verbose nor --json), a progress bar of the
    resources (done/total, rate, elapsed, failures) with the stacks' lines and the notes printed above it.
    Every line names its stack; once several stacks of the app run (side by side), the bar also counts the
    stacks in progress and done. (The CDK CLI drops its bar for ``--concurrency`` above 1; this one is of all
    the resources, whichever stack they are in.)
    """

    def __init__(self, stream: TextIO | None = None, *, bar: bool = False) -> None:
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._failures = 0
        self._stacks: dict[str, bool] = {}  # the app's stacks (not nested ones) this run started -> in progress
        self._bar: tqdm[Any] | None = None
        if bar:
            self._bar = tqdm(total=0, file=self.stream, unit=" resources", dynamic_ncols=True, leave=False)
            self._bar.set_postfix_str(self._postfix())

    def _postfix(self) -> str:
        failures = f"failures: {self._failures}"
        if len(self._stacks) < 2:
            return failures
        running = sum(self._stacks.values())
        return f"stacks: {running} in progress, {len(self._stacks) - running} done, {failures}"

    def line(self, text: str) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.write(text, file=self.stream)
                return
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __call__(self, event: DeployEvent) -> None:
        """One line per event: ``Stack | STATUS | Type | Path (LogicalId) | reason`` (or a step of the bar)."""
        if self._bar is not None and isinstance(event, ResourceEvent):
            with self._lock:
                if event.status.in_progress:
                    self._bar.total += 1
                    self._bar.refresh()
                    return
                if self._bar.n >= self._bar.total:  # finished without an IN_PROGRESS (a retained resource)
                    self._bar.total += 1
                if event.status.failed:
                    self._failures += 1
                    self._bar.set_postfix_str(self._postfix(), refresh=False)
                self._bar.update(1)
            if not event.status.failed:
                return  # a failure keeps its line: it says why
        if isinstance(event, StackWarning):
            return  # the summary lists the warnings
        if isinstance(event, StackEvent):
            if self._bar is not None and event.parent is None:
                with self._lock:
                    self._stacks[event.stack_name] = event.status.in_progress
                    self._bar.set_postfix_str(self._postfix())
            if event.summary is not None and event.summary.note:
                self.line(f"{event.stack_name} | {event.summary.note}")
                return
            kind, label = STACK_TYPE, event.stack_name
        else:
            kind, label = event.resource_type, event.label
        reason = f" | {event.reason}" if event.reason else ""
        self.line(f"{event.stack_name} | {event.status} | {kind} | {label}{reason}")


_TIMED = {"destroy": "Destroy", "rollback": "Rollback"}


def print_summary(reports: list[StackReport], command: str, stream: TextIO, total_seconds: float | None = None) -> None:
    """The end of a ``cdk deploy``: each stack's result, what it did, its time, its outputs and its ARN."""
    for report in reports:
        if report.failed:
            stream.write(f"\n ❌  {report.stack_name} failed: {report.error}\n")
            for warning in report.warnings:
                stream.write(f" ⚠️  {warning}\n")
            continue
        note = " (destroyed)" if command == "destroy" else " (no changes)" if report.no_changes else ""
        stream.write(f"\n ✅  {report.stack_name}{note}\n")
        counts = report.action_counts()
        if counts:
            stream.write(" " + ", ".join(f"{n} {_PAST.get(a, a)}" for a, n in sorted(counts.items())) + "\n")
        if report.elapsed:
            stream.write(f"\n✨  {_TIMED.get(command, 'Deployment')} time: {report.elapsed:.2f}s\n")
        for warning in report.warnings:
            stream.write(f" ⚠️  {warning}\n")
        if command == "deploy":
            if report.outputs or report.unavailable_outputs:
                stream.write("\nOutputs:\n")
                for key, value in report.outputs.items():
                    stream.write(f"{report.stack_name}.{key} = {value}\n")
                for key, reason in report.unavailable_outputs.items():
                    stream.write(f"{report.stack_name}.{key} = (not available locally: {reason})\n")
            stream.write(f"Stack ARN:\n{report.stack_id}\n")
    if len(reports) > 1:
        stream.write(f"\n✨  {_total(reports)}\n")
    if total_seconds is not None:
        stream.write(f"\n✨  Total time: {total_seconds:.2f}s\n")
    stream.flush()


def _total(reports: list[StackReport]) -> str:
    """What the stacks did together, e.g. ``3 updated in 2 stacks (23 stacks without changes)``: a fleet's shard
    stacks are many, and the few that changed would otherwise be counted only one by one."""
    totals: dict[str, int] = {}
    changed = 0
    for report in reports:
        counts = report.action_counts()
        changed += bool(counts)
        for action, count in counts.items():
            totals[action] = totals.get(action, 0) + count
    done = ", ".join(f"{n} {_PAST.get(a, a)}" for a, n in sorted(totals.items())) or "nothing changed"
    unchanged = sum(report.no_changes for report in reports)
    return (
        done
        + (f" in {changed} stack{'s' if changed != 1 else ''}" if changed else "")
        + (f" ({unchanged} stack{'s' if unchanged != 1 else ''} without changes)" if unchanged else "")
    )


_PAST = {
    "create": "created",
    "update": "updated",
    "replace": "replaced",
    "delete": "deleted",
    "retain": "retained",
    "rollback": "rolled back",
}


def json_document(reports: list[StackReport], command: str, error: str, extra: dict[str, Any]) -> str:
    return json.dumps(
        {
            "command": command,
            "success": not error and not any(r.failed for r in reports),
            **({"error": error} if error else {}),
            **extra,
            "stacks": [r.to_json() for r in reports],
        },
        indent=2,
    )
