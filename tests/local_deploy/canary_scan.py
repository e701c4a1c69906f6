"""The canary scan of the local deploy tests: no sensitive value, no ResponseURL anywhere it does not belong.

Collected during the session: every ResponseURL the engine issues (its unguessable path is the presigned URL's
signature locally), what the CLI printed (``deploy_support.run_cli``: progress lines, summaries, ``--json``
documents) and the progress lines of engine-driven tests, and what the engine wrote in each test's temporary
directory (``.managed-things``: Lambda logs, stack snapshots and journals, the emulator's state). Rules:

* a ResponseURL appears in no output and no file;
* the canary values of the members the model marks sensitive (``SENSITIVE_CANARIES``: the materials of
  ``deploy_support.material()`` and the literal ones tests use, and the serial number, brand, model, owner,
  classification and tag key and value ``deploy_support.device()`` and ``proof_app.thing_properties()`` give
  every thing) appear in no output, no Lambda log and no stack snapshot or journal (the state vault holds them);
* the emulator's state (the service's own store) holds a digest of AuthenticationMaterial, never a material;
  the other sensitive members are the service's own data there, as in the real service: allowed;
* the state database ``state.sqlite`` is read with SQLite, table by table (its write-ahead log included): the
  stacks' records and journals must hold no canary; its ``sensitive`` table (the values the records refer to)
  and ``secrets.json`` (Secrets Manager's values) are exempt: holding the values is their job (mode 0600,
  tested elsewhere).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

# Every material of deploy_support.material() ends so; the others are the literal materials tests use.
MATERIAL_CANARIES = ("$I:A1B2C3D4E5F6A7B8", "P:example;;")
SERIAL_NUMBER = "SN-CANARY-7Q4X"
BRAND = "Brand-Canary-Q8Z"
MODEL = "Model-Canary-K3W"
OWNER = "owner.canary@v9r"
CLASSIFICATION = "classification-canary-J5T"
TAG_KEY = "tagkey-canary-P6N"
TAG_VALUE = "tagvalue-canary-H2M"
TAGS = {TAG_KEY: TAG_VALUE}
SENSITIVE_CANARIES = (*MATERIAL_CANARIES, SERIAL_NUMBER, BRAND, MODEL, OWNER, CLASSIFICATION, TAG_KEY, TAG_VALUE)
_SKIPPED_DIRS = {"code", "node_modules"}  # staged copies of the asset: written before any deploy
_SECRET_STORES = {"secrets.json"}
STATE_DATABASE = "state.sqlite"
_SECRET_TABLES = {"sensitive"}  # state.sqlite's values by reference: a secret store


class CanaryScan:
    def __init__(self) -> None:
        self.response_tokens: set[str] = set()
        self.outputs: list[tuple[str, str]] = []  # (where, text)
        self.directories: list[tuple[str, Path]] = []  # (test id, its tmp_path)
        self._lock = threading.Lock()

    def url_issued(self, url: str) -> None:
        with self._lock:
            self.response_tokens.add(url.rsplit("/", 1)[-1])

    def output(self, where: str, text: str) -> None:
        with self._lock:
            self.outputs.append((where, text))

    def leaks(self) -> list[str]:
        found: list[str] = []
        tokens = sorted(self.response_tokens)
        for where, text in self.outputs:
            found += [f"{where}: a ResponseURL" for t in tokens if t in text]
            found += [f"{where}: canary {c!r}" for c in SENSITIVE_CANARIES if c in text]
        for test, directory in self.directories:
            for path in _files(directory):
                text = _readable_text(path)
                label = f"{test}: {path.relative_to(directory)}"
                found += [f"{label}: a ResponseURL" for t in tokens if t in text]
                found += [f"{label}: canary {c!r}" for c in _forbidden(path) if c in text]
        return found


def _files(directory: Path) -> Iterable[Path]:
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*")):
        parts = set(path.relative_to(directory).parts)
        # What the engine writes (a test's own files, e.g. a recorder handler's raw events, are not scanned)
        if path.is_file() and ".managed-things" in parts and not parts & _SKIPPED_DIRS:
            if not path.name.startswith(f"{STATE_DATABASE}-"):  # its log and shared memory: read through SQLite
                yield path


def _readable_text(path: Path) -> str:
    """What a reader of ``path`` finds: the state database's tables as text (but its secret store), else the bytes."""
    if path.name != STATE_DATABASE:
        return path.read_bytes().decode(errors="replace")
    database = sqlite3.connect(path)
    try:
        tables = [t for (t,) in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [str(row) for t in tables if t not in _SECRET_TABLES for row in database.execute(f"SELECT * FROM {t}")]
    except sqlite3.DatabaseError:  # not a database (a test's broken state file): its bytes
        return path.read_bytes().decode(errors="replace")
    finally:
        database.close()
    return "\n".join(rows)


def _forbidden(path: Path) -> tuple[str, ...]:
    """The canaries that must not appear in ``path``."""
    if path.name in _SECRET_STORES:
        return ()
    if path.name.startswith("emulator.sqlite"):
        return MATERIAL_CANARIES  # the service's own store: its other sensitive members are its data
    return SENSITIVE_CANARIES  # Lambda logs, stack snapshots and journals, anything else


SCAN = CanaryScan()
