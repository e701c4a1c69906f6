"""What the local deploy has deployed: one JSON document per stack, beside the cloud assembly.

Like CloudFormation's record of a stack: each resource's physical id, the
properties last sent and the attributes answered, the stack's outputs and
exports, what it imports, and the provider functions its resources were
deployed with (deletes run on that code).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import DeployError

STATE_DIR_NAME = ".managed-things"
_FORMAT = 1


@dataclass
class ResourceState:
    logical_id: str
    type: str
    physical_id: str
    properties: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    status: str = "CREATE_COMPLETE"
    service_token: str = ""
    path: str = ""
    deletion_policy: str = "Delete"
    update_replace_policy: str = "Delete"
    # Other deployed resources of the stack this one depends on, directly or through undeployed ones.
    depends_on: list[str] = field(default_factory=list)


@dataclass
class OutputState:
    value: Any = None
    export_name: str | None = None
    description: str | None = None
    unavailable: str | None = None  # why the value cannot be computed locally


@dataclass
class StackState:
    stack_name: str
    stack_id: str
    region: str
    account_id: str
    status: str = "CREATE_COMPLETE"
    endpoint: str = ""
    resources: dict[str, ResourceState] = field(default_factory=dict)
    outputs: dict[str, OutputState] = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)  # service token -> FunctionSpec json
    artifact_id: str = ""

    def exports(self) -> dict[str, OutputState]:
        return {o.export_name: o for o in self.outputs.values() if o.export_name}

    def to_json(self) -> dict[str, Any]:
        return {"format": _FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackState:
        data = {k: v for k, v in data.items() if k != "format"}
        data["resources"] = {k: ResourceState(**v) for k, v in (data.get("resources") or {}).items()}
        data["outputs"] = {k: OutputState(**v) for k, v in (data.get("outputs") or {}).items()}
        return cls(**data)


class StateStore:
    """The state directory: ``stacks/<name>.json``, the emulator's database, staged code, logs and a lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stacks_dir = directory / "stacks"
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

    def _path(self, stack_name: str) -> Path:
        return self.stacks_dir / f"{_safe(stack_name)}.json"

    def load(self, stack_name: str) -> StackState | None:
        path = self._path(stack_name)
        if not path.is_file():
            return None
        try:
            return StackState.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise DeployError(f"The local state {path} is unreadable ({error}); remove it to start over") from None

    def save(self, state: StackState) -> None:
        self.stacks_dir.mkdir(parents=True, exist_ok=True)
        path = self._path(state.stack_name)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(state.to_json(), indent=1, sort_keys=True))
        os.replace(temporary, path)

    def delete(self, stack_name: str) -> None:
        self._path(stack_name).unlink(missing_ok=True)

    def all(self) -> list[StackState]:
        if not self.stacks_dir.is_dir():
            return []
        states = []
        for path in sorted(self.stacks_dir.glob("*.json")):
            try:
                states.append(StackState.from_json(json.loads(path.read_text())))
            except (OSError, ValueError, TypeError) as error:
                raise DeployError(f"The local state {path} is unreadable ({error}); remove it to start over") from None
        return states


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
