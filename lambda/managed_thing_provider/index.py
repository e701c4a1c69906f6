"""Lambda entry point: CloudFormation custom resource events for Custom::ManagedThing.

crhelper answers CloudFormation (configured for production, not its debugging
defaults); Powertools Logger writes structured JSON logs. Neither the event,
nor the presigned ResponseURL, nor any member the model marks sensitive is logged.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from crhelper import CfnResource

from .lifecycle import client_token, create_thing, delete_thing, is_thing_id, update_thing
from .properties import parse_properties

logger = Logger(service="managed-thing-provider")

# Deliberate crhelper settings: INFO (its DEBUG level logs the whole event and the
# ResponseURL), botocore quiet (its DEBUG logs request bodies), and no sleep on
# Delete (its 120 s default exists to flush logs of a long-gone era). No polling:
# every step finishes well within one invocation.
startup_error: Exception | None = None
try:
    from .clients import configure_default_session, managed_integrations_client, read_secret

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
def on_create(event: dict[str, Any], _context: Any) -> str:
    desired = parse_properties(event.get("ResourceProperties"))
    thing = create_thing(client, desired, _token(event), read_secret)
    logger.info("Created managed thing", extra={"ThingId": thing.id})
    helper.Data.update(thing.as_data())
    return thing.id


@helper.update
def on_update(event: dict[str, Any], _context: Any) -> str:
    new = parse_properties(event.get("ResourceProperties"))
    old = parse_properties(event.get("OldResourceProperties"))
    current_id = event.get("PhysicalResourceId", "")
    if not _names_a_thing(event, current_id):
        # The previous Create never produced a thing: there is nothing to update.
        thing = create_thing(client, new, _token(event), read_secret)
    else:
        thing = update_thing(client, current_id, old, new, _token(event), read_secret)
    if thing.id != current_id:
        logger.info("Replaced managed thing", extra={"ThingId": thing.id, "ReplacedThingId": current_id})
    else:
        logger.info("Updated managed thing in place", extra={"ThingId": thing.id})
    helper.Data.update(thing.as_data())
    return thing.id


@helper.delete
def on_delete(event: dict[str, Any], _context: Any) -> None:
    physical_id = event.get("PhysicalResourceId", "")
    if not _names_a_thing(event, physical_id):
        logger.info("Nothing to delete: the PhysicalResourceId does not name a managed thing")
        return
    delete_thing(client, physical_id)
    logger.info("Deleted managed thing", extra={"ThingId": physical_id})


def _token(event: dict[str, Any]) -> str:
    return client_token(event["StackId"], event["LogicalResourceId"], event["RequestId"])


def _names_a_thing(event: dict[str, Any], physical_id: str) -> bool:
    return is_thing_id(physical_id, stack_id=event["StackId"], logical_resource_id=event["LogicalResourceId"])


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
