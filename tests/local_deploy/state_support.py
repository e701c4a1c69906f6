"""Reading and breaking the state database (``state.sqlite``) from tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from managed_things_local.state.state import StateStore


def records_text(store: StateStore) -> str:
    """The stacks' records and journal entries as stored (sealed), one a line: what a reader of the file finds."""
    with store.database.transaction() as db:
        rows = db.execute("SELECT doc FROM stacks UNION ALL SELECT entry FROM journal").fetchall()
    return "\n".join(text for (text,) in rows)


def sensitive_values(store: StateStore) -> dict[str, str]:
    """The ``sensitive`` table: reference -> value (JSON)."""
    with store.database.transaction() as db:
        return dict(db.execute("SELECT ref, value FROM sensitive").fetchall())


def refuse_writes(
    store: StateStore, table: str, message: str = "disk I/O error", events: tuple[str, ...] = ("INSERT", "UPDATE")
) -> None:
    """From now on, any row written to ``table`` (``events``) fails its transaction (a trigger raising inside it)."""
    with store.database.transaction():
        pass  # creates the database and its schema
    database = sqlite3.connect(store.path)
    with database:
        for event in events:
            database.execute(
                f"CREATE TRIGGER refuse_{event.lower()}_{table} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
    database.close()


def raw_bytes(directory: Path) -> bytes:
    """The bytes of the state database's files (the database, its write-ahead log)."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("state.sqlite*")) if p.is_file())
