"""``state.sqlite``: the one file that records what the local deploy has deployed (mode 0600).

Every change is one ``BEGIN IMMEDIATE`` transaction (as the emulator's store,
``emulator/store.py``): a request recorded before it is sent, an answer as it
arrives, a stack saved with its journal dropped and the sensitive values no
record refers to any more. SQLite commits a transaction whole or not at all,
even when the process dies mid-write (https://www.sqlite.org/atomiccommit.html),
so no crash leaves a torn record and no write order has to be kept by hand.

One connection per store, behind a lock: the worker threads of stacks deployed
side by side write one transaction at a time. The file is created 0600 before
SQLite opens it; SQLite gives its WAL and shared-memory files the database's
permissions (``robust_open``/``findCreateFileMode`` in ``os_unix.c``).

WAL with ``synchronous = NORMAL``: a committed transaction survives the death of
the process; only a power loss or an OS crash may roll back the last ones
(https://www.sqlite.org/pragma.html#pragma_synchronous), as the JSONL journal
(flushed, never fsynced) could lose its last lines.

A deleted row's bytes stay in a free page and in the write-ahead log unless
scrubbed: ``secure_delete`` overwrites deleted content with zeros
(https://www.sqlite.org/pragma.html#pragma_secure_delete), and ``scrub`` truncates
the log once it is copied back (``wal_checkpoint(TRUNCATE)``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import DeployError
from .private_files import PRIVATE_MODE

__all__ = ["DATABASE_FILE", "StateDatabase", "StateUnusable", "StateWriteError"]

DATABASE_FILE = "state.sqlite"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS stacks (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL                         -- the stack as its last finished run left it, sealed (vault.py)
);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,    -- the order the entries were written in
    stack TEXT NOT NULL,
    entry TEXT NOT NULL                       -- one journal entry (journal.py) as JSON, sealed
);
CREATE INDEX IF NOT EXISTS journal_stack ON journal (stack, seq);
CREATE TABLE IF NOT EXISTS sensitive (
    ref TEXT PRIMARY KEY,                     -- "sha256:<HMAC of the value>", as the records refer to it
    value TEXT NOT NULL                       -- the value as JSON, in plain text: local development only
);
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class StateWriteError(OSError):
    """The state database could not be written (an OSError, as a state file's write failure was)."""


class StateUnusable(StateWriteError, DeployError):
    """The state database cannot be opened: the message says what to do (a DeployError, said in one line)."""


class StateDatabase:
    """The state directory's database; opened on first use, created only by a write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None

    def exists(self) -> bool:
        return self._db is not None or self.path.is_file()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work: committed when the block ends, rolled back if it raises. A reading one
        (``write=False``) sees one consistent state and never waits for a writer (WAL).

        A transaction inside another (same thread) joins it."""
        with self._lock:
            db = self._connect()
            if db.in_transaction:
                yield db
                return
            try:
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.Error as error:
                raise StateWriteError(str(error)) from None

    def scrub(self) -> None:
        """Leave no deleted value in the files: copy the write-ahead log into the database (whose deleted content
        ``secure_delete`` zeroes) and truncate it. Best effort: a reader in another process may hold it back."""
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):  # the records are written: the next scrub catches up
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, PRIVATE_MODE))
                os.chmod(self.path, PRIVATE_MODE)  # O_CREAT's mode is filtered by the umask
                db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
                db.execute("PRAGMA journal_mode = WAL")  # readers (`managed-things things`) never wait for a writer
                db.execute("PRAGMA synchronous = NORMAL")  # see the module's note
                db.execute("PRAGMA secure_delete = ON")  # a deleted sensitive value is overwritten, not left free
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, SCHEMA_VERSION):
                    db.close()
                    raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except (OSError, sqlite3.Error) as error:
                raise StateUnusable(
                    f"The local state {self.path} cannot be opened ({error}); restore it, or remove the "
                    ".managed-things directory (and the things it deployed) to start over"
                ) from None
            self._db = db
        return self._db
