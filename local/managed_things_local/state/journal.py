"""A stack's append-only journal: every request before it is sent, every answer as it arrives.

The ``journal`` table of the state database (``database.py``), one JSON entry a
row, each written in its own transaction. The stack's record is the journal
folded and compacted at the end of a run (in one transaction with the journal's
removal); loading a stack is its record with the journal replayed on top, so a
thing the provider created is reachable from the state even when the run ended
before its record was written. Requests carry no ResponseURL, and a managed
thing's sensitive properties only as references (``vault.py``).

Entries:
- ``stack``: the stack's identity (id, region, account, endpoint), once per run;
- ``request``: the resource as it will be after the request, the request type and id, the function;
- ``answer``: the request id, whether it succeeded, the physical id and data answered, and whether the
  outcome is ``unknown`` (the invocation ended without an answer: the process died, or was abandoned).

A Create whose outcome is unknown and that nothing later in the journal
touched (``unanswered_creates``) may have created a thing the state does not
know: the next run delivers that same request again (Lambda delivers at least
once), and the provider's idempotent Create answers what it committed.

A Create that CloudFormation cancelled (a sibling failed) or stopped waiting
for (its ServiceTimeout passed) has such an answer too, followed by the
rollback's Delete of the same resource, by a made-up id: that later request
is what keeps the Create from being delivered again (the Delete was sent for
it). Should the run end before that Delete is journaled, the Create is
delivered again, and what it made is learnt. Its own late answer is not
journaled: CloudFormation ignores it.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..cloudformation.records import ResourceState, StackState
from . import vault
from .database import StateDatabase


@dataclass(frozen=True)
class Invocation:
    """One request about to be sent (``answered`` False), or just answered."""

    stack_name: str
    request_id: str
    request_type: str
    resource: ResourceState  # as it will be if the request succeeds (its physical id: the one the request names)
    function: Mapping[str, Any] | None = None
    answered: bool = False
    succeeded: bool = False
    physical_id: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    unknown: bool = False  # answered=True without an answer: the invocation ended, its outcome unknown


class JournalWriter:
    """Writes each invocation to its stack's journal: the request before it is sent, the answer after."""

    def __init__(self, journal_for: Callable[[str], Journal]) -> None:
        self.journal_for = journal_for

    def __call__(self, invocation: Invocation) -> None:
        journal = self.journal_for(invocation.stack_name)
        if not invocation.answered:
            journal.append(
                request_entry(invocation.request_id, invocation.request_type, invocation.resource, invocation.function)
            )
        else:
            journal.append(
                answer_entry(
                    invocation.request_id,
                    invocation.succeeded,
                    invocation.physical_id,
                    invocation.data,
                    unknown=invocation.unknown,
                )
            )


class Journal:
    """One stack's entries in the state database; safe to call from worker threads."""

    def __init__(self, database: StateDatabase, stack_name: str) -> None:
        self.database = database
        self.stack_name = stack_name

    def append(self, entry: Mapping[str, Any]) -> None:
        """Record ``entry`` (a request's sensitive properties sealed, ``vault.py``) in one transaction."""
        with self.database.transaction() as db:
            self.write(db, entry)

    def write(self, db: sqlite3.Connection, entry: Mapping[str, Any]) -> None:
        """``append`` inside the caller's transaction."""
        if isinstance(entry.get("resource"), Mapping):
            entry = {**entry, "resource": vault.seal(db, [entry["resource"]])[0]}
        db.execute(
            "INSERT INTO journal (stack, entry) VALUES (?, ?)", (self.stack_name, json.dumps(entry, sort_keys=True))
        )

    def entries(self) -> list[dict[str, Any]]:
        """The entries in the order written, their sensitive properties revealed."""
        if not self.database.exists():
            return []
        with self.database.transaction(write=False) as db:
            return self.read(db)

    def read(self, db: sqlite3.Connection) -> list[dict[str, Any]]:
        """``entries`` inside the caller's transaction."""
        rows = db.execute("SELECT entry FROM journal WHERE stack = ? ORDER BY seq", (self.stack_name,))
        entries = [json.loads(text) for (text,) in rows]
        requests = [e for e in entries if isinstance(e.get("resource"), dict)]
        revealed = vault.reveal(db, [e["resource"] for e in requests], f"the journal of {self.stack_name}")
        for entry, resource in zip(requests, revealed, strict=True):
            entry["resource"] = resource
        return entries


def stack_entry(state: StackState) -> dict[str, Any]:
    return {
        "entry": "stack",
        "stack_name": state.stack_name,
        "stack_id": state.stack_id,
        "region": state.region,
        "account_id": state.account_id,
        "endpoint": state.endpoint,
        "artifact_id": state.artifact_id,
    }


def request_entry(
    request_id: str, request_type: str, resource: ResourceState, function: Mapping[str, Any] | None
) -> dict[str, Any]:
    return {
        "entry": "request",
        "request_id": request_id,
        "request_type": request_type,
        "resource": dataclasses.asdict(resource),
        "function": dict(function) if function else None,
    }


def answer_entry(
    request_id: str, succeeded: bool, physical_id: str, data: Mapping[str, Any], *, unknown: bool = False
) -> dict[str, Any]:
    return {
        "entry": "answer",
        "request_id": request_id,
        "succeeded": succeeded,
        "physical_id": physical_id,
        "data": dict(data),
        **({"unknown": True} if unknown else {}),
    }


def unanswered_creates(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The Create requests whose outcome is unknown (no answer, or none could be had) and that no later
    request of the same resource followed: each may have created a thing nothing else records."""
    last: dict[str, Mapping[str, Any]] = {}  # logical id -> its last request
    answers: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        if entry.get("entry") == "request":
            last[str((entry.get("resource") or {}).get("logical_id"))] = entry
        elif entry.get("entry") == "answer":
            answers[str(entry.get("request_id"))] = entry
    pending = []
    for request in last.values():
        answer = answers.get(str(request.get("request_id")))
        if request.get("request_type") == "Create" and (answer is None or answer.get("unknown")):
            pending.append(request)
    return pending


def replay(snapshot: StackState | None, entries: Iterable[Mapping[str, Any]]) -> StackState | None:
    """The snapshot with the journal's answered requests applied: what exists, as far as the provider said.

    A successful Create or Update records the resource with what was answered (a
    failed Create that answered an id too: its rollback Delete may never have
    run); a resource replaced by another physical id is kept under
    ``<LogicalId>@<old id>`` until its Delete is answered; a successful Delete
    forgets the resource with that physical id.
    """
    state = dataclasses.replace(snapshot, resources=dict(snapshot.resources)) if snapshot else None
    requests: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        kind = entry.get("entry")
        if kind == "stack" and state is None:
            state = StackState(
                stack_name=str(entry["stack_name"]),
                stack_id=str(entry["stack_id"]),
                region=str(entry["region"]),
                account_id=str(entry["account_id"]),
                status="UPDATE_FAILED",  # a run that did not finish
                endpoint=str(entry.get("endpoint") or ""),
                artifact_id=str(entry.get("artifact_id") or ""),
            )
        elif kind == "request":
            requests[str(entry["request_id"])] = entry
            function = entry.get("function")
            resource = entry.get("resource") or {}
            if state is not None and function and resource.get("service_token"):
                state.functions.setdefault(str(resource["service_token"]), dict(function))
        elif kind == "answer" and state is not None:
            request = requests.get(str(entry.get("request_id")))
            if request is not None:
                _apply(state, request, entry)
    return state


def _apply(state: StackState, request: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
    resource = ResourceState(**request["resource"])
    request_type = request["request_type"]
    physical_id = str(answer.get("physical_id") or "")
    succeeded = bool(answer.get("succeeded"))
    if request_type == "Delete":
        if succeeded:
            for key in [k for k, r in state.resources.items() if _same(r, resource.logical_id, resource.physical_id)]:
                del state.resources[key]
            replaced = [k for k in state.resources if k.startswith(f"{resource.logical_id}@")]
            if resource.logical_id not in state.resources and replaced:  # a replacement rolled back
                state.resources[resource.logical_id] = state.resources.pop(replaced[-1])
        return
    if not physical_id or not (succeeded or request_type == "Create"):
        return  # a failed Update leaves the resource as it was
    status = f"{request_type.upper()}_COMPLETE" if succeeded else "CREATE_FAILED"
    data = dict(answer.get("data") or {})
    answered = dataclasses.replace(resource, physical_id=physical_id, data=data, status=status)
    existing = state.resources.get(resource.logical_id)
    if existing is not None and existing.physical_id != physical_id:
        state.resources[f"{resource.logical_id}@{existing.physical_id}"] = existing  # replaced, not yet deleted
    state.resources[resource.logical_id] = answered


def _same(resource: ResourceState, logical_id: str, physical_id: str) -> bool:
    return resource.logical_id == logical_id and resource.physical_id == physical_id
