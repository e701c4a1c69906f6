"""A state directory written before ``state.sqlite``: migrated into the database once, on first load.

The earlier format: a snapshot per stack (``stacks/<name>.json``), each stack's
journal (``stacks/<name>.journal.jsonl``, a line cut short by a crash ignored) and
the vault (``state-vault.jsonl``: the HMAC key, then the sensitive values by
reference). Each is read with its values revealed and written through the
database's own path (sealed again under its key), all in one transaction that
also marks the migration done; the files are removed after it commits, so a
crash in between migrates nothing twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..cloudformation.records import StackState
from ..errors import DeployError
from . import vault
from .database import StateDatabase
from .journal import Journal

__all__ = ["migrate_legacy_files"]

_VAULT_FILE = "state-vault.jsonl"
_SEALED = ("resources", "rollback_from")


def migrate_legacy_files(
    directory: Path, database: StateDatabase, write: Callable[[sqlite3.Connection, StackState], None]
) -> None:
    """Move the earlier format's files of ``directory`` into ``database`` (``write`` saves a stack's record)."""
    stacks_dir, vault_file = directory / "stacks", directory / _VAULT_FILE
    snapshots = sorted(stacks_dir.glob("*.json")) if stacks_dir.is_dir() else []
    journals = sorted(stacks_dir.glob("*.journal.jsonl")) if stacks_dir.is_dir() else []
    if not (snapshots or journals or vault_file.is_file()):
        return
    try:
        with database.transaction() as db:
            if db.execute("SELECT 1 FROM settings WHERE name = 'migrated'").fetchone() is None:
                values = _vault_values(vault_file)
                names: dict[str, str] = {}  # file name without suffix -> stack name
                for path in snapshots:
                    state = _snapshot(path, values)
                    names[path.name.removesuffix(".json")] = state.stack_name
                    write(db, state)
                for path in journals:
                    entries = _journal(path, values)
                    safe = path.name.removesuffix(".journal.jsonl")
                    stack = next((str(e["stack_name"]) for e in entries if e.get("entry") == "stack"), names.get(safe))
                    journal = Journal(database, stack or safe)
                    for entry in entries:
                        journal.write(db, entry)
                db.execute("INSERT INTO settings (name, value) VALUES ('migrated', ?)", (str(directory),))
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
        raise DeployError(
            f"The local state in {directory} (the format before state.sqlite) cannot be migrated "
            f"({type(error).__name__}: {error}); restore it, or remove the directory (and the things it deployed) "
            "to start over"
        ) from None
    for path in [*snapshots, *journals, vault_file]:
        path.unlink(missing_ok=True)
    if stacks_dir.is_dir() and not any(stacks_dir.iterdir()):
        stacks_dir.rmdir()


def _vault_values(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if path.is_file():
        for entry in _lines(path):
            if isinstance(entry.get("ref"), str) and "value" in entry:
                values[entry["ref"]] = entry["value"]
    return values


def _snapshot(path: Path, values: dict[str, Any]) -> StackState:
    document = json.loads(path.read_text(encoding="utf-8"))
    for member in _SEALED:  # format 1 kept the values themselves: revealing passes them unchanged
        resources = document.get(member) or {}
        revealed = vault.reveal_from(values, resources.values(), str(path))
        document[member] = dict(zip(resources, revealed, strict=True))
    return StackState.from_json(document)


def _journal(path: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    entries = _lines(path)
    for entry in entries:
        if isinstance(entry.get("resource"), dict):
            entry["resource"] = vault.reveal_from(values, [entry["resource"]], str(path))[0]
    return entries


def _lines(path: Path) -> list[dict[str, Any]]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short when the process died: its request was never sent
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
