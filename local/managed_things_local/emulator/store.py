"""SQLite storage of managed things: in memory by default, or a file that survives restarts.

One connection serves every thread, behind a lock: each backend operation is one
``transaction()``, so concurrent requests never interleave. A file database runs
in WAL mode and waits for a lock held by another process instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS things (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order: the order of ListManagedThings
    id TEXT NOT NULL UNIQUE,
    arn TEXT NOT NULL UNIQUE,
    region TEXT NOT NULL,
    client_token TEXT,
    request_digest TEXT,
    doc TEXT NOT NULL                        -- the thing's members as JSON
);
CREATE UNIQUE INDEX IF NOT EXISTS things_client_token ON things (region, client_token)
    WHERE client_token IS NOT NULL;
CREATE INDEX IF NOT EXISTS things_region ON things (region, seq);
"""


@dataclass(frozen=True)
class StoredThing:
    """One row: the thing's members (``doc``) and what the store keys it by."""

    seq: int
    region: str
    client_token: str | None
    request_digest: str | None
    doc: dict[str, Any]


class StateFileError(RuntimeError):
    """The state file cannot be opened, or is not a database this emulator wrote."""


class Transaction:
    """The store's operations, valid inside ``ThingStore.transaction()``."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def insert(
        self, region: str, doc: Mapping[str, Any], client_token: str | None, request_digest: str | None
    ) -> StoredThing:
        cursor = self._db.execute(
            "INSERT INTO things (id, arn, region, client_token, request_digest, doc) VALUES (?, ?, ?, ?, ?, ?)",
            (doc["Id"], doc["Arn"], region, client_token, request_digest, _dump(doc)),
        )
        return StoredThing(int(cursor.lastrowid or 0), region, client_token, request_digest, dict(doc))

    def by_id(self, region: str, thing_id: str) -> StoredThing | None:
        return self._one("WHERE region = ? AND id = ?", (region, thing_id))

    def by_arn(self, arn: str) -> StoredThing | None:
        return self._one("WHERE arn = ?", (arn,))

    def by_client_token(self, region: str, client_token: str) -> StoredThing | None:
        return self._one("WHERE region = ? AND client_token = ?", (region, client_token))

    def replace_doc(self, thing: StoredThing, doc: Mapping[str, Any]) -> None:
        self._db.execute("UPDATE things SET doc = ? WHERE seq = ?", (_dump(doc), thing.seq))

    def delete(self, thing: StoredThing) -> None:
        self._db.execute("DELETE FROM things WHERE seq = ?", (thing.seq,))

    def page(self, region: str | None, equals: Mapping[str, str], after_seq: int, limit: int) -> list[StoredThing]:
        """Up to ``limit`` things after ``after_seq`` in creation order whose members equal ``equals``."""
        clauses, values = ["seq > ?"], [after_seq]
        if region is not None:
            clauses.append("region = ?")
            values.append(region)  # type: ignore[arg-type]
        for member, value in equals.items():
            if not member.isalnum():
                raise ValueError(f"not a member name: {member!r}")
            clauses.append(f"json_extract(doc, '$.{member}') = ?")
            values.append(value)  # type: ignore[arg-type]
        rows = self._db.execute(
            f"SELECT seq, region, client_token, request_digest, doc FROM things WHERE {' AND '.join(clauses)} "
            "ORDER BY seq LIMIT ?",
            (*values, limit),
        )
        return [_row(row) for row in rows]

    def _one(self, where: str, values: tuple[Any, ...]) -> StoredThing | None:
        row = self._db.execute(
            f"SELECT seq, region, client_token, request_digest, doc FROM things {where}", values
        ).fetchone()
        return _row(row) if row else None


class ThingStore:
    """The emulator's things in SQLite: ``path`` is a file, or ``None`` for memory."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self._lock = threading.Lock()
        connection: sqlite3.Connection | None = None
        try:
            connection = sqlite3.connect(self.path or ":memory:", check_same_thread=False, isolation_level=None)
            self._prepare(connection)
        except sqlite3.DatabaseError as error:
            if connection is not None:
                connection.close()
            raise StateFileError(f"{self.path}: cannot be used as the emulator's state ({error})") from None
        self._db = connection

    def _prepare(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA busy_timeout = 10000")
        if self.path is not None:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One atomic unit of work: committed when the block ends, rolled back if it raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def _row(row: tuple[Any, ...]) -> StoredThing:
    seq, region, client_token, request_digest, doc = row
    return StoredThing(int(seq), region, client_token, request_digest, json.loads(doc))
