"""How many resources one stack operation creates, updates or deletes, the stack's and its nested stacks' together.

CloudFormation counts, against its quota of resources per stack operation, the
resources an operation touches in the whole tree of nested stacks, not the
resources the tree holds: a first deploy touches every resource of every
template, an update only what it adds, changes or removes (see quotas.py).
What the local state cannot tell is not counted: an update's changes to
resources of other types than those deployed locally (functions, roles).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..cloudformation.assembly import StackArtifact
from ..cloudformation.intrinsics import Resolver
from ..cloudformation.templates import NESTED_STACK, nested_artifact, stack_pseudo, static_resolver
from ..errors import Unresolvable
from ..state.state import StateStore
from .executor import Executor
from .preview import nested_run
from .stack_run import StackRun


@dataclass
class OperationSize:
    """What a deploy of one stack touches: every template it deploys, and how many resources it touches."""

    templates: list[StackArtifact] = field(default_factory=list)  # the stack's and its nested stacks'
    touched: int = 0  # resources created, updated or deleted, nested stacks' included

    def add(self, other: OperationSize) -> None:
        self.templates += other.templates
        self.touched += other.touched


def deploy_size(run: StackRun, executor: Executor) -> OperationSize:
    """What deploying ``run``'s stack (as recorded before it) touches."""
    if run.previous is None:
        return created_size(run.artifact)
    size = OperationSize([run.artifact])
    for logical_id, step in run.plan.steps.items():
        old = step.previous
        if step.resource_type == NESTED_STACK:
            if old is None:
                size.touched += 1
                size.add(_nested_created(run.artifact, logical_id))
                continue
            child = nested_run(run, executor, logical_id, old.data.get("StackName"))
            below = deploy_size(child, executor) if child is not None else OperationSize()
            size.templates += below.templates
            if below.touched or _changed(run, logical_id, old.properties):
                size.touched += 1 + below.touched  # its stack resource is updated with it
        elif old is None or _changed(run, logical_id, old.properties):
            size.touched += 1
    for removal in run.plan.removals:
        size.touched += 1
        if removal.resource.type == NESTED_STACK:
            size.touched += destroy_size(run.store, removal.resource.data.get("StackName"))
    return size


def created_size(artifact: StackArtifact) -> OperationSize:
    """What creating the stack of ``artifact`` touches: every resource of it and of its nested stacks."""
    size = OperationSize([artifact])
    resources: Mapping[str, Any] = artifact.template.get("Resources") or {}
    resolver = static_resolver(artifact)
    for logical_id, resource in resources.items():
        if not _may_exist(resolver, resource):
            continue
        size.touched += 1
        if resource.get("Type") == NESTED_STACK:
            size.add(_nested_created(artifact, logical_id))
    return size


def destroy_size(store: StateStore, stack_name: Any) -> int:
    """How many recorded resources a delete of the stack touches, its nested stacks' included."""
    state = store.load(stack_name) if isinstance(stack_name, str) else None
    if state is None:
        return 0
    return len(state.resources) + sum(
        destroy_size(store, resource.data.get("StackName"))
        for resource in state.resources.values()
        if resource.type == NESTED_STACK
    )


def _nested_created(parent: StackArtifact, logical_id: str) -> OperationSize:
    try:
        child = nested_artifact(parent, logical_id, f"{parent.stack_name}-{logical_id}", stack_pseudo(parent))
    except Unresolvable:  # the deploy says why when it gets there
        return OperationSize()
    return created_size(child)


def _may_exist(resolver: Resolver, resource: Mapping[str, Any]) -> bool:
    """False only for a resource whose Condition is false before anything is deployed."""
    condition = resource.get("Condition")
    if condition is None:
        return True
    try:
        return resolver.condition(condition)
    except Unresolvable:
        return True


def _changed(run: StackRun, logical_id: str, recorded: Mapping[str, Any]) -> bool:
    """Whether the deploy sends the resource new properties (a value known only at deploy time may change)."""
    try:
        return run.properties(logical_id) != recorded
    except Unresolvable:
        return True
