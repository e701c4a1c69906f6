"""Every order of the local deploy, through ``graphlib``: stacks and resources (pure; ``engine.concurrent_runs``
runs them).

A graph here maps each node to the nodes it depends on (its prerequisites).
A cycle is a ``DeployError`` whose one line names the nodes of the cycle.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping, Sequence

from ..errors import DeployError

Graph = Mapping[str, Iterable[str]]


def prepared_sorter(nodes: Sequence[str], prerequisites: Graph, what: str) -> graphlib.TopologicalSorter[str]:
    """A sorter of ``nodes`` by their prerequisites among them, prepared: a cycle is a ``DeployError`` naming it."""
    members = set(nodes)
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node in nodes:
        sorter.add(node, *sorted(set(prerequisites.get(node, ())) & members - {node}))
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1]
        raise DeployError(f"{what} depend on each other in a cycle: {' -> '.join(cycle)}") from None
    return sorter


def ordered(nodes: Sequence[str], prerequisites: Graph, what: str = "The stacks") -> list[str]:
    """``nodes`` with each after its prerequisites; ties keep the order of ``nodes``."""
    sorter = prepared_sorter(nodes, prerequisites, what)
    position = {node: index for index, node in enumerate(nodes)}
    result: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        result += ready
        sorter.done(*ready)
    return result


def reverse(nodes: Sequence[str], prerequisites: Graph) -> dict[str, set[str]]:
    """The graph turned around: each node -> the nodes that depend on it (for deletes, dependents first)."""
    members = set(nodes)
    turned: dict[str, set[str]] = {node: set() for node in nodes}
    for node in nodes:
        for prerequisite in set(prerequisites.get(node, ())) & members - {node}:
            turned[prerequisite].add(node)
    return turned


def check_acyclic(nodes: Sequence[str], prerequisites: Graph, what: str) -> None:
    prepared_sorter(nodes, prerequisites, what)
