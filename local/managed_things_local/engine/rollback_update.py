"""The Update CloudFormation sends to roll a resource back: its previous properties, the attempted ones as old.

Sent by a stack's rollback (``stack_run``) and again by ``managed-things rollback``
(``continue_rollback``), which retries the rollback Updates that failed, as
ContinueUpdateRollback does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..cloudformation.records import ResourceState
from ..cloudformation.requests import CustomResourceRequest, RequestType
from ..errors import Unresolvable
from ..lambda_runtime.invoker import Outcome
from .executor import Executor, service_token


def another_physical_id(answered: str, expected: str) -> str:
    """Why a rollback Update that answered ``answered`` instead of the resource's own id failed the rollback."""
    return f"the rollback answered a new physical id {answered} instead of {expected}"


def send_rollback_update(
    executor: Executor,
    stack_name: str,
    stack_id: str,
    target: ResourceState,
    attempted: Mapping[str, Any],
    functions: Mapping[str, dict[str, Any]] | None,
) -> Outcome:
    """Roll ``target`` back from the ``attempted`` properties, through the provider as it was deployed (the rollback
    restores the old function too: ``functions`` are the previous deployment's)."""
    try:
        function = executor.provider(target.type, target.service_token, functions)
    except Unresolvable as error:
        return Outcome(None, str(error))
    request = CustomResourceRequest(
        RequestType.UPDATE,
        stack_id,
        target.logical_id,
        target.type,
        service_token(target.service_token, function),
        target.properties,
        physical_id=target.physical_id,
        old_properties=dict(attempted),
    )
    return executor.invoke(stack_name, target, function, request)
