"""Dependencies between the resources of one stack."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import DeployError


def check_cycles(stack_name: str, graph: Mapping[str, set[str]]) -> None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dependency in sorted(graph.get(node, ())):
            if state.get(dependency) == 1:
                cycle = trail[trail.index(dependency) :] if dependency in trail else [dependency]
                raise DeployError(f"{stack_name}: circular dependency between resources: {', '.join(cycle)}")
            if dependency not in state:
                visit(dependency, [*trail, dependency])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def deployed_dependencies(logical_id: str, graph: Mapping[str, set[str]], deployed: Mapping[str, Any]) -> set[str]:
    """The deployed resources ``logical_id`` depends on, directly or through resources that are not deployed."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = list(graph.get(logical_id, ()))
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in deployed:
            found.add(node)
        else:
            pending.extend(graph.get(node, ()))
    return found
