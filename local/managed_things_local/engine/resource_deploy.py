"""One resource of a stack run created or updated: a managed thing through its provider function, or a native
resource such as a secret."""

from __future__ import annotations

import dataclasses

from ..cloudformation.plan import Step, replaced
from ..cloudformation.requests import CustomResourceRequest, RequestType
from ..cloudformation.stack_events import Action, ResourceStatus
from ..errors import Unresolvable
from ..services.native import NATIVE_TYPES
from .stack_run_view import StackRunView


def deploy_resource(run: StackRunView, step: Step) -> bool:
    """A managed thing (through its provider function) or a native resource such as a secret."""
    logical_id, old = step.logical_id, step.previous
    verb = "UPDATE" if old else "CREATE"
    native = step.resource_type in NATIVE_TYPES
    try:
        properties = run.properties(logical_id)
        token = "" if native else properties.get("ServiceToken")
        if not native and (not isinstance(token, str) or not token):
            raise Unresolvable("the resource has no ServiceToken")
        assert isinstance(token, str)
        recorded = run.executor.recorded_properties(step.resource_type, properties)
        if old is not None and old.properties == recorded and not old.status.endswith("_FAILED"):
            return True  # unchanged: no request, the record stays as it was
        # (a Create that failed, kept by a failed rollback, is sent again as an Update: the provider creates
        # the thing, and the cleanup's Delete of the failed id removes what that Create may have made)
        if old is not None and old.service_token != token:
            raise Unresolvable("Modifying service token is not allowed.")
        function = run.executor.provider(step.resource_type, token)
    except Unresolvable as error:
        return run.failed(logical_id, verb, str(error))
    cancel = run.creates_in_flight.start(logical_id, cancellable=old is None and not native)
    if cancel is None:
        return False  # a sibling failed meanwhile: CloudFormation starts nothing more
    run.announce()
    action = Action.UPDATE if old else Action.CREATE
    run.event(logical_id, ResourceStatus(f"{verb}_IN_PROGRESS"), action)
    sent = run.resource_state(
        logical_id, physical_id=old.physical_id if old else "", properties=recorded, service_token=token
    )
    request = CustomResourceRequest(
        RequestType.UPDATE if old else RequestType.CREATE,
        run.pseudo.stack_id,
        logical_id,
        step.resource_type,
        token,
        properties,
        physical_id=old.physical_id if old else None,
        old_properties=old.properties if old else None,
    )
    try:
        outcome = run.executor.invoke(run.name, sent, function, request, cancel=cancel)
    finally:
        run.creates_in_flight.finished(logical_id)
    answer = outcome.answer
    physical_id = answer.physical_id if answer is not None else ""
    if outcome.cancelled:  # its Delete, with a made-up id and these properties, comes with the rollback
        run.record(dataclasses.replace(sent, status="CREATE_FAILED"))
        run.event(logical_id, ResourceStatus.CREATE_FAILED, Action.CREATE, outcome.reason)
        return False
    if not outcome.succeeded:
        run.record(dataclasses.replace(sent, physical_id=physical_id, status=f"{verb}_FAILED"))
        return run.failed(logical_id, verb, outcome.reason, physical_id)
    assert answer is not None
    record = dataclasses.replace(sent, physical_id=physical_id, data=dict(answer.data), status=f"{verb}_COMPLETE")
    run.record(record)
    note = ""
    if replaced(step, record):
        assert old is not None
        action = Action.REPLACE
        note = f"replaced: {old.physical_id} -> {physical_id} (the old one is deleted in the cleanup)"
    run.event(logical_id, ResourceStatus(f"{verb}_COMPLETE"), action, note, physical_id=physical_id)
    return True
