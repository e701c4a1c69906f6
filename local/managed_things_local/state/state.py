"""What the local deploy has deployed: one JSON document per stack, beside the cloud assembly.

Like CloudFormation's record of a stack: each resource's physical id, the
properties last sent and the attributes answered, the stack's outputs and
exports, what it imports, and the provider functions its resources were
deployed with (deletes run on that code). A managed thing's sensitive
properties are kept in the state vault and referred to (``vault.py``); loading
the state gives them back.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..cloudformation.records import FORMAT, OutputState, ResourceState, StackState
from ..errors import DeployError
from .journal import Journal, replay
from .vault import VAULT_FILE, StateVault

__all__ = ["STATE_DIR_NAME", "OutputState", "ResourceState", "StackState", "StateStore"]

STATE_DIR_NAME = ".managed-things"
_SEALED = ("resources", "rollback_from")  # the members of a snapshot that hold resources: sealed by the vault


class StateStore:
    """The state directory: ``stacks/<name>.json``, the state vault, the emulator's database, staged code,
    logs and a lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stacks_dir = directory / "stacks"
        self.vault = StateVault(directory / VAULT_FILE)
        self.code_dir = directory / "code"
        self.logs_dir = directory / "logs"

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

    def snapshot_path(self, stack_name: str) -> Path:
        return self.stacks_dir / f"{_safe(stack_name)}.json"

    def journal(self, stack_name: str) -> Journal:
        return Journal(self.stacks_dir / f"{_safe(stack_name)}.journal.jsonl", self.vault)

    def load_snapshot(self, stack_name: str) -> StackState | None:
        """The stack as the last finished run left it (without the journal of a run that did not finish)."""
        path = self.snapshot_path(stack_name)
        # Read and revealed under the vault's lock: a stack saved meanwhile (beside this one) cannot collect the
        # values of the file as read, nor replace it, between the two.
        with self.vault.lock:
            if not path.is_file():
                return None
            try:
                document = json.loads(path.read_text())
                if document.get("format", 1) >= FORMAT:  # format 1 kept the values themselves
                    for member in _SEALED:
                        resources = document.get(member) or {}
                        revealed = self.vault.reveal(resources.values(), path)
                        document[member] = dict(zip(resources, revealed, strict=True))
                return StackState.from_json(document)
            except FileNotFoundError:
                return None  # deleted meanwhile (a stack destroyed beside this one)
            except (OSError, ValueError, TypeError, AttributeError) as error:
                raise DeployError(f"The local state {path} is unreadable ({error}); remove it to start over") from None

    def load(self, stack_name: str) -> StackState | None:
        """The stack's snapshot with its journal replayed: everything the provider answered it created.

        Under the vault's lock, which a save holds from its snapshot to its journal's removal: never the old
        snapshot without the journal that the new one replaced."""
        with self.vault.lock:
            return replay(self.load_snapshot(stack_name), self.journal(stack_name).entries())

    def save(self, state: StackState) -> None:
        """Write the snapshot (its sensitive values to the vault first), then drop the journal it now contains,
        then the vault's values no state file refers to; an OSError leaves the journal in place."""
        self.stacks_dir.mkdir(parents=True, exist_ok=True)
        path = self.snapshot_path(state.stack_name)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        with self.vault.lock:
            document = state.to_json()
            for member in _SEALED:
                resources = document[member]
                document[member] = dict(zip(resources, self.vault.seal(resources.values()), strict=True))
            try:
                temporary.write_text(json.dumps(document, indent=1, sort_keys=True))
                os.replace(temporary, path)
            except OSError:
                with contextlib.suppress(OSError):
                    temporary.unlink(missing_ok=True)
                raise
            self.journal(state.stack_name).clear()
            self._collect()

    def settle(self, stack_name: str) -> None:
        """After a rollback: keep the snapshot if the journal changed nothing, else compact what remains."""
        snapshot = self.load_snapshot(stack_name)
        replayed = self.load(stack_name)
        if replayed is None or (snapshot is None and not replayed.resources):
            self.journal(stack_name).clear()
        elif snapshot is not None and _identities(snapshot) == _identities(replayed):
            self.journal(stack_name).clear()
        else:
            with contextlib.suppress(OSError):  # the journal keeps it
                self.save(replayed)
        self._collect()

    def delete(self, stack_name: str) -> None:
        with self.vault.lock:
            self.journal(stack_name).clear()
            self.snapshot_path(stack_name).unlink(missing_ok=True)
            self._collect()

    def _collect(self) -> None:
        """Drop from the vault what no snapshot or journal refers to any more."""
        files = sorted(self.stacks_dir.glob("*")) if self.stacks_dir.is_dir() else []
        self.vault.collect(path for path in files if path.is_file())

    def all(self) -> list[StackState]:
        """Every stack with a state, each read whole (see ``load``) while other stacks' runs go on."""
        if not self.stacks_dir.is_dir():
            return []
        names: dict[str, str] = {}  # safe file name -> stack name
        with self.vault.lock:
            for path in sorted(self.stacks_dir.glob("*.json")) + sorted(self.stacks_dir.glob("*.journal.jsonl")):
                safe = path.name.removesuffix(".journal.jsonl").removesuffix(".json")
                if safe in names or not path.is_file():
                    continue
                journal = self.journal(safe)
                state = self.load_snapshot(safe) if path.suffix == ".json" else replay(None, journal.entries())
                if state is not None:
                    names[safe] = state.stack_name
            states = [self.load(name) for name in names.values()]
        return [s for s in states if s is not None]


def _identities(state: StackState) -> set[tuple[str, str]]:
    return {(key, r.physical_id) for key, r in state.resources.items()}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
