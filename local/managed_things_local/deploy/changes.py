"""The records of what a deploy does to one resource: a Change (create or update) or a Deletion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .invoker import FunctionSpec
from .state import ResourceState


@dataclass
class Change:
    """One Create or Update of this deploy, kept for the rollback and the new state."""

    logical_id: str
    action: str  # "create" | "update" | "none"
    old: ResourceState | None = None
    properties: dict[str, Any] | None = None
    service_token: str = ""
    function: FunctionSpec | None = None
    invoked: bool = False
    succeeded: bool = False
    physical_id: str = ""  # the id answered (also by a failed Create, for its rollback Delete)
    data: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    finished: float = 0.0

    @property
    def replaced(self) -> bool:
        return (
            self.action == "update"
            and self.succeeded
            and self.old is not None
            and self.physical_id != self.old.physical_id
        )


@dataclass
class Deletion:
    resource: ResourceState
    physical_id: str
    properties: dict[str, Any]
    policy: str
    functions: Mapping[str, dict[str, Any]]
    key: str = ""  # the resource's key in the state ("<LogicalId>@<old id>" for a replaced one the state kept)

    @property
    def name(self) -> str:
        return self.key or self.resource.logical_id
