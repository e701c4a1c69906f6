"""The ManagedThingFleet construct: a device inventory as managed things, sharded across nested stacks."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Annotations,
    AspectPriority,
    Aspects,
    CfnOutput,
    CfnResource,
    Duration,
    IAspect,
    ITaggable,
    NestedStack,
    RemovalPolicy,
    Stack,
    Stage,
    TagManager,
    TagType,
    Token,
)
from botocore.model import StructureShape

from constructs import Construct, IConstruct, IValidation
from managed_things_model.cfn_encoding import encode_for_template
from managed_things_model.contract import (
    MATERIAL_MEMBER,
    RESOURCE_TYPE,
    SECRET_ARN_PROPERTY,
    SECRET_NAME_MEMBER,
    THINGS_MANIFEST_SUFFIX,
)
from managed_things_model.service_model import input_shape, sensitive_members

from ._documents import document_for_template
from ._inventory import InventoryRow, load_inventory
from ._provider import SERVICE_TIMEOUT_SECONDS, ManagedThingProvider
from ._request import tag_problems
from ._sharding import MAX_THINGS_PER_STACK, SHARDS, THINGS_PER_STACK, shard_id, shard_of, thing_logical_id

# CloudFormation's limit of outputs per stack: each thing attribute used outside its nested stack is one.
MAX_OUTPUTS_PER_STACK = 200
_PLAINTEXT_WARNING = "cdk-managed-things:plaintextAuthenticationMaterial"
# After the Tags aspects (MUTATING, or DEFAULT without the aspect-priorities feature flag), before READONLY.
_TAGS_PRIORITY = AspectPriority.DEFAULT + 100


@dataclass(frozen=True)
class FleetThing:
    """One thing of a fleet: its attributes as tokens, usable anywhere in the app.

    Used outside the thing's nested stack, each attribute becomes an output of that nested stack
    (CloudFormation allows 200 per stack); :meth:`ManagedThingFleet.locate` finds any thing without one.
    """

    managed_thing_id: str
    """The thing's Id (a token), also its PhysicalResourceId."""
    managed_thing_arn: str
    """The thing's ARN (a token)."""


@dataclass(frozen=True)
class ThingLocation:
    """Where a thing lives, for tools outside the app: its shard's nested stack and its logical id in it.

    ``aws cloudformation describe-stack-resource --stack-name <the nested stack> --logical-resource-id
    <logical_id>`` answers the thing's Id as its PhysicalResourceId.
    """

    nested_stack: NestedStack
    logical_id: str


@dataclass
class _Thing:
    row: InventoryRow
    resource: CfnResource
    shard: int
    logical_id: str


# CloudFormation's longest wait for a custom resource's answer.
MAX_SERVICE_TIMEOUT_SECONDS = 3600


def _whole_seconds(duration: Duration) -> str:
    seconds = duration.to_seconds()
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


@jsii.implements(ITaggable)
class ManagedThingFleet(Construct):
    """A fleet of managed things from an inventory: one thing per row, in nested stacks of at most
    ``things_per_stack`` things.

    Each row holds ``CreateManagedThing`` members as boto3 names them (``ClientToken`` excluded); a row may
    name a Secrets Manager secret (``AuthenticationMaterialSecretName``) instead of carrying
    ``AuthenticationMaterial``. Every row is checked at synth time against the service model.

    **A thing never moves.** Its nested stack (shard) is a hash of its key modulo ``shards``, and its logical
    id derives from the key: adding a row adds one resource, removing one removes one, reordering changes
    nothing. **Changing ``shards`` on a deployed fleet moves most things** to another nested stack, which
    deletes each and creates it again with a new Id (a new identity for a real device): choose ``shards``
    once, when the fleet is new.

    ``Tags.of(fleet)`` reaches every thing, merged with the row's own ``Tags`` (the row wins on the same key).
    One provider function, in the fleet's stack, serves every thing.

    Parameters
    ----------
    inventory
        A ``.csv``, ``.json`` or ``.jsonl`` file, or a sequence of mappings.
    key
        The member that names each row: present in every row, unique. It names the thing in ``thing``,
        ``locate``, logical ids and the things manifest; a sensitive member (``SerialNumber``) appears in
        logical ids only as a digest.
    defaults
        Members applied to every row that does not set them. Default: - none.
    things_per_stack
        The most things a shard may hold, at most 499 (CloudFormation's 500 resources per stack, less CDK's
        metadata resource). A shard over it fails synth. Default: 450.
    removal_policy
        Applied to every thing; ``RemovalPolicy.RETAIN`` keeps things that leave the stack. Default: - delete.
    shards
        How many shards keys hash into; only non-empty ones become nested stacks. Fixed for the life of the
        fleet (see above). Default: 32 (about 12,000 things under the default ``things_per_stack``).
    provider_concurrency
        Reserved concurrency of the stack's provider function: how many things are created or deleted at once.
        Default: - none reserved (accounts with a low concurrency quota cannot reserve any).
    secret_name_prefix
        The prefix of every secret the rows name; the provider may read every secret whose name starts with it
        (one IAM statement for the fleet). Required when rows name secrets. Default: - rows name no secrets.
    service_timeout
        How long CloudFormation waits for each thing's answer (``ServiceTimeout``, 1 second to 1 hour). With a
        small ``provider_concurrency``, invocations of a large deploy wait in Lambda's queue: give them time.
        Default: 5 minutes, as ``ManagedThing``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        inventory: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
        key: str,
        defaults: Mapping[str, Any] | None = None,
        things_per_stack: int | None = None,
        removal_policy: RemovalPolicy | None = None,
        shards: int | None = None,
        provider_concurrency: int | None = None,
        secret_name_prefix: str | None = None,
        service_timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        shards = SHARDS if shards is None else shards
        things_per_stack = THINGS_PER_STACK if things_per_stack is None else things_per_stack
        timeout = SERVICE_TIMEOUT_SECONDS if service_timeout is None else _whole_seconds(service_timeout)
        self._check_arguments(shards, things_per_stack, timeout)
        rows = load_inventory(
            inventory, key=key, defaults=defaults, scope_path=self.node.path, secret_name_prefix=secret_name_prefix
        )
        self._key_member = key
        self._keys = tuple(row.key for row in rows)
        self._sensitive_key = key in sensitive_members()
        by_shard: dict[int, list[InventoryRow]] = {}
        for row in rows:
            by_shard.setdefault(shard_of(row.key, shards), []).append(row)
        self._check_shards(by_shard, things_per_stack, len(rows))

        provider = ManagedThingProvider.of(self)
        if provider_concurrency is not None:
            provider.reserve_concurrency(provider_concurrency, self.node.path)
        provider.read_nested_stack_status(self.node.path)
        self._grant_secrets(provider, rows, secret_name_prefix)
        if any(MATERIAL_MEMBER in row.request for row in rows):
            Annotations.of(self).add_warning_v2(
                _PLAINTEXT_WARNING,
                "rows carry AuthenticationMaterial in plain text, stored in the templates; name secrets "
                "instead (AuthenticationMaterialSecretName, with secret_name_prefix).",
            )

        self._tags = TagManager(TagType.MAP, RESOURCE_TYPE, None, tag_property_name="Tags")
        # Rows without tags of their own share the fleet's rendered tags (one lazy value, resolved by CDK
        # without calling back into Python); rows with tags get the merge from the aspect below.
        fleet_tags = self._tags.rendered_tags
        shape = input_shape("CreateManagedThing")
        common = {"ServiceToken": provider.service_token, "ServiceTimeout": timeout}
        self._things: dict[str, _Thing] = {}
        self._shards: dict[int, NestedStack] = {}
        for shard in sorted(by_shard):
            # In key order: the templates are then the same bytes whatever the inventory's order.
            by_shard[shard].sort(key=lambda row: row.key)
            nested = NestedStack(self, shard_id(shard))
            self._shards[shard] = nested
            # Things' Deletes run with the provider's permissions: the policy outlives the nested stack.
            nested.nested_stack_resource.node.add_dependency(provider.policy_resource)  # type: ignore[union-attr]
            for row in by_shard[shard]:
                # One jsii object per thing, created directly in its nested stack: its construct id is its
                # logical id (CDK keeps a top-level id as it is).
                logical_id = thing_logical_id(row.key, sensitive=self._sensitive_key)
                properties = {**common, **_template_properties(shape, row.request, fleet_tags)}
                resource = CfnResource(nested, logical_id, type=RESOURCE_TYPE, properties=properties)
                if removal_policy is not None:
                    resource.apply_removal_policy(removal_policy)
                self._things[row.key] = _Thing(row, resource, shard, logical_id)

        self._referenced: dict[int, set[str]] = {}
        self._tag_merge: _TagMerge | None = None
        tagged_rows = [thing for thing in self._things.values() if "Tags" in thing.row.request]
        if tagged_rows:
            self._tag_merge = _TagMerge(self, tagged_rows)
            Aspects.of(Construct(self, "TagMerge")).add(self._tag_merge, priority=_TAGS_PRIORITY)
        self.node.add_validation(_FleetValidation(self))

    @property
    def tags(self) -> TagManager:
        """The fleet's tags: ``Tags.of(fleet).add(...)`` lands here, and every thing carries them."""
        return self._tags

    @property
    def keys(self) -> tuple[str, ...]:
        """Every row's key, in inventory order."""
        return self._keys

    def __len__(self) -> int:
        return len(self._things)

    def thing(self, key: str) -> FleetThing:
        """The thing of the row whose key is ``key``; ``KeyError`` when no row has it."""
        found = self._find(key)
        self._referenced.setdefault(found.shard, set()).add(key)
        return FleetThing(
            managed_thing_id=Token.as_string(found.resource.get_att("Id")),
            managed_thing_arn=Token.as_string(found.resource.get_att("Arn")),
        )

    def locate(self, key: str) -> ThingLocation:
        """Where the thing of ``key`` is deployed, to find it without an output (see :class:`ThingLocation`)."""
        found = self._find(key)
        return ThingLocation(nested_stack=self._shards[found.shard], logical_id=found.logical_id)

    @property
    def manifest_file_name(self) -> str:
        """The things manifest's file name in the cloud assembly directory, written at synth.

        JSON: the stack, the fleet's path and key member, and for each key its shard, the shard's nested stack
        logical id in the fleet's stack and the thing's logical id. It holds the keys, as the templates do.
        """
        stack = Stack.of(self)
        relative = self.node.path[len(stack.node.path) + 1 :].replace("/", ".")
        return f"{stack.artifact_id}.{relative}{THINGS_MANIFEST_SUFFIX}"

    def _find(self, key: str) -> _Thing:
        found = self._things.get(key) if isinstance(key, str) else None
        if found is None:
            shown = "that value (not shown: the member is sensitive)" if self._sensitive_key else repr(key)
            raise KeyError(f"{self.node.path}: no row of the inventory has {self._key_member} {shown}")
        return found

    def _check_arguments(self, shards: int, things_per_stack: int, service_timeout: str) -> None:
        problems = []
        if not service_timeout.isdigit() or not 1 <= int(service_timeout) <= MAX_SERVICE_TIMEOUT_SECONDS:
            problems.append(
                f"service_timeout must be a whole number of seconds from 1 to {MAX_SERVICE_TIMEOUT_SECONDS}"
            )
        if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
            problems.append("shards must be a whole number of at least 1")
        if (
            isinstance(things_per_stack, bool)
            or not isinstance(things_per_stack, int)
            or not 1 <= things_per_stack <= MAX_THINGS_PER_STACK
        ):
            problems.append(
                f"things_per_stack must be a whole number from 1 to {MAX_THINGS_PER_STACK} "
                "(CloudFormation's 500 resources per stack, less CDK's metadata resource)"
            )
        if problems:
            raise ValueError("Invalid ManagedThingFleet:\n" + "\n".join(f"{self.node.path}: {p}" for p in problems))

    def _check_shards(self, by_shard: dict[int, list[InventoryRow]], things_per_stack: int, total: int) -> None:
        over = {shard: len(rows) for shard, rows in sorted(by_shard.items()) if len(rows) > things_per_stack}
        if not over:
            return
        lines = [
            f"{self.node.path}/{shard_id(shard)}: {count} things, more than things_per_stack={things_per_stack}"
            for shard, count in over.items()
        ]
        advice = (
            f"The fleet's {total} things hash into shards by key, so a shard's share varies. Raise "
            f"things_per_stack (at most {MAX_THINGS_PER_STACK}); or, for a NEW fleet only, use more shards "
            "(on a deployed fleet, changing shards moves things: each moved thing is deleted and created again "
            "with a new Id); or put new devices in a second fleet."
        )
        raise ValueError("ManagedThingFleet shards overflow:\n" + "\n".join(lines) + "\n" + advice)

    def _grant_secrets(
        self, provider: ManagedThingProvider, rows: list[InventoryRow], secret_name_prefix: str | None
    ) -> None:
        # load_inventory has checked that every name starts with secret_name_prefix, which is then set.
        if secret_name_prefix is not None and any(SECRET_NAME_MEMBER in row.request for row in rows):
            provider.grant_secrets_named(secret_name_prefix, self.node.path)

    def _write_manifest(self) -> None:
        stack = Stack.of(self)
        nested_ids = {
            shard: stack.resolve(stack.get_logical_id(nested.nested_stack_resource))  # type: ignore[arg-type]
            for shard, nested in self._shards.items()
        }
        manifest = {
            "version": 1,
            "stack": stack.artifact_id,
            "stackName": stack.stack_name,
            "fleet": self.node.path,
            "keyMember": self._key_member,
            "things": {
                key: {
                    "shard": shard_id(thing.shard),
                    "nestedStackLogicalId": nested_ids[thing.shard],
                    "logicalId": thing.logical_id,
                }
                for key, thing in ((key, self._things[key]) for key in self._keys)
            },
        }
        path = Path(Stage.of(self).outdir) / self.manifest_file_name  # type: ignore[union-attr]
        path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def _template_properties(shape: StructureShape, row_request: Mapping[str, Any], fleet_tags: Any) -> dict[str, Any]:
    """A row's properties as ``ManagedThing`` writes them; a named secret in ``SECRET_ARN_PROPERTY``, and the
    fleet's tags (a lazy value) where the row has none."""
    request = dict(row_request)
    secret_name = request.pop(SECRET_NAME_MEMBER, None)
    properties: dict[str, Any] = encode_for_template(shape, request, document_for_template)
    if secret_name is not None:
        properties[SECRET_ARN_PROPERTY] = secret_name
    if "Tags" not in properties:
        properties["Tags"] = fleet_tags
    return properties


@jsii.implements(IAspect)
class _TagMerge:
    """Gives rows with tags of their own the fleet's tags too, once ``Tags.of(...)`` has applied.

    Registered on one leaf construct of the fleet, so it runs once, after the fleet itself was visited
    by every Tags aspect (a parent is visited before its children).
    """

    def __init__(self, fleet: ManagedThingFleet, things: list[_Thing]) -> None:
        self._fleet = fleet
        self._things = things
        self.problems: list[str] = []

    def visit(self, node: IConstruct) -> None:
        self.problems = []  # each synth visits again
        fleet_tags = self._fleet.tags.render_tags() or {}
        if not fleet_tags:
            return
        for thing in self._things:
            merged = {**fleet_tags, **thing.row.request["Tags"]}
            thing.resource.add_property_override("Tags", merged)
            for problem in tag_problems(merged):
                self.problems.append(
                    f"{self._fleet.node.path}: {thing.row.where}: with the fleet's tags, "
                    f"{problem.describe(echo_values=False)}"
                )


@jsii.implements(IValidation)
class _FleetValidation:
    """At synth, after aspects: the fleet's tags, the outputs of each shard, and the things manifest."""

    def __init__(self, fleet: ManagedThingFleet) -> None:
        self._fleet = fleet

    def validate(self) -> list[str]:
        fleet = self._fleet
        path = fleet.node.path
        errors = [f"{path}: {p.describe(echo_values=False)}" for p in tag_problems(fleet.tags.render_tags() or {})]
        if fleet._tag_merge is not None:
            errors += fleet._tag_merge.problems
        for shard, keys in fleet._referenced.items():
            if 2 * len(keys) <= MAX_OUTPUTS_PER_STACK:  # at most Id and Arn per thing handed out
                continue
            nested = fleet._shards[shard]
            outputs = sum(isinstance(child, CfnOutput) for child in nested.node.children)
            if outputs > MAX_OUTPUTS_PER_STACK:
                errors.append(
                    f"{nested.node.path}: {outputs} outputs, more than CloudFormation's {MAX_OUTPUTS_PER_STACK} per "
                    "stack: each thing attribute used outside the fleet is one. Find things by key instead: "
                    f"fleet.locate(key) or the things manifest {fleet.manifest_file_name} (README, Fleets)."
                )
        fleet._write_manifest()
        return errors


__all__ = ["FleetThing", "ManagedThingFleet", "ThingLocation"]
