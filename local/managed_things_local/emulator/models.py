"""Managed things: the emulator's state and the rules of each operation.

Requests are checked against the operation's input shape by the emulator's own
``validation`` (never the provider's, which the emulator exists to check), so every
constraint comes from the botocore model. Things live in
a ``ThingStore``; each operation is one transaction, which makes a ClientToken
replay, a concurrent Create and an Update atomic. Where the service is
asynchronous or unspecified, the choices are listed in the package docstring.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from managed_things_model.service_model import input_shape, list_filters, operation, service_model

from .. import environment
from .exceptions import ConflictException, ResourceNotFoundException, request_error
from .store import StoredThing, ThingStore, Transaction
from .validation import message, violations

# A request without a SigV4 region (a raw HTTP client) lands where the local deploy defaults to.
DEFAULT_ACCOUNT_ID = environment.DEFAULT_ACCOUNT
DEFAULT_REGION = environment.DEFAULT_REGION
DEFAULT_MAX_RESULTS = 100
INITIAL_STATUS = "UNASSOCIATED"
# The store keeps no authentication material: only its SHA-256, under this name (not a member of the model).
MATERIAL_MEMBER = "AuthenticationMaterial"
MATERIAL_DIGEST = "AuthenticationMaterialSha256"
RESOURCE_TYPE = "managed-thing"


class ManagedThingsBackend:
    """The managed things of one account, stored in ``store``.

    Each operation takes the request as the model names its members (typed as in
    the JSON body) and returns the output members; ``list_things()`` shows every
    stored thing to tests.
    """

    def __init__(self, store: ThingStore, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self.store = store
        self.account_id = account_id

    # -- CreateManagedThing -------------------------------------------------------------------------------

    def create_managed_thing(self, request: Mapping[str, Any], *, region: str = DEFAULT_REGION) -> CreateResult:
        """Create a thing, or return the one an earlier request with the same ClientToken created."""
        members = checked("CreateManagedThing", request)
        token = members.pop(client_token_member(), None)
        digest = _digest(members)
        with self.store.transaction() as tx:
            if token is not None and (earlier := tx.by_client_token(region, token)) is not None:
                if earlier.request_digest != digest:
                    raise ConflictException(
                        "The ClientToken was already used with different parameters for managed thing "
                        f"{earlier.doc['Id']}"
                    )
                return CreateResult(earlier.doc, created=False)
            thing_id = uuid.uuid4().hex
            now = _now()
            doc = {
                **_stored(members),
                "Id": thing_id,
                "Arn": f"arn:aws:iotmanagedintegrations:{region}:{self.account_id}:{RESOURCE_TYPE}/{thing_id}",
                "CreatedAt": now,
                "UpdatedAt": now,
                "ProvisioningStatus": INITIAL_STATUS,
                "Tags": members.get("Tags", {}),
            }
            tx.insert(region, doc, token, digest)
        return CreateResult(doc, created=True)

    # -- Get / Update / Delete ----------------------------------------------------------------------------

    def get_managed_thing(self, request: Mapping[str, Any], *, region: str = DEFAULT_REGION) -> dict[str, Any]:
        members = checked("GetManagedThing", request)
        with self.store.transaction() as tx:
            return _thing(tx, region, members["Identifier"]).doc

    def update_managed_thing(self, request: Mapping[str, Any], *, region: str = DEFAULT_REGION) -> dict[str, Any]:
        """Change the given members only; the others keep their values."""
        members = checked("UpdateManagedThing", request)
        identifier = members.pop("Identifier")
        with self.store.transaction() as tx:
            thing = _thing(tx, region, identifier)
            doc = {**thing.doc, **_stored(members), "UpdatedAt": _now()}
            tx.replace_doc(thing, doc)
        return {}

    def delete_managed_thing(self, request: Mapping[str, Any], *, region: str = DEFAULT_REGION) -> dict[str, Any]:
        """Delete the thing at once (``Force`` is accepted and changes nothing here)."""
        members = checked("DeleteManagedThing", request)
        with self.store.transaction() as tx:
            tx.delete(_thing(tx, region, members["Identifier"]))
        return {}

    # -- ListManagedThings --------------------------------------------------------------------------------

    def list_managed_things(self, request: Mapping[str, Any], *, region: str = DEFAULT_REGION) -> dict[str, Any]:
        """One page of the things that match every filter given, in creation order."""
        members = checked("ListManagedThings", request)
        equals = {member: members[name] for name, member in list_filters().items() if name in members}
        scope = _digest({"region": region, "filters": equals})
        after = 0 if "NextToken" not in members else _decode_next_token(members["NextToken"], scope)
        limit = members.get("MaxResults", DEFAULT_MAX_RESULTS)
        with self.store.transaction() as tx:
            found = tx.page(region, equals, after, limit + 1)
        page: dict[str, Any] = {"Items": [thing.doc for thing in found[:limit]]}
        if len(found) > limit:
            page["NextToken"] = _encode_next_token(found[limit - 1].seq, scope)
        return page

    # -- Tags ---------------------------------------------------------------------------------------------

    def tag_resource(self, request: Mapping[str, Any], *, region: str = DEFAULT_REGION) -> dict[str, Any]:
        members = checked("TagResource", request)
        with self.store.transaction() as tx:
            thing = _tagged(tx, members["ResourceArn"])
            tags = {**thing.doc.get("Tags", {}), **members["Tags"]}
            _check_members("TagResource", {"ResourceArn": members["ResourceArn"], "Tags": tags})
            tx.replace_doc(thing, {**thing.doc, "Tags": tags})
        return {}

    def untag_resource(self, request: Mapping[str, Any], *, region: str = DEFAULT_REGION) -> dict[str, Any]:
        members = checked("UntagResource", request)
        with self.store.transaction() as tx:
            thing = _tagged(tx, members["ResourceArn"])
            removed = set(members["TagKeys"])
            tags = {key: value for key, value in thing.doc.get("Tags", {}).items() if key not in removed}
            tx.replace_doc(thing, {**thing.doc, "Tags": tags})
        return {}

    def list_tags_for_resource(self, request: Mapping[str, Any], *, region: str = DEFAULT_REGION) -> dict[str, Any]:
        members = checked("ListTagsForResource", request)
        with self.store.transaction() as tx:
            return {"tags": _tagged(tx, members["ResourceArn"]).doc.get("Tags", {})}

    # -- for tests ----------------------------------------------------------------------------------------

    def list_things(self) -> list[dict[str, Any]]:
        """Every stored thing of every region, in creation order: Id, Arn, Tags, timestamps and members."""
        with self.store.transaction() as tx:
            return [thing.doc for thing in tx.page(None, {}, 0, -1)]


@dataclass(frozen=True)
class CreateResult:
    """CreateManagedThing's answer: the thing, and whether this request created it (or replayed its token)."""

    thing: dict[str, Any]
    created: bool


def checked(operation_name: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """The request's members (``None`` meaning absent), or the operation's error if the model rejects them."""
    members = {name: value for name, value in request.items() if value is not None}
    _check_members(operation_name, members)
    return members


def _check_members(operation_name: str, members: Mapping[str, Any]) -> None:
    found = violations(input_shape(operation_name), members)
    if found:
        raise request_error(operation(operation_name), message(found))


@functools.cache
def client_token_member() -> str:
    """The CreateManagedThing member the model marks as its idempotency token."""
    shape = input_shape("CreateManagedThing")
    return next(name for name, member in shape.members.items() if member.metadata.get("idempotencyToken"))


def _thing(tx: Transaction, region: str, identifier: str) -> StoredThing:
    thing = tx.by_id(region, identifier)
    if thing is None:
        raise ResourceNotFoundException(
            f"Managed thing {identifier} not found", ResourceId=identifier, ResourceType=RESOURCE_TYPE
        )
    return thing


def _tagged(tx: Transaction, arn: str) -> StoredThing:
    thing = tx.by_arn(arn)
    if thing is None:
        raise ResourceNotFoundException(f"Resource {arn} not found", ResourceId=arn)
    return thing


def _now() -> float:
    return round(time.time(), 3)


def _stored(members: Mapping[str, Any]) -> dict[str, Any]:
    """The members as the store keeps them: the authentication material only as its SHA-256 (hex), never itself.

    Idempotency needs no more: a ClientToken's replay or conflict is decided by the request's digest.
    """
    stored = dict(members)
    material = stored.pop(MATERIAL_MEMBER, None)
    if material is not None:
        stored[MATERIAL_DIGEST] = hashlib.sha256(str(material).encode()).hexdigest()
    return stored


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _encode_next_token(seq: int, scope: str) -> str:
    return base64.urlsafe_b64encode(f"{seq}:{scope[:16]}".encode()).decode()


def _decode_next_token(token: str, scope: str) -> int:
    try:
        seq, token_scope = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if token_scope == scope[:16]:
            return int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise request_error(operation("ListManagedThings"), "The NextToken is invalid or belongs to other filters")


def _check_model() -> None:
    status = service_model().shape_for("ProvisioningStatus")
    assert INITIAL_STATUS in status.enum, f"{INITIAL_STATUS} is not a ProvisioningStatus of the model"
    assert MATERIAL_MEMBER in input_shape("CreateManagedThing").members, f"CreateManagedThing has no {MATERIAL_MEMBER}"


_check_model()
