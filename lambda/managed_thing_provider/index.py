"""Lambda entry point: CloudFormation custom resource events for Custom::ManagedThing.

crhelper answers CloudFormation (configured for production, not its debugging
defaults); Powertools Logger writes structured JSON logs. Neither the event,
nor the presigned ResponseURL, nor any member the model marks sensitive is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from crhelper import CfnResource

from .cancelled_create import create_was_cancelled, delete_marked, resource_marker
from .deadline import ApiError, Deadline
from .errors import ProviderError
from .lifecycle import (
    UpdateResult,
    apply_update,
    client_token,
    create_thing,
    delete_recovered,
    delete_thing,
    is_thing_id,
    recoverable_id,
    recoverable_token,
)
from .properties import parse_properties

logger = Logger(service="managed-thing-provider")

# Deliberate crhelper settings: INFO (its DEBUG level logs the whole event and the
# ResponseURL), botocore quiet (its DEBUG logs request bodies), and no sleep on
# Delete (its 120 s default exists to flush logs of a long-gone era). No polling:
# every step finishes within one invocation, by one deadline (deadline.py).
startup_error: Exception | None = None
try:
    from .clients import (
        RESOURCE_GONE,
        configure_default_session,
        managed_integrations_client,
        read_secret,
        stack_is_rolling_back,
        stack_resource_status,
    )

    configure_default_session()  # before crhelper builds its clients, so they share one session
except Exception as error:
    startup_error = error

helper = CfnResource(json_logging=False, log_level="INFO", boto_level="ERROR", sleep_on_delete=0)

try:
    if startup_error is not None:
        raise startup_error
    client = managed_integrations_client()
except Exception as error:  # answer CloudFormation instead of leaving the stack waiting
    helper.init_failure(error)


@helper.create
def on_create(event: dict[str, Any], context: Any) -> str:
    deadline = Deadline.from_context(context)
    desired = parse_properties(event.get("ResourceProperties"))
    token = _token(event)
    try:
        thing = create_thing(client, desired, token, _secret_reader(deadline), deadline, marker=_marker(event))
    except ApiError as error:
        if error.maybe_committed or error.retryable:
            # The thing may exist, or another delivery of this event (Lambda delivers at least once) may still
            # make it: answer an id from which the rollback Delete finds it (same token).
            helper.PhysicalResourceId = recoverable_id(token)
            logger.warning(
                "Create outcome unknown: answered a recoverable PhysicalResourceId", extra={"Code": error.code}
            )
        raise
    logger.info("Created managed thing", extra={"ThingId": thing.id})
    _refuse_if_cancelled(event, thing.id, deadline)
    helper.Data.update(thing.as_data())
    return thing.id


def _refuse_if_cancelled(event: dict[str, Any], thing_id: str, deadline: Deadline) -> None:
    """Delete the thing just made if CloudFormation no longer creates this resource, and answer FAILED.

    Asked after the commit, not before: CloudFormation marks a cancelled Create's resource CREATE_FAILED before it
    sends the Delete, so either that Delete finds the thing by its marker, or this sees the cancellation.
    """
    status = stack_resource_status(event["StackId"], event["LogicalResourceId"], deadline)
    if status is None:
        logger.warning("Resource status unknown (cloudformation:DescribeStackResource): kept the thing")
        return
    if not create_was_cancelled(status, gone=RESOURCE_GONE):
        return
    delete_thing(client, thing_id, deadline)
    logger.warning("Create cancelled by CloudFormation: deleted the thing it made", extra={"ThingId": thing_id})
    state = "does not exist" if status == RESOURCE_GONE else f"is {status}"
    raise ProviderError(
        f"{event['LogicalResourceId']}: the resource {state} (the Create was cancelled or arrived late): "
        f"deleted managed thing {thing_id}"
    )


@helper.update
def on_update(event: dict[str, Any], context: Any) -> str:
    deadline = Deadline.from_context(context)
    new = parse_properties(event.get("ResourceProperties"))
    old = parse_properties(event.get("OldResourceProperties"))
    current_id = event.get("PhysicalResourceId", "")
    if not _names_a_thing(event, current_id):
        # The previous Create never produced a known thing: there is nothing to update. (After an
        # unknown Create, CloudFormation's cleanup Delete of the recoverable id removes what it made.)
        thing = create_thing(client, new, _token(event), _secret_reader(deadline), deadline, marker=_marker(event))
        logger.info("Created managed thing", extra={"ThingId": thing.id, "ReplacedPhysicalResourceId": current_id})
    else:
        try:
            result = apply_update(
                client,
                current_id,
                old,
                new,
                _token(event),
                _secret_reader(deadline),
                deadline,
                is_rolling_back=lambda: _rolling_back(event, deadline),
                marker=_marker(event),
            )
        except ApiError as error:
            if error.maybe_committed and error.operation == "CreateManagedThing":
                # A FAILED Update keeps the old id; the old thing carries the token, for the rollback to recover.
                logger.warning(
                    "Replacement outcome unknown: the rollback Update deletes what this ClientToken made",
                    extra={"ClientToken": _token(event), "Code": error.code},
                )
            raise
        thing = result.thing
        _log_update(result, current_id)
    helper.Data.update(thing.as_data())
    return thing.id


@helper.delete
def on_delete(event: dict[str, Any], context: Any) -> None:
    deadline = Deadline.from_context(context)
    physical_id = event.get("PhysicalResourceId", "")
    token = recoverable_token(physical_id)
    if token is not None:
        desired = parse_properties(event.get("ResourceProperties"))
        deleted = delete_recovered(client, token, desired, _secret_reader(deadline), deadline, marker=_marker(event))
        logger.info("Deleted what a Create of unknown outcome made", extra={"ThingId": deleted})
        return
    if not _names_a_thing(event, physical_id):
        # Made up by CloudFormation or crhelper: the Create failed, or was cancelled while it ran (or is still queued,
        # and then sees this Delete through DescribeStackResource). Find what it made by the marker.
        found = delete_marked(client, parse_properties(event.get("ResourceProperties")), _marker(event), deadline)
        logger.info("No thing named: deleted the things this resource's marker finds", extra={"ThingIds": found})
        return
    delete_thing(client, physical_id, deadline)
    logger.info("Deleted managed thing", extra={"ThingId": physical_id})


def _token(event: dict[str, Any]) -> str:
    return client_token(event["StackId"], event["LogicalResourceId"], event["RequestId"])


def _marker(event: dict[str, Any]) -> str:
    return resource_marker(event["StackId"], event["LogicalResourceId"])


def _names_a_thing(event: dict[str, Any], physical_id: str) -> bool:
    return is_thing_id(physical_id, stack_id=event["StackId"], logical_resource_id=event["LogicalResourceId"])


def _secret_reader(deadline: Deadline) -> Callable[[str], str]:
    return lambda secret_arn: read_secret(secret_arn, deadline)


def _rolling_back(event: dict[str, Any], deadline: Deadline) -> bool | None:
    rolling_back = stack_is_rolling_back(event["StackId"], deadline)
    if rolling_back is None:
        logger.warning("Stack status unknown (cloudformation:DescribeStacks): deciding from the properties alone")
    return rolling_back


def _log_update(result: UpdateResult, previous_id: str) -> None:
    plan, thing = result.plan, result.thing
    if result.recreated:
        logger.warning(
            "Managed thing not found (deleted outside CloudFormation): created it again",
            extra={"ThingId": thing.id, "MissingThingId": previous_id},
        )
    elif thing.id != previous_id:
        logger.info(
            "Replaced managed thing",
            extra={"ThingId": thing.id, "ReplacedThingId": previous_id, "Because": plan.replace_because},
        )
    else:
        logger.info("Updated managed thing in place", extra={"ThingId": thing.id})
    if plan.not_replaced_in_rollback:
        logger.warning(
            "Rollback Update: not replacing the thing, which already has what the rollback restores",
            extra={"ThingId": thing.id, "Because": plan.not_replaced_in_rollback},
        )
    if result.pending_replacement_recovered:
        logger.warning(
            "Rollback: deleted what the failed Update's replacement of unknown outcome made",
            extra={"ThingId": thing.id, "DeletedThingId": result.pending_replacement_deleted},
        )
    elif result.pending_replacement_kept:
        logger.warning(
            "A replacement of unknown outcome is pending on the thing and the stack's status is unknown: kept its "
            "tag; a thing made with its ClientToken may exist outside the stack",
            extra={"ThingId": thing.id, "Pending": result.pending_replacement},
        )
    elif result.pending_replacement is not None:
        logger.warning(
            "Removed a pending-replacement tag outside a rollback",
            extra={"ThingId": thing.id, "Pending": result.pending_replacement},
        )
    if result.not_marked_because:
        logger.warning(
            "Could not tag the thing with its replacement's token: an unknown outcome would not be recoverable",
            extra={"ThingId": thing.id, "Code": result.not_marked_because},
        )
    if plan.kept and not result.recreated:
        logger.warning(
            "Removed from the template but UpdateManagedThing cannot clear them: the thing keeps its values",
            extra={"ThingId": thing.id, "Members": plan.kept},
        )


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> None:
    logger.append_keys(
        StackId=event.get("StackId"),
        LogicalResourceId=event.get("LogicalResourceId"),
        RequestId=event.get("RequestId"),
        RequestType=event.get("RequestType"),
    )
    helper(event, context)
    if helper.Status == "FAILED":
        logger.error("Answered FAILED", extra={"Reason": helper.Reason})
    else:
        logger.info("Answered SUCCESS", extra={"PhysicalResourceId": helper.PhysicalResourceId})


__all__ = ["handler"]
