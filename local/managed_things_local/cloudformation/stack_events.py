"""The typed events a deploy or destroy yields, as CloudFormation's DescribeStackEvents would list them.

The executor is the only place these are born. Progress output, the final
report (``--json`` and the summary) and the saved state are folds over them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .records import OutputState, ResourceState

STACK_TYPE = "AWS::CloudFormation::Stack"


class ResourceStatus(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    CREATE_FAILED = "CREATE_FAILED"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"
    UPDATE_FAILED = "UPDATE_FAILED"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_COMPLETE = "DELETE_COMPLETE"
    DELETE_FAILED = "DELETE_FAILED"
    DELETE_SKIPPED = "DELETE_SKIPPED"

    @property
    def in_progress(self) -> bool:
        return self.endswith("_IN_PROGRESS")

    @property
    def failed(self) -> bool:
        return self.endswith("_FAILED")


class StackStatus(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    CREATE_FAILED = "CREATE_FAILED"
    ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
    ROLLBACK_COMPLETE = "ROLLBACK_COMPLETE"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_COMPLETE_CLEANUP_IN_PROGRESS = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"
    UPDATE_FAILED = "UPDATE_FAILED"
    UPDATE_ROLLBACK_IN_PROGRESS = "UPDATE_ROLLBACK_IN_PROGRESS"
    UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
    UPDATE_ROLLBACK_COMPLETE = "UPDATE_ROLLBACK_COMPLETE"
    UPDATE_ROLLBACK_FAILED = "UPDATE_ROLLBACK_FAILED"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_COMPLETE = "DELETE_COMPLETE"
    DELETE_FAILED = "DELETE_FAILED"

    @property
    def in_progress(self) -> bool:
        return self.endswith("_IN_PROGRESS")

    @property
    def failed(self) -> bool:
        return self.endswith("_FAILED") or "ROLLBACK" in self


class Action(StrEnum):
    """What a deploy does to one resource (the diff's and the summary's vocabulary)."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    RETAIN = "retain"
    ROLLBACK = "rollback"
    NONE = "none"


class Phase(StrEnum):
    """Which part of CloudFormation's sequence an event belongs to."""

    DEPLOY = "deploy"  # creates and updates, in dependency order
    CLEANUP = "cleanup"  # replaced and removed resources deleted, in reverse order
    ROLLBACK = "rollback"  # a failed deploy undone
    DESTROY = "destroy"  # the whole stack deleted


@dataclass(frozen=True)
class ResourceEvent:
    """One resource's status changed."""

    stack_name: str  # the stack the resource belongs to (a nested stack's own name)
    logical_id: str
    resource_type: str
    path: str  # what output names it by: a fleet thing's label, else its construct path (templates.resource_name)
    status: ResourceStatus
    action: Action
    phase: Phase
    physical_id: str = ""
    reason: str = ""
    timestamp: float = field(default_factory=time.time)

    @property
    def label(self) -> str:
        return f"{self.path} ({self.logical_id})" if self.path and self.path != self.logical_id else self.logical_id


@dataclass(frozen=True)
class StackSummary:
    """What the last event of a stack's deploy or destroy says besides its status."""

    outputs: Mapping[str, OutputState] = field(default_factory=dict)
    resources: Mapping[str, ResourceState] = field(default_factory=dict)  # as the stack now is, in template order
    not_deployed: tuple[tuple[str, str], ...] = ()  # (logical id, type) of what is not deployed locally
    failed_resource: str = ""  # the logical id of the first resource that failed
    no_changes: bool = False
    note: str = ""  # shown instead of the status (e.g. "no changes")
    error: str = ""  # why the run failed although its status is not a failure (its state could not be saved)


@dataclass(frozen=True)
class StackEvent:
    """One stack's status changed; the last event of a stack's run carries its ``summary``."""

    stack_name: str
    status: StackStatus
    stack_id: str = ""
    reason: str = ""
    parent: str | None = None  # the parent stack's name, for nested stacks
    summary: StackSummary | None = None
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True)
class StackWarning:
    """Something the user should know that does not change a status (shown in the summary)."""

    stack_name: str
    text: str


DeployEvent = ResourceEvent | StackEvent | StackWarning
