"""What the local deploy has deployed: one record per stack in the state database, beside the cloud assembly.

Like CloudFormation's record of a stack: each resource's physical id, the
properties last sent and the attributes answered, the stack's outputs and
exports, what it imports, and the provider functions its resources were
deployed with (deletes run on that code). A managed thing's sensitive
properties are kept apart and referred to (``vault.py``); loading the state
gives them back. Each method is one transaction of ``state.sqlite``
(``database.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..cloudformation.records import OutputState, ResourceState, StackState
from ..errors import DeployError
from . import vault
from .database import DATABASE_FILE, StateDatabase
from .journal import Journal, replay
from .legacy_files import migrate_legacy_files

__all__ = ["STATE_DIR_NAME", "OutputState", "ResourceState", "StackState", "StateStore"]

STATE_DIR_NAME = ".managed-things"
_SEALED = ("resources", "rollback_from")  # the members of a record that hold resources: sealed (vault.py)


class StateStore:
    """The state directory: ``state.sqlite`` (the stacks' records and journals), the emulator's database,
    staged code, logs and a lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.database = StateDatabase(directory / DATABASE_FILE)
        self.code_dir = directory / "code"
        self.logs_dir = directory / "logs"
        self._migrated = False

    @property
    def path(self) -> Path:
        """The state database's file."""
        return self.database.path

    @property
    def emulator_database(self) -> Path:
        return self.directory / "emulator.sqlite"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One deploy or destroy at a time per state directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DeployError(f"Another deploy or destroy is running on {self.directory}") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def journal(self, stack_name: str) -> Journal:
        self._migrate()
        return Journal(self.database, stack_name)

    def load(self, stack_name: str) -> StackState | None:
        """The stack's record with its journal replayed: everything the provider answered it created."""
        if not self._readable():
            return None
        with self.database.transaction(write=False) as db:
            return self._load(db, stack_name)

    def save(self, state: StackState) -> None:
        """Write the stack's record and drop the journal it now contains, in one transaction; a StateWriteError
        (an OSError) leaves the journal as it was."""
        self._migrate()
        with self.database.transaction() as db:
            self._write(db, state)
        self.database.scrub()

    def settle(self, stack_name: str) -> None:
        """After a rollback: keep the record if the journal changed nothing, else compact what remains."""
        if not self._readable():
            return
        with self.database.transaction() as db:
            record = self._record(db, stack_name)
            replayed = self._load(db, stack_name)
            if replayed is None or (record is None and not replayed.resources):
                self._forget(db, stack_name)
            elif record is not None and _identities(record) == _identities(replayed):
                db.execute("DELETE FROM journal WHERE stack = ?", (stack_name,))
                vault.collect(db)
            else:
                self._write(db, replayed)
        self.database.scrub()

    def delete(self, stack_name: str) -> None:
        if self._readable():
            with self.database.transaction() as db:
                self._forget(db, stack_name)
            self.database.scrub()

    def all(self) -> list[StackState]:
        """Every stack with a record or a journal, each read whole (see ``load``), in name order."""
        if not self._readable():
            return []
        with self.database.transaction(write=False) as db:
            names = [n for (n,) in db.execute("SELECT name FROM stacks UNION SELECT stack FROM journal ORDER BY 1")]
            states = [self._load(db, name) for name in names]
        return [s for s in states if s is not None]

    def _readable(self) -> bool:
        self._migrate()
        return self.database.exists()

    def _migrate(self) -> None:
        if not self._migrated:
            migrate_legacy_files(self.directory, self.database, self._write)
            self._migrated = True

    def _record(self, db: sqlite3.Connection, stack_name: str) -> StackState | None:
        row = db.execute("SELECT doc FROM stacks WHERE name = ?", (stack_name,)).fetchone()
        if row is None:
            return None
        document = json.loads(row[0])
        for member in _SEALED:
            resources = document.get(member) or {}
            revealed = vault.reveal(db, resources.values(), f"the record of {stack_name}")
            document[member] = dict(zip(resources, revealed, strict=True))
        return StackState.from_json(document)

    def _load(self, db: sqlite3.Connection, stack_name: str) -> StackState | None:
        return replay(self._record(db, stack_name), Journal(self.database, stack_name).read(db))

    def _write(self, db: sqlite3.Connection, state: StackState) -> None:
        document = state.to_json()
        for member in _SEALED:
            resources = document[member]
            document[member] = dict(zip(resources, vault.seal(db, resources.values()), strict=True))
        db.execute(
            "INSERT OR REPLACE INTO stacks (name, doc) VALUES (?, ?)",
            (state.stack_name, json.dumps(document, sort_keys=True)),
        )
        db.execute("DELETE FROM journal WHERE stack = ?", (state.stack_name,))
        vault.collect(db)

    def _forget(self, db: sqlite3.Connection, stack_name: str) -> None:
        db.execute("DELETE FROM stacks WHERE name = ?", (stack_name,))
        db.execute("DELETE FROM journal WHERE stack = ?", (stack_name,))
        vault.collect(db)


def _identities(state: StackState) -> set[tuple[str, str]]:
    return {(key, r.physical_id) for key, r in state.resources.items()}
