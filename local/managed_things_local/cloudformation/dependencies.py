"""Dependencies between the resources of one stack."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
