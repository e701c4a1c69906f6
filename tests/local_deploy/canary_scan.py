"""The canary scan of the local deploy tests: no sensitive value, no ResponseURL anywhere it does not belong.

Collected during the session: every ResponseURL the engine issues (its unguessable path is the presigned URL's
signature locally), what the CLI printed (``deploy_support.run_cli``: progress lines, summaries, ``--json``
documents) and the progress lines of engine-driven tests, and what the engine wrote in each test's temporary
directory (``.managed-things``: Lambda logs, stack snapshots and journals, the emulator's state). Rules:

* a ResponseURL appears in no output and no file;
* the canary authentication materials (``deploy_support.material()`` and the literal ones tests use) appear in no
  output and no Lambda log; in the stack snapshots and journals only as resource properties (where CloudFormation
  keeps them too, and where the rollback and the recovery of a Create of unknown outcome need them). The
  emulator's state (the service's own store) is not scanned for materials.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Every material of deploy_support.material() ends so; the others are the literal materials tests use.
MATERIAL_CANARIES = ("$I:A1B2C3D4E5F6A7B8", "P:example;;")
_SKIPPED_DIRS = {"code", "node_modules"}  # staged copies of the asset: written before any deploy


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
            found += [f"{where}: material {c!r}" for c in MATERIAL_CANARIES if c in text]
        for test, directory in self.directories:
            for path in _files(directory):
                text = path.read_bytes().decode(errors="replace")
                label = f"{test}: {path.relative_to(directory)}"
                found += [f"{label}: a ResponseURL" for t in tokens if t in text]
                found += [f"{label}: material {c!r}" for c in MATERIAL_CANARIES if c in _material_scope(path, text)]
        return found


def _files(directory: Path) -> Iterable[Path]:
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*")):
        parts = set(path.relative_to(directory).parts)
        # What the engine writes (a test's own files, e.g. a recorder handler's raw events, are not scanned)
        if path.is_file() and ".managed-things" in parts and not parts & _SKIPPED_DIRS:
            yield path


def _material_scope(path: Path, text: str) -> str:
    """The part of a file in which no material may appear ("" where materials belong)."""
    parts = path.parts
    if path.name.startswith("emulator.sqlite"):
        return ""  # the service's own store
    if "stacks" in parts:  # snapshots and journals: materials only in resource properties
        documents = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if path.suffix == ".jsonl"
            else [json.loads(text)]
        )
        return json.dumps([_without_properties(d) for d in documents])
    return text  # Lambda logs, anything else


def _without_properties(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_properties(v) for k, v in value.items() if k not in ("properties", "old_properties")}
    if isinstance(value, list):
        return [_without_properties(v) for v in value]
    return value


SCAN = CanaryScan()
