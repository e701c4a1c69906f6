"""Create, update and delete a managed thing the way CloudFormation expects.

These functions take a boto3 ``iot-managed-integrations`` client and plain
values, not a CloudFormation event, so the handler, the tests and the local
engine share them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from managed_things_model.contract import MATERIAL_MEMBER, RESERVED_TAG_PREFIX, RESOURCE_TAG
from managed_things_model.service_model import create_members, input_shape, replacement_members
from managed_things_model.validation import validate

from .deadline import ApiError, Deadline, call
from .errors import ProviderError
from .properties import DesiredThing, validate_material
from .service_region import NO_SERVICE_IN_REGION

ReadSecret = Callable[[str], str]

# Provisioning states in which a thing is already on its way out.
_GONE_STATES = frozenset({"DELETE_IN_PROGRESS", "DELETED"})
# A PhysicalResourceId answered for a Create whose outcome is unknown: it carries the
# ClientToken, from which a later event finds what the Create committed. "/" is in no
# thing id (the model's pattern is [a-zA-Z0-9:_-]*), so it is never taken for one.
RECOVERABLE_PREFIX = "ClientToken/"
# The tag a thing carries while its replacement is being created: the replacement's ClientToken. A forward Update
# that fails answers the old id, and the rollback Update that follows carries another RequestId: this tag is how it
# finds (CreateManagedThing with the same token and the forward's properties) and deletes a replacement the service
# committed without saying so. Removed once the replacement's outcome is known.
REPLACEMENT_TAG = f"{RESERVED_TAG_PREFIX}replacement-token"


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
class LiveThing:
    """A thing as GetManagedThing describes it: its attributes and what decides a replacement."""

    attributes: ThingAttributes
    role: str | None
    provisioning_status: str | None
    # A replacement whose outcome was not known when its Update answered (REPLACEMENT_TAG's value:
    # ``<ClientToken>:<fingerprint of the replacement's properties>``).
    pending_replacement: str | None = None


@dataclass(frozen=True)
class UpdatePlan:
    """How to move a thing from the old properties to the new ones."""

    replace_because: list[str] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)
    tags_to_set: dict[str, str] = field(default_factory=dict)
    tag_keys_to_remove: list[str] = field(default_factory=list)
    # Members the template no longer sets that UpdateManagedThing cannot clear: the thing keeps its value.
    kept: list[str] = field(default_factory=list)
    # Why a forward Update would replace the thing, ignored because the stack is rolling back.
    not_replaced_in_rollback: list[str] = field(default_factory=list)

    @property
    def replaces(self) -> bool:
        return bool(self.replace_because)


@dataclass(frozen=True)
class UpdateResult:
    """What an Update did: the thing CloudFormation hears of, and what the log should say."""

    thing: ThingAttributes
    plan: UpdatePlan
    recreated: bool = False  # the thing was gone (deleted outside CloudFormation) and was created again
    # A pending replacement (REPLACEMENT_TAG) found on the thing: its token; whether this (rollback) Update
    # recovered it, and the Id it then deleted (None: the same Create was refused, so nothing had been made).
    pending_replacement: str | None = None
    pending_replacement_recovered: bool = False
    pending_replacement_deleted: str | None = None
    pending_replacement_kept: bool = False  # the stack's status was unknown: the tag stays for the rollback
    # Why the thing could not be tagged before a replacement (then an unknown outcome cannot be recovered).
    not_marked_because: str | None = None


def client_token(stack_id: str, logical_resource_id: str, request_id: str) -> str:
    """The ClientToken for one CloudFormation request: the same event always yields the same token.

    A re-delivered Create (same RequestId) therefore returns the thing the first
    delivery created instead of creating a second one.
    """
    digest = hashlib.sha256(f"{stack_id}\n{logical_resource_id}\n{request_id}".encode()).hexdigest()
    return digest  # 64 hex characters: the ClientToken shape's maximum length and pattern


def recoverable_id(token: str) -> str:
    """The PhysicalResourceId of a Create whose outcome is unknown: ``ClientToken/<token>``."""
    return RECOVERABLE_PREFIX + token


def recoverable_token(physical_id: str) -> str | None:
    """The ClientToken a recoverable PhysicalResourceId carries, or None if it is not one."""
    if not physical_id.startswith(RECOVERABLE_PREFIX):
        return None
    token = physical_id[len(RECOVERABLE_PREFIX) :]
    shape = input_shape("CreateManagedThing").members["ClientToken"]
    return token if token and not validate(shape, token) else None


def create_thing(
    client: Any,
    desired: DesiredThing,
    token: str,
    read_secret: ReadSecret,
    deadline: Deadline | None = None,
    *,
    marker: str | None = None,
) -> ThingAttributes:
    """CreateManagedThing with ``token``: a repeat with the same token and parameters returns the same thing.

    ``marker`` (``cancelled_create.resource_marker``) is set as the thing's ``RESOURCE_TAG``: the tag by which a
    Delete whose PhysicalResourceId names no thing finds it. Raises :class:`ApiError` with ``maybe_committed`` when
    the outcome is unknown.
    """
    desired.raise_if_invalid()
    request = dict(desired.request)
    if marker is not None:
        request["Tags"] = {**desired.tags, RESOURCE_TAG: marker}
    secrets: list[str] = []
    if desired.secret_arn:
        material = read_secret(desired.secret_arn)
        validate_material(material)
        request[MATERIAL_MEMBER] = material
        secrets.append(material)
    response = call(
        client,
        "CreateManagedThing",
        deadline or Deadline.none(),
        [*desired.string_values(), *secrets],
        ClientToken=token,
        **request,
    )
    return ThingAttributes(response["Id"], response["Arn"], _timestamp(response.get("CreatedAt")))


def plan_update(
    old: DesiredThing, new: DesiredThing, *, live_role: str | None = None, rolling_back: bool = False
) -> UpdatePlan:
    """Decide between an in-place update and a replacement, from the model's operations and the live thing.

    ``Role`` is compared with the thing's own role when it is known (``live_role``, from
    GetManagedThing), so an Update that restores the role the thing has never replaces it.
    The material and its type are not returned by the API: they are compared old against new,
    unless ``rolling_back``: a rollback Update only reaches a thing whose forward Update kept
    its id, so the thing already has what the rollback restores, and it is never replaced.
    Removing a member UpdateManagedThing cannot clear never replaces: the thing keeps its value.
    """
    plan = UpdatePlan()
    for name in sorted(replacement_members()):
        if name == "Role" and live_role is not None:
            before: Any = live_role
        else:
            before = old.material_source() if name == MATERIAL_MEMBER else old.request.get(name)
        after = new.material_source() if name == MATERIAL_MEMBER else new.request.get(name)
        if before != after:
            (plan.not_replaced_in_rollback if rolling_back else plan.replace_because).append(f"{name} changed")
    update_shape = input_shape("UpdateManagedThing")
    for name in create_members():
        if name not in update_shape.members or _same(old.request.get(name), new.request.get(name)):
            continue
        if name in new.request:
            plan.changes[name] = new.request[name]
        elif (empty := _empty_value(update_shape.members[name])) is not None:
            plan.changes[name] = empty
        else:
            plan.kept.append(name)
    old_tags, new_tags = old.tags, new.tags
    plan.tags_to_set.update({k: v for k, v in new_tags.items() if old_tags.get(k) != v})
    plan.tag_keys_to_remove.extend(k for k in old_tags if k not in new_tags)
    return plan


def apply_update(
    client: Any,
    thing_id: str,
    old: DesiredThing,
    new: DesiredThing,
    token: str,
    read_secret: ReadSecret,
    deadline: Deadline | None = None,
    is_rolling_back: Callable[[], bool | None] | None = None,
    *,
    marker: str | None = None,
) -> UpdateResult:
    """Apply an Update event: in place when the API allows it, else create a replacement.

    The thing is read first: a thing that no longer exists (deleted outside CloudFormation)
    is created again with the new properties, under a new Id; CloudFormation's cleanup
    Delete of the old Id then meets a 404, which is success. ``is_rolling_back`` is asked
    only when the properties alone would replace the thing, or when the thing carries a pending
    replacement (``REPLACEMENT_TAG``); None means unknown, taken as a forward Update.
    A replacement returns a new Id; CloudFormation then deletes the old thing. While it is being
    created the old thing carries its ClientToken, so that the rollback Update of a forward Update
    that failed with the replacement's outcome unknown finds and deletes what the service committed.
    """
    new.raise_if_invalid()
    deadline = deadline or Deadline.none()
    scrub = list(new.string_values())
    current = find_thing(client, thing_id, scrub, deadline)
    if current is None:
        thing = create_thing(client, new, token, read_secret, deadline, marker=marker)
        return UpdateResult(thing, plan_update(old, new), recreated=True)
    rolling_back = _asked_once(is_rolling_back)
    pending, recovered, pending_deleted = current.pending_replacement, False, None
    drop_pending = pending is not None
    if pending is not None:
        token_of_pending, _, fingerprint_of_pending = pending.partition(":")
        status = rolling_back()
        if status is None:
            drop_pending = False  # is this the rollback that must recover it? Unknown: keep the evidence
        elif (
            status
            and fingerprint_of_pending == fingerprint(old)
            and recoverable_token(RECOVERABLE_PREFIX + token_of_pending)
        ):
            # The forward Update's replacement (its properties are this event's old ones) may exist: delete it.
            pending_deleted = delete_recovered(client, token_of_pending, old, read_secret, deadline, marker=marker)
            recovered = True
    plan = plan_update(old, new, live_role=current.role)
    if plan.replaces and rolling_back() is True:
        plan = plan_update(old, new, live_role=current.role, rolling_back=True)
    if plan.replaces:
        return _replace(client, current, new, token, read_secret, deadline, plan, marker)
    if plan.changes:
        call(client, "UpdateManagedThing", deadline, scrub, Identifier=thing_id, **plan.changes)
    tag_keys_to_remove = plan.tag_keys_to_remove + ([REPLACEMENT_TAG] if drop_pending else [])
    if tag_keys_to_remove:
        call(
            client,
            "UntagResource",
            deadline,
            scrub + list(old.tags),
            ResourceArn=current.attributes.arn,
            TagKeys=tag_keys_to_remove,
        )
    if plan.tags_to_set:
        call(client, "TagResource", deadline, scrub, ResourceArn=current.attributes.arn, Tags=plan.tags_to_set)
    return UpdateResult(
        current.attributes,
        plan,
        pending_replacement=pending,
        pending_replacement_recovered=recovered,
        pending_replacement_deleted=pending_deleted,
        pending_replacement_kept=pending is not None and not drop_pending,
    )


def _replace(
    client: Any,
    current: LiveThing,
    new: DesiredThing,
    token: str,
    read_secret: ReadSecret,
    deadline: Deadline,
    plan: UpdatePlan,
    marker: str | None,
) -> UpdateResult:
    """Create the replacement, the old thing tagged with its token until its outcome is known."""
    arn = current.attributes.arn
    not_marked_because = None
    try:
        call(
            client, "TagResource", deadline, (), ResourceArn=arn, Tags={REPLACEMENT_TAG: f"{token}:{fingerprint(new)}"}
        )
    except ApiError as error:
        if error.retryable or error.maybe_committed:
            raise  # no time or no service: nothing was created yet, so failing here is safe
        not_marked_because = error.code  # e.g. the thing already has 50 tags: replace, unrecoverably if unknown
    try:
        thing = create_thing(client, new, token, read_secret, deadline, marker=marker)
    except ApiError as error:
        if not_marked_because is None and not error.maybe_committed:
            _untag_replacement(client, arn, deadline)  # refused, or never carried out: nothing to recover
        raise
    except ProviderError:
        # Failed before CreateManagedThing was sent (the secret unreadable, the material invalid): nothing to recover,
        # and a tag left would make the rollback read the secret again to recover what was never made.
        if not_marked_because is None:
            _untag_replacement(client, arn, deadline)
        raise
    if not_marked_because is None:
        # On success CloudFormation deletes the old thing, unless the stack rolls back and deletes the new one.
        _untag_replacement(client, arn, deadline)
    return UpdateResult(thing, plan, not_marked_because=not_marked_because)


def _untag_replacement(client: Any, arn: str, deadline: Deadline) -> None:
    """Best effort: a tag left behind is dropped by the thing's next Update."""
    try:
        call(client, "UntagResource", deadline, (), ResourceArn=arn, TagKeys=[REPLACEMENT_TAG])
    except ApiError:
        pass


def _asked_once(question: Callable[[], bool | None] | None) -> Callable[[], bool | None]:
    """Ask a costly question (the stack's status: rolling back?) at most once; None: unknown."""
    answers: list[bool | None] = []

    def ask() -> bool | None:
        if not answers:
            answers.append(question() if question is not None else None)
        return answers[0]

    return ask


def fingerprint(desired: DesiredThing) -> str:
    """16 hex digits that tell one thing's properties from another's (and reveal nothing of them)."""
    canonical = json.dumps([desired.request, desired.secret_arn], sort_keys=True, default=repr)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def find_thing(
    client: Any, thing_id: str, scrub: Iterable[str] = (), deadline: Deadline | None = None
) -> LiveThing | None:
    """The thing as it is, or None when it does not exist or is being deleted."""
    try:
        response = call(client, "GetManagedThing", deadline or Deadline.none(), scrub, Identifier=thing_id)
    except ApiError as error:
        if error.code == "ResourceNotFoundException":
            return None
        raise
    if response.get("ProvisioningStatus") in _GONE_STATES:
        return None
    attributes = ThingAttributes(response["Id"], response["Arn"], _timestamp(response.get("CreatedAt")))
    pending = (response.get("Tags") or {}).get(REPLACEMENT_TAG)
    return LiveThing(attributes, response.get("Role"), response.get("ProvisioningStatus"), pending or None)


def get_thing(
    client: Any, thing_id: str, scrub: Iterable[str] = (), deadline: Deadline | None = None
) -> ThingAttributes:
    response = call(client, "GetManagedThing", deadline or Deadline.none(), scrub, Identifier=thing_id)
    return ThingAttributes(response["Id"], response["Arn"], _timestamp(response.get("CreatedAt")))


def is_thing_id(physical_id: str, *, stack_id: str, logical_resource_id: str) -> bool:
    """Whether a PhysicalResourceId can name a managed thing this provider created.

    A thing's id matches the model's ``ManagedThingId`` (``[a-zA-Z0-9:_-]*``, 1 to 64
    characters). After a failed Create, crhelper answers with an id of its own
    (``<stack name>_<logical id>_<random>``) and CloudFormation may make one up
    (``<stack name>-<logical id>-<random>``); both fit that pattern, neither names a
    thing (the service assigns ids), so they are recognised by their prefix and the API
    is not called with them. A recoverable id (``ClientToken/<token>``) is not a thing's id.
    """
    stack_name = stack_id.split("/")[1] if stack_id.count("/") >= 2 else stack_id
    if not physical_id or any(
        physical_id.startswith(f"{stack_name}{separator}{logical_resource_id}{separator}") for separator in "_-"
    ):
        return False
    shape = input_shape("DeleteManagedThing").members["Identifier"]
    return not validate(shape, physical_id)


def delete_thing(client: Any, thing_id: str, deadline: Deadline | None = None) -> None:
    """Delete a thing; one that is gone or already being deleted counts as deleted.

    The service deletes asynchronously (DELETE_IN_PROGRESS). This returns once the
    service has accepted the deletion and does not wait for it to finish.
    """
    deadline = deadline or Deadline.none()
    try:
        call(client, "DeleteManagedThing", deadline, Identifier=thing_id)
    except ApiError as error:
        if error.code in ("ResourceNotFoundException", NO_SERVICE_IN_REGION):
            return  # gone, or in a region where the service never ran
        if error.code == "ConflictException" and _is_being_deleted(client, thing_id, deadline):
            return
        raise


def delete_recovered(
    client: Any,
    token: str,
    desired: DesiredThing,
    read_secret: ReadSecret,
    deadline: Deadline | None = None,
    *,
    marker: str | None = None,
) -> str | None:
    """Delete whatever a Create with ``token``, these properties and ``marker`` committed; the Id deleted, if any.

    CreateManagedThing with the same ClientToken and parameters returns the thing the first
    call created (the model's idempotency token); had that call not been carried out, this
    creates the thing, which is then deleted just the same. Properties that fail validation
    were never sent, so nothing was created.
    """
    if desired.problems:
        return None
    deadline = deadline or Deadline.none()
    try:
        thing = create_thing(client, desired, token, read_secret, deadline, marker=marker)
    except ApiError as error:
        if error.code == "ValidationException":
            return None  # the same parameters are refused: the first call was refused too
        if error.code == NO_SERVICE_IN_REGION:
            return None  # the service does not run in this region: nothing was ever created
        if error.code == "ConflictException" and marker is not None:
            # The token was used with other parameters: by a provider from before the marker (its things had no
            # RESOURCE_TAG), which left this recoverable id or pending replacement. Recover it as it was made.
            return delete_recovered(client, token, desired, read_secret, deadline)
        raise
    delete_thing(client, thing.id, deadline)
    return thing.id


def _is_being_deleted(client: Any, thing_id: str, deadline: Deadline) -> bool:
    try:
        return find_thing(client, thing_id, (), deadline) is None
    except ApiError:
        return False  # state unknown: the Delete's own error is reported


def _same(before: Any, after: Any) -> bool:
    """Equal as JSON: in a document ``false`` is not ``0`` nor ``1`` ``1.0``, which Python's ``==`` confuses."""
    return json.dumps(before, sort_keys=True, default=repr) == json.dumps(after, sort_keys=True, default=repr)


def _empty_value(shape: Any) -> Any:
    """The value that clears a member through UpdateManagedThing, if the model allows one."""
    if shape.type_name in ("list", "map") and not shape.metadata.get("min"):
        return [] if shape.type_name == "list" else {}
    return None


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)
