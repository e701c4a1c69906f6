"""Before a stack is deployed or destroyed: the Creates its journal sent but never heard back from.

A run that died, or was stopped without waiting (Ctrl-C twice), while a Create
was in flight leaves that request in the journal with no answer: the provider
may have created a thing that no state records. Lambda delivers an event at
least once, and the provider's Create is idempotent (its ClientToken comes from
the stack, the resource and the request id), so the same request delivered
again answers the thing the first delivery committed, or creates it; either
way the journal then records it, and the deploy or destroy that follows sees it.
"""

from __future__ import annotations

from ..cloudformation.records import ResourceState
from ..cloudformation.requests import CustomResourceRequest, RequestType
from ..cloudformation.templates import resource_label
from ..errors import Unresolvable
from ..services.native import NATIVE_TYPES
from ..state.journal import unanswered_creates
from ..state.state import StateStore
from .executor import Executor


def deliver_unanswered_creates(store: StateStore, executor: Executor, stack_name: str) -> None:
    """Deliver again each Create of ``stack_name`` whose outcome the journal does not know."""
    pending = unanswered_creates(store.journal(stack_name).entries())
    state = store.load(stack_name) if pending else None
    if state is None:
        return
    for entry in pending:
        resource = ResourceState(**entry["resource"])
        if resource.type in NATIVE_TYPES:
            continue  # run in this process, and journaled with a digest of their value: not delivered again
        label = resource_label(resource.path, resource.logical_id)
        executor.line(
            f"{stack_name} | {label}: its Create was never answered; delivering it again (Lambda delivers at least "
            "once) to learn what it created"
        )
        recorded = {resource.service_token: entry["function"]} if entry.get("function") else state.functions
        try:
            function = executor.function(resource.service_token, recorded, as_deployed=True)
        except Unresolvable as error:
            executor.warning(stack_name, f"{label}: its unanswered Create could not be delivered again ({error})")
            continue
        request = CustomResourceRequest(
            RequestType.CREATE,
            state.stack_id,
            resource.logical_id,
            resource.type,
            resource.service_token or function.arn,
            resource.properties,
            request_id=str(entry["request_id"]),
        )
        executor.invoke(stack_name, resource, function, request)
