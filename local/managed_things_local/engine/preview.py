"""Stack runs built to look at, never run: what ``managed-things diff`` and the quota checks read a deploy from."""

from __future__ import annotations

from typing import Any

from ..cloudformation.assembly import CloudAssembly
from ..cloudformation.templates import nested_artifact
from ..errors import Unresolvable
from ..lambda_runtime.runtime import NoRuntime
from ..state.state import StateStore
from .executor import Executor
from .stack_run import StackRun


def preview_executor(assembly: CloudAssembly, store: StateStore) -> Executor:
    """An executor that runs nothing: StackRuns need one to be built."""
    return Executor(assembly, store, NoRuntime())


def nested_run(parent: StackRun, executor: Executor, logical_id: str, stack_name: Any) -> StackRun | None:
    """The run of nested stack ``logical_id`` as a deploy of ``parent`` would start it (``stack_name``: the one
    recorded, if deployed), or None when its template or parameters are known only at deploy time."""
    previous = None
    if isinstance(stack_name, str):
        previous = parent.store.load(stack_name)
    else:  # not deployed yet: every resource of it is a create
        stack_name = f"{parent.name}-{logical_id}"
    try:
        artifact = nested_artifact(parent.artifact, logical_id, stack_name, parent.pseudo)
        properties = parent.properties(logical_id)
    except Unresolvable:
        return None
    executor.add_stacks([artifact])
    return StackRun(
        executor,
        parent.store,
        artifact,
        previous,
        endpoint_label=parent.endpoint_label,
        parameters={k: str(v) for k, v in (properties.get("Parameters") or {}).items()},
        parent=parent,
    )
