"""The plan of one stack's deploy, computed before anything runs: pure, like a CloudFormation change set.

From the template (its conditions already decidable) and the stack's recorded
state, the plan says what the deploy does to each resource it deploys
(managed things, nested stacks and secrets): create what is new, update what exists
(skipped at run time if its properties resolve unchanged: a property may refer
to a resource this deploy replaces, so whether it changes is only known then,
as a change set's "known after apply"), and delete what left the template; in
``graphlib`` order, with the prerequisites that make independent resources run
side by side. ``managed-things diff`` shows this plan; the executor runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .dependencies import deployed_dependencies
from .graph import check_acyclic, ordered
from .intrinsics import resource_dependencies
from .records import ResourceState, StackState
from .stack_events import Action
from .templates import MANAGED_THING, NESTED_STACK, SECRET

DEPLOYED_TYPES = (MANAGED_THING, NESTED_STACK, SECRET)


@dataclass(frozen=True)
class Step:
    """What the deploy does to one resource of the template."""

    logical_id: str
    resource_type: str
    action: Action  # CREATE, or UPDATE (NONE at run time if the properties resolve as recorded)
    previous: ResourceState | None  # the resource as recorded, for an update
    prerequisites: frozenset[str]  # deployed resources of the stack it depends on, directly or not


@dataclass(frozen=True)
class Removal:
    """A recorded physical resource the deploy deletes (or retains, by ``policy``)."""

    key: str  # its key in the state: the logical id, or ``<LogicalId>@<old id>`` for a replaced one kept
    resource: ResourceState  # its physical id is the one deleted
    policy: str  # Delete, Retain, RetainExceptOnCreate (Snapshot is Delete here)

    @property
    def retained(self) -> bool:
        return self.policy == "Retain"


@dataclass(frozen=True)
class StackPlan:
    stack_name: str
    steps: dict[str, Step]  # the deployed resources, in template order
    removals: tuple[Removal, ...]  # what left the template (its cleanup), in no particular order
    not_deployed: tuple[tuple[str, str], ...]  # (logical id, type) of the other resources
    active: frozenset[str]  # every resource whose condition holds

    def order(self) -> list[str]:
        """The deployed resources, each after its prerequisites (ties in template order)."""
        steps = list(self.steps)
        return ordered(steps, {lid: s.prerequisites for lid, s in self.steps.items()}, "The resources")

    @property
    def prerequisites(self) -> dict[str, frozenset[str]]:
        return {lid: step.prerequisites for lid, step in self.steps.items()}


def plan_stack(
    stack_name: str,
    template: Mapping[str, Any],
    previous: StackState | None,
    included: Callable[[str, Mapping[str, Any]], bool],
) -> StackPlan:
    """The plan of deploying ``template`` over ``previous`` (``included`` decides each resource's condition)."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    active = {lid: r for lid, r in resources.items() if included(lid, r)}
    deployed = {lid: r for lid, r in active.items() if r.get("Type") in DEPLOYED_TYPES}
    graph = resource_dependencies({"Resources": active})
    check_acyclic(list(graph), graph, f"{stack_name}: the resources")
    recorded = previous.resources if previous else {}
    steps = {
        lid: Step(
            lid,
            str(resource.get("Type")),
            Action.UPDATE if lid in recorded else Action.CREATE,
            recorded.get(lid),
            frozenset(deployed_dependencies(lid, graph, deployed)),
        )
        for lid, resource in deployed.items()
    }
    removals = tuple(
        Removal(key, old, old.update_replace_policy if old.logical_id in steps else old.deletion_policy)
        for key, old in recorded.items()
        if key not in steps  # removed, or the old resource of a replacement whose cleanup never ran
    )
    not_deployed = tuple((lid, str(r.get("Type"))) for lid, r in active.items() if lid not in deployed)
    return StackPlan(stack_name, steps, removals, not_deployed, frozenset(active))


def replaced(step: Step, record: ResourceState) -> bool:
    """Whether ``record`` (what an update answered) replaced the resource the step updated."""
    return step.previous is not None and record.physical_id != step.previous.physical_id
