"""Create, update and delete a managed thing the way CloudFormation expects.

These functions take a boto3 ``iot-managed-integrations`` client and plain
values, not a CloudFormation event, so the handler, the tests and the local
engine share them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from managed_things_model.contract import MATERIAL_MEMBER
from managed_things_model.service_model import create_members, input_shape, replacement_members
from managed_things_model.validation import validate

from .errors import ProviderError, redact
from .properties import DesiredThing, validate_material

ReadSecret = Callable[[str], str]

# Provisioning states in which a thing is already on its way out.
_GONE_STATES = frozenset({"DELETE_IN_PROGRESS", "DELETED"})
_ARN_RESOURCE_ID = re.compile("[0-9a-zA-Z]+")


@dataclass(frozen=True)
class ThingAttributes:
    """What a stack can read from a managed thing with Fn::GetAtt."""

    id: str
    arn: str
    created_at: str

    def as_data(self) -> dict[str, str]:
        # Strings only: crhelper serialises Data with json.dumps, which fails on datetimes.
        return {"Id": self.id, "Arn": self.arn, "CreatedAt": self.created_at}


@dataclass(frozen=True)
class UpdatePlan:
    """How to move a thing from the old properties to the new ones."""

    replace_because: list[str] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)
    tags_to_set: dict[str, str] = field(default_factory=dict)
    tag_keys_to_remove: list[str] = field(default_factory=list)

    @property
    def replaces(self) -> bool:
        return bool(self.replace_because)


def client_token(stack_id: str, logical_resource_id: str, request_id: str) -> str:
    """The ClientToken for one CloudFormation request: the same event always yields the same token.

    A re-delivered Create (same RequestId) therefore returns the thing the first
    delivery created instead of creating a second one.
    """
    digest = hashlib.sha256(f"{stack_id}\n{logical_resource_id}\n{request_id}".encode()).hexdigest()
    return digest  # 64 hex characters: the ClientToken shape's maximum length and pattern


def create_thing(client: Any, desired: DesiredThing, token: str, read_secret: ReadSecret) -> ThingAttributes:
    desired.raise_if_invalid()
    request = dict(desired.request)
    secrets: list[str] = []
    if desired.secret_arn:
        material = read_secret(desired.secret_arn)
        validate_material(material)
        request[MATERIAL_MEMBER] = material
        secrets.append(material)
    response = _call(
        client.create_managed_thing,
        "CreateManagedThing",
        [*desired.string_values(), *secrets],
        ClientToken=token,
        **request,
    )
    return ThingAttributes(response["Id"], response["Arn"], _timestamp(response.get("CreatedAt")))


def plan_update(old: DesiredThing, new: DesiredThing) -> UpdatePlan:
    """Decide between an in-place update and a replacement, from the model's operations."""
    plan = UpdatePlan()
    for name in sorted(replacement_members()):
        before = old.material_source() if name == MATERIAL_MEMBER else old.request.get(name)
        after = new.material_source() if name == MATERIAL_MEMBER else new.request.get(name)
        if before != after:
            plan.replace_because.append(f"{name} changed")
    update_shape = input_shape("UpdateManagedThing")
    for name in create_members():
        if name not in update_shape.members or _same(old.request.get(name), new.request.get(name)):
            continue
        if name in new.request:
            plan.changes[name] = new.request[name]
        elif (empty := _empty_value(update_shape.members[name])) is not None:
            plan.changes[name] = empty
        else:
            plan.replace_because.append(f"{name} was removed and UpdateManagedThing cannot clear it")
    old_tags, new_tags = old.tags, new.tags
    plan.tags_to_set.update({k: v for k, v in new_tags.items() if old_tags.get(k) != v})
    plan.tag_keys_to_remove.extend(k for k in old_tags if k not in new_tags)
    return plan


def update_thing(
    client: Any,
    thing_id: str,
    old: DesiredThing,
    new: DesiredThing,
    token: str,
    read_secret: ReadSecret,
) -> ThingAttributes:
    """Apply an Update event: in place when the API allows it, else create a replacement.

    A replacement returns a new Id; CloudFormation then deletes the old thing
    (or, if the stack rolls back, the new one).
    """
    new.raise_if_invalid()
    plan = plan_update(old, new)
    if plan.replaces:
        return create_thing(client, new, token, read_secret)
    scrub = list(new.string_values())
    current = get_thing(client, thing_id, scrub)
    if plan.changes:
        _call(client.update_managed_thing, "UpdateManagedThing", scrub, Identifier=thing_id, **plan.changes)
    if plan.tag_keys_to_remove:
        _call(
            client.untag_resource,
            "UntagResource",
            scrub + list(old.tags),
            ResourceArn=current.arn,
            TagKeys=plan.tag_keys_to_remove,
        )
    if plan.tags_to_set:
        _call(client.tag_resource, "TagResource", scrub, ResourceArn=current.arn, Tags=plan.tags_to_set)
    return current


def get_thing(client: Any, thing_id: str, scrub: Iterable[str] = ()) -> ThingAttributes:
    response = _call(client.get_managed_thing, "GetManagedThing", scrub, Identifier=thing_id)
    return ThingAttributes(response["Id"], response["Arn"], _timestamp(response.get("CreatedAt")))


def is_thing_id(physical_id: str, *, stack_id: str, logical_resource_id: str) -> bool:
    """Whether a PhysicalResourceId can name a managed thing this provider created.

    After a failed Create, crhelper answers with an id of its own
    (``<stack name>_<logical id>_<random>``) and CloudFormation may make one up
    during a rollback; neither names a thing, and the API is not called with them.
    A thing's id is also the last part of its ARN, which the model's TagResource
    pattern (``managed-thing/[0-9a-zA-Z]+``) makes alphanumeric.
    """
    stack_name = stack_id.split("/")[1] if stack_id.count("/") >= 2 else stack_id
    if not physical_id or physical_id.startswith(f"{stack_name}_{logical_resource_id}_"):
        return False
    shape = input_shape("DeleteManagedThing").members["Identifier"]
    return not validate(shape, physical_id) and _ARN_RESOURCE_ID.fullmatch(physical_id) is not None


def delete_thing(client: Any, thing_id: str) -> None:
    """Delete a thing; one that is gone or already being deleted counts as deleted.

    The service deletes asynchronously (DELETE_IN_PROGRESS). This returns once the
    service has accepted the deletion and does not wait for it to finish.
    """
    try:
        client.delete_managed_thing(Identifier=thing_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            return
        if code == "ConflictException" and _is_being_deleted(client, thing_id):
            return
        raise _api_error("DeleteManagedThing", error, ()) from None
    except BotoCoreError as error:
        raise ProviderError(f"DeleteManagedThing failed: {type(error).__name__}") from None


def _is_being_deleted(client: Any, thing_id: str) -> bool:
    try:
        status = client.get_managed_thing(Identifier=thing_id).get("ProvisioningStatus")
    except ClientError as error:
        return error.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
    except BotoCoreError:
        return False  # state unknown: the Delete's own error is reported
    return status in _GONE_STATES


def _same(before: Any, after: Any) -> bool:
    """Equal as JSON: in a document ``false`` is not ``0`` nor ``1`` ``1.0``, which Python's ``==`` confuses."""
    return json.dumps(before, sort_keys=True, default=repr) == json.dumps(after, sort_keys=True, default=repr)


def _empty_value(shape: Any) -> Any:
    """The value that clears a member through UpdateManagedThing, if the model allows one."""
    if shape.type_name in ("list", "map") and not shape.metadata.get("min"):
        return [] if shape.type_name == "list" else {}
    return None


def _call(method: Callable[..., dict[str, Any]], operation: str, scrub: Iterable[str], **params: Any) -> dict[str, Any]:
    try:
        return method(**params)
    except ClientError as error:
        raise _api_error(operation, error, scrub) from None
    except BotoCoreError as error:
        # botocore's own messages can quote parameter values: name the error class only.
        raise ProviderError(f"{operation} failed: {type(error).__name__}") from None


def _api_error(operation: str, error: ClientError, scrub: Iterable[str]) -> ProviderError:
    details = error.response.get("Error", {})
    code = details.get("Code", "Error")
    message = redact(str(details.get("Message") or ""), scrub)
    return ProviderError(f"{operation} failed: {code}: {message}" if message else f"{operation} failed: {code}")


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)
