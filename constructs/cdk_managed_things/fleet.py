"""The ManagedThingFleet construct: a device inventory as managed things, in independent shard stacks."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    Annotations,
    AspectPriority,
    Aspects,
    CfnOutput,
    CfnResource,
    Duration,
    Environment,
    IAspect,
    ITaggable,
    RemovalPolicy,
    Stack,
    Stage,
    TagManager,
    TagType,
    Token,
    Validations,
)
from botocore.model import StructureShape

from constructs import Construct, IConstruct, IValidation
from managed_things_model.cfn_encoding import encode_for_template
from managed_things_model.cloudformation_quotas import RESOURCES_PER_TEMPLATE
from managed_things_model.contract import (
    MATERIAL_MEMBER,
    RESOURCE_TYPE,
    SECRET_ARN_PROPERTY,
    SECRET_NAME_MEMBER,
    THINGS_MANIFEST_SUFFIX,
)
from managed_things_model.service_model import input_shape, sensitive_members

from ._documents import document_for_template
from ._errors import ConfigurationError
from ._inventory import InventoryRow, load_inventory
from ._placement import (
    FROZEN_CONTEXT_KEY,
    Capacity,
    PlacementFile,
    changes,
    default_placement_path,
    place,
    shard_name,
)
from ._provider import PROVIDER_RESOURCES, SERVICE_TIMEOUT_SECONDS, ManagedThingProvider
from ._quotas import (
    QUOTA_ERROR,
    SERVICE_TOKEN_STANDIN,
    TEMPLATE_OVERHEAD_BYTES,
    quota_problems,
    resource_bytes,
    template_elements,
)
from ._region import check_region
from ._request import tag_problems
from ._sharding import KEY_CHARACTERS, shard_of, thing_label, thing_logical_id

# A shard stack holds its things, the provider's resources and, when the CDK CLI synthesizes (version
# reporting), CDK's AWS::CDK::Metadata resource.
MAX_THINGS_PER_STACK = RESOURCES_PER_TEMPLATE - PROVIDER_RESOURCES - 1
THINGS_PER_STACK = 450
# New things fill a shard up to this many template bytes, leaving room under CloudFormation's 1 MB for the
# provider, outputs, the fleet's tags and rows that grow later (a placed thing never moves).
PLACEMENT_TEMPLATE_BYTES = 800_000
# CloudFormation's limit of outputs per stack: each thing attribute used outside its shard stack is one.
MAX_OUTPUTS_PER_STACK = 200
# The provider's resources and a reference to it, as written: measured on a synthesized shard, rounded up.
_PROVIDER_BYTES = 8_000
_OUTPUT_BYTES = 400
_PLAINTEXT_WARNING = "cdk-managed-things:plaintextAuthenticationMaterial"
_CONCURRENCY_WARNING = "cdk-managed-things:reservedConcurrency"
# An account's default concurrency quota, less the 100 executions Lambda keeps unreserved.
_RESERVABLE_CONCURRENCY = 900
# After the Tags aspects (MUTATING, or DEFAULT without the aspect-priorities feature flag), before READONLY.
_TAGS_PRIORITY = AspectPriority.DEFAULT + 100
# CDK's own template rule "Resources section must exist and be non-empty", which a stack holding only fleets breaks.
_EMPTY_STACK_RULE = "CloudFormation-Validate::F0001"
_STACK_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9-]+")


@dataclass(frozen=True)
class FleetThing:
    """One thing of a fleet: its attributes as tokens, usable anywhere in the app.

    Used outside the thing's shard stack, each attribute becomes an export of that stack (CloudFormation allows
    200 outputs per stack); :meth:`ManagedThingFleet.locate` finds any thing without one.
    """

    managed_thing_id: str
    """The thing's Id (a token), also its PhysicalResourceId."""
    managed_thing_arn: str
    """The thing's ARN (a token)."""


@dataclass(frozen=True)
class ThingLocation:
    """Where a thing lives, for tools outside the app: its shard stack and its logical id in it.

    ``aws cloudformation describe-stack-resource --stack-name <stack.stack_name> --logical-resource-id
    <logical_id>`` answers the thing's Id as its PhysicalResourceId.
    """

    stack: Stack
    """The shard stack: an independent stack of the app, deployed by its own CloudFormation operation."""
    logical_id: str
    """The thing's logical id in that stack."""


@dataclass
class _Thing:
    row: InventoryRow
    logical_id: str
    properties: dict[str, Any]  # without ServiceToken and the fleet's tags
    template_bytes: int
    shard: str = ""
    resource: CfnResource | None = None


# CloudFormation's longest wait for a custom resource's answer.
MAX_SERVICE_TIMEOUT_SECONDS = 3600


def _whole_seconds(duration: Duration) -> str:
    seconds = duration.to_seconds()
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


@jsii.implements(ITaggable)
class ManagedThingFleet(Construct):
    """A fleet of managed things from an inventory: one thing per row, in independent shard stacks.

    Each row holds ``CreateManagedThing`` members as boto3 names them (``ClientToken`` excluded); a row may
    name a Secrets Manager secret (``AuthenticationMaterialSecretName``) instead of carrying
    ``AuthenticationMaterial``. Every row is checked at synth time against the service model.

    **Shard stacks.** The things live in stacks of their own (``<stack>/<fleet>/Shard001``, ...), top-level stacks
    of the app, each deployed by its own CloudFormation operation: a fleet of any size stays within
    CloudFormation's quotas (2,500 resources per operation, 500 per template, 1 MB), shards deploy side by side
    (``cdk deploy --all --concurrency 8``) and a failing row rolls back only its shard. Each shard stack has its
    own provider function.

    **A thing never moves.** Which shard holds a thing is kept in a **placement file** beside the inventory
    (``plugs.csv`` -> ``plugs.placement.json``), written at synth: commit it, like a lock file. A new thing goes
    to the first shard with room (``things_per_stack`` things, and a share of the 1 MB template) or to a new
    shard; a thing once placed stays; a shard whose things all left stays, empty, so its stack deletes them. With
    the context value ``cdk-managed-things:frozenPlacement=true`` (for CI), a placement that would change fails
    synth instead of writing the file.

    ``Tags.of(fleet)`` reaches every thing, merged with the row's own ``Tags`` (the row wins on the same key).

    Parameters
    ----------
    inventory
        A ``.csv``, ``.json`` or ``.jsonl`` file, or a sequence of mappings.
    key
        The member that names each row: present in every row, unique. It names the thing in ``thing``,
        ``locate``, logical ids and the things manifest; a sensitive member (``SerialNumber``) appears in
        logical ids only as a digest, and in output masked.
    defaults
        Members applied to every row that does not set them. Default: - none.
    things_per_stack
        The most things placed in one shard stack, at most 494 (CloudFormation's 500 resources per stack, less
        the provider's five and CDK's metadata resource). Default: 450.
    removal_policy
        Applied to every thing; ``RemovalPolicy.RETAIN`` keeps things that leave the stack. Default: - delete.
    shards
        Place things by a hash of their key into this many shard stacks instead of a placement file: every shard
        stack exists from the start, and the count can never change (a different count moves most things,
        deleting each and creating it again with a new Id). Default: - a placement file.
    provider_concurrency
        Reserved concurrency of each shard stack's provider function: how many of its things are created or
        deleted at once. Default: - none reserved (accounts with a low concurrency quota cannot reserve any).
    secret_name_prefix
        The prefix of every secret the rows name; the providers may read every secret whose name starts with it
        (one IAM statement). Required when rows name secrets. Default: - rows name no secrets.
    service_timeout
        How long CloudFormation waits for each thing's answer (``ServiceTimeout``, 1 second to 1 hour). With a
        small ``provider_concurrency``, invocations of a large deploy wait in Lambda's queue: give them time.
        Default: 5 minutes, as ``ManagedThing``.
    placement
        The placement file. Default: - beside a file inventory, named after it (``plugs.placement.json``);
        required for an inventory given as a sequence, unless ``shards`` is.
    columns
        Maps an inventory column (CSV header, JSON key) to the member it holds, e.g. ``{"Serial": "SerialNumber"}``,
        or to ``None`` to ignore it, e.g. ``{"Firmware": None}``. Several columns may map to one member; a row sets
        a member through one column only. ``defaults`` and ``key`` use member names. Default: - columns are
        member names.
    ignore_unknown_columns
        Ignore every column that is neither a member nor in ``columns``, named once in a warning
        (``cdk-managed-things:inventoryColumnsIgnored``); ``ClientToken`` is still refused. Default: False - an
        unknown column is an error.
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
        placement: str | os.PathLike[str] | None = None,
        columns: Mapping[str, str | None] | None = None,
        ignore_unknown_columns: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        things_per_stack = THINGS_PER_STACK if things_per_stack is None else things_per_stack
        timeout = SERVICE_TIMEOUT_SECONDS if service_timeout is None else _whole_seconds(service_timeout)
        placement_path = self._check_arguments(inventory, key, shards, placement, things_per_stack, timeout)
        rows = load_inventory(
            inventory,
            key=key,
            defaults=defaults,
            scope_path=self.node.path,
            secret_name_prefix=secret_name_prefix,
            columns=columns,
            ignore_unknown_columns=ignore_unknown_columns,
        )
        for warning in rows.warnings:
            Annotations.of(self).add_warning_v2(warning.warning_id, warning.message)
        stack = Stack.of(self)
        check_region(stack)
        self._key_member = key
        self._keys = tuple(row.key for row in rows)
        self._sensitive_key = key in sensitive_members()
        shape = input_shape("CreateManagedThing")
        common = {**SERVICE_TOKEN_STANDIN, "ServiceTimeout": timeout}
        self._things: dict[str, _Thing] = {}
        # In key order: new things are placed, and shards list their things, whatever the inventory's order.
        by_logical_id: dict[str, _Thing] = {}
        for row in sorted(rows, key=lambda row: row.key):
            logical_id = thing_logical_id(row.key, sensitive=self._sensitive_key)
            properties = _template_properties(shape, row.request)
            # As the CDK CLI writes it: with its construct path as metadata (the longest shard name's).
            metadata = {"aws:cdk:path": f"{self.node.path}/{shard_name(99_999)}/{logical_id}"}
            rendered = {
                "Type": RESOURCE_TYPE,
                "Properties": {**common, **properties},
                **_POLICIES,
                "Metadata": metadata,
            }
            thing = _Thing(row, logical_id, properties, resource_bytes(logical_id, rendered))
            other = by_logical_id.setdefault(logical_id, thing)
            if other is not thing:
                raise ConfigurationError(
                    f"{self.node.path}: {other.row.where} and {row.where}: two keys give the logical id {logical_id} "
                    f"(a key's first {KEY_CHARACTERS} letters and digits, and a digest): make the keys differ earlier"
                )
            self._things[row.key] = thing

        layout = self._layout(shards, placement_path, things_per_stack)
        if any(MATERIAL_MEMBER in row.request for row in rows):
            Annotations.of(self).add_warning_v2(
                _PLAINTEXT_WARNING,
                "rows carry AuthenticationMaterial in plain text, stored in the templates; name secrets "
                "instead (AuthenticationMaterialSecretName, with secret_name_prefix).",
            )
        if provider_concurrency is not None and provider_concurrency * len(layout) > _RESERVABLE_CONCURRENCY:
            Annotations.of(self).add_warning_v2(
                _CONCURRENCY_WARNING,
                f"provider_concurrency={provider_concurrency} reserves that much for each of {len(layout)} shard "
                f"stacks ({provider_concurrency * len(layout)} in all): an account's default concurrency quota is "
                "1,000, of which 100 stay unreserved. Lower it, or raise the quota first.",
            )

        self._tags = TagManager(TagType.MAP, RESOURCE_TYPE, None, tag_property_name="Tags")
        # Rows without tags of their own share the fleet's rendered tags (one lazy value, resolved by CDK
        # without calling back into Python); rows with tags get the merge from the aspect below.
        fleet_tags = self._tags.rendered_tags
        self._shards: dict[str, Stack] = {}
        for name, logical_ids in layout.items():
            shard = self._shard_stack(stack, name)
            self._shards[name] = shard
            members = [by_logical_id[lid] for lid in logical_ids]
            provider = ManagedThingProvider.of(shard)
            if provider_concurrency is not None:
                provider.reserve_concurrency(provider_concurrency, self.node.path)
            if secret_name_prefix is not None and any(SECRET_NAME_MEMBER in t.row.request for t in members):
                provider.grant_secrets_named(secret_name_prefix, self.node.path)
            provider.serve_with_service_timeout(int(timeout))
            shard_common = {"ServiceToken": provider.service_token, "ServiceTimeout": timeout}
            for thing in members:
                properties = {**shard_common, **thing.properties}
                if "Tags" not in properties:
                    properties["Tags"] = fleet_tags
                # One jsii object per thing, created directly in its stack: its construct id is its logical id
                # (CDK keeps a top-level id as it is).
                resource = CfnResource(shard, thing.logical_id, type=RESOURCE_TYPE, properties=properties)
                if removal_policy is not None:
                    resource.apply_removal_policy(removal_policy)
                thing.shard, thing.resource = name, resource

        self._referenced: dict[str, set[str]] = {}
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

    @property
    def shard_stacks(self) -> tuple[Stack, ...]:
        """The fleet's shard stacks, in shard order: select them with ``cdk deploy '<stack>/<fleet>/*'``."""
        return tuple(self._shards.values())

    def __len__(self) -> int:
        return len(self._things)

    def thing(self, key: str) -> FleetThing:
        """The thing of the row whose key is ``key``; ``KeyError`` when no row has it.

        Used in another stack (the fleet's own included), each attribute becomes an export of the shard stack
        and an import there, and that stack then depends on the shard stack.
        """
        found = self._find(key)
        self._referenced.setdefault(found.shard, set()).add(key)
        resource = found.resource
        assert resource is not None
        return FleetThing(
            managed_thing_id=Token.as_string(resource.get_att("Id")),
            managed_thing_arn=Token.as_string(resource.get_att("Arn")),
        )

    def locate(self, key: str) -> ThingLocation:
        """Where the thing of ``key`` is deployed, to find it without an output (see :class:`ThingLocation`)."""
        found = self._find(key)
        return ThingLocation(stack=self._shards[found.shard], logical_id=found.logical_id)

    @property
    def manifest_file_name(self) -> str:
        """The things manifest's file name in the cloud assembly directory, written at synth.

        JSON (version 2): the fleet's path, its stack, the key member, and for each key its shard stack
        (``stack``: artifact id, ``stackName``), its ``logicalId`` in it, and its ``label``: the key, masked when
        the key's member is sensitive, as the local engine shows it. It holds the keys, as the templates do.
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

    def _check_arguments(
        self,
        inventory: Any,
        key: str,
        shards: int | None,
        placement: str | os.PathLike[str] | None,
        things_per_stack: int,
        service_timeout: str,
    ) -> Path | None:
        """The placement file's path (None with ``shards``), once the arguments are known to be usable."""
        problems = []
        if not service_timeout.isdigit() or not 1 <= int(service_timeout) <= MAX_SERVICE_TIMEOUT_SECONDS:
            problems.append(
                f"service_timeout must be a whole number of seconds from 1 to {MAX_SERVICE_TIMEOUT_SECONDS}"
            )
        if shards is not None and (isinstance(shards, bool) or not isinstance(shards, int) or shards < 1):
            problems.append("shards must be a whole number of at least 1")
        if (
            isinstance(things_per_stack, bool)
            or not isinstance(things_per_stack, int)
            or not 1 <= things_per_stack <= MAX_THINGS_PER_STACK
        ):
            problems.append(
                f"things_per_stack must be a whole number from 1 to {MAX_THINGS_PER_STACK} "
                f"(CloudFormation's {RESOURCES_PER_TEMPLATE} resources per stack, less the provider's "
                f"{PROVIDER_RESOURCES} and CDK's metadata resource)"
            )
        if key in (MATERIAL_MEMBER, SECRET_NAME_MEMBER):
            problems.append(f"key {key} would name things by their secret material: use SerialNumber or Name")
        path: Path | None = None
        if shards is not None and placement is not None:
            problems.append("give shards (placement by hash) or placement (a placement file), not both")
        elif shards is None:
            if placement is not None:
                path = Path(placement)
            elif isinstance(inventory, (str, os.PathLike)):
                path = default_placement_path(inventory)
            else:
                problems.append(
                    "an inventory given as rows needs placement= (the file that keeps which stack holds each "
                    "thing; commit it) or shards="
                )
        if problems:
            lines = "\n".join(f"{self.node.path}: {p}" for p in problems)
            raise ConfigurationError("Invalid ManagedThingFleet:\n" + lines)
        return path

    def _layout(self, shards: int | None, path: Path | None, things_per_stack: int) -> dict[str, list[str]]:
        """Shard name -> logical ids: by hash with ``shards``, else from the placement file (updated)."""
        if shards is not None:
            by_hash: dict[str, list[str]] = {shard_name(n): [] for n in range(1, shards + 1)}
            for key, thing in self._things.items():
                by_hash[shard_name(1 + shard_of(key, shards))].append(thing.logical_id)
            return by_hash
        assert path is not None
        placement_file = PlacementFile(path, fleet_path=self.node.path, key_member=self._key_member)
        previous = placement_file.read()
        sizes = {thing.logical_id: thing.template_bytes for thing in self._things.values()}
        layout = place(previous, sizes, Capacity(things=things_per_stack, template_bytes=PLACEMENT_TEMPLATE_BYTES))
        if layout != previous:
            if _truthy(self.node.try_get_context(FROZEN_CONTEXT_KEY)):
                placed, removed = changes(previous, layout)
                raise ConfigurationError(
                    f"{self.node.path}: the placement file {path} is out of date ({placed} things to place, "
                    f"{removed} gone) and {FROZEN_CONTEXT_KEY} is set: synthesize without it, then commit the file"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            placement_file.write(layout)
        return layout.current

    def _shard_stack(self, stack: Stack, name: str) -> Stack:
        """An independent stack for shard ``name``, in the fleet's stack's environment."""
        env = Environment(
            account=None if Token.is_unresolved(stack.account) else stack.account,
            region=None if Token.is_unresolved(stack.region) else stack.region,
        )
        below = self.node.path[len(stack.node.path) + 1 :]
        stack_name = None
        if not Token.is_unresolved(stack.stack_name):
            candidate = _STACK_NAME_CHARACTERS.sub("-", f"{stack.stack_name}-{below}-{name}").strip("-")
            stack_name = candidate if len(candidate) <= 128 else None  # else CDK's own, shortened with a hash
        return Stack(
            self,
            name,
            stack_name=stack_name,
            env=env,
            termination_protection=stack.termination_protection,
            tags=stack.tags.tag_values() or None,
            description=f"cdk-managed-things: {name} of the fleet {self.node.path}",
        )

    def _write_manifest(self) -> None:
        stack = Stack.of(self)
        stacks = {name: (shard.artifact_id, shard.stack_name) for name, shard in self._shards.items()}
        manifest = {
            "version": 2,
            "fleet": self.node.path,
            "stack": stack.artifact_id,
            "stackName": stack.stack_name,
            "keyMember": self._key_member,
            "things": {
                key: {
                    "shard": thing.shard,
                    "stack": stacks[thing.shard][0],
                    "stackName": stacks[thing.shard][1],
                    "logicalId": thing.logical_id,
                    "label": thing_label(key, sensitive=self._sensitive_key),
                }
                for key, thing in ((key, self._things[key]) for key in self._keys)
            },
        }
        path = Path(Stage.of(self).outdir) / self.manifest_file_name  # type: ignore[union-attr]
        path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


# How removal policies are written, for the size estimate: present or not, a few bytes.
_POLICIES = {"UpdateReplacePolicy": "Delete", "DeletionPolicy": "Delete"}


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))


def _template_properties(shape: StructureShape, row_request: Mapping[str, Any]) -> dict[str, Any]:
    """A row's properties as ``ManagedThing`` writes them, a named secret in ``SECRET_ARN_PROPERTY``."""
    request = dict(row_request)
    secret_name = request.pop(SECRET_NAME_MEMBER, None)
    properties: dict[str, Any] = encode_for_template(shape, request, document_for_template)
    if secret_name is not None:
        properties[SECRET_ARN_PROPERTY] = secret_name
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
            assert thing.resource is not None
            thing.resource.add_property_override("Tags", merged)
            for problem in tag_problems(merged):
                self.problems.append(
                    f"{self._fleet.node.path}: {thing.row.where}: with the fleet's tags, "
                    f"{problem.describe(echo_values=False)}"
                )


@jsii.implements(IValidation)
class _FleetValidation:
    """At synth, after aspects: the fleet's tags, each shard stack's quotas, and the things manifest."""

    def __init__(self, fleet: ManagedThingFleet) -> None:
        self._fleet = fleet

    def validate(self) -> list[str]:
        fleet = self._fleet
        path = fleet.node.path
        fleet_tags = fleet.tags.render_tags() or {}
        errors = [f"{path}: {p.describe(echo_values=False)}" for p in tag_problems(fleet_tags)]
        if fleet._tag_merge is not None:
            errors += fleet._tag_merge.problems
        tags_bytes = _tags_bytes(fleet_tags)
        by_shard: dict[str, list[_Thing]] = {name: [] for name in fleet._shards}
        for thing in fleet._things.values():
            by_shard[thing.shard].append(thing)
        for name, shard in fleet._shards.items():
            things = by_shard[name]
            # the exports CDK adds for references from other stacks included (under the stack's Exports)
            outputs = sum(isinstance(element, CfnOutput) for element in template_elements(shard))
            template_bytes = (
                TEMPLATE_OVERHEAD_BYTES
                + _PROVIDER_BYTES
                + _OUTPUT_BYTES * outputs
                + sum(t.template_bytes + (tags_bytes if "Tags" not in t.properties else 0) for t in things)
            )
            problems = quota_problems(
                resources=len(things) + PROVIDER_RESOURCES + 1,
                outputs=outputs,
                parameters=1,
                template_bytes=template_bytes,
            )
            for problem in problems:
                advice = (
                    "Find things by key instead: fleet.locate(key) or the things manifest "
                    f"{fleet.manifest_file_name} (README, Fleets)."
                    if "outputs" in problem
                    else "Its things cannot move to another stack (each would get a new Id): shrink the rows "
                    "(or the fleet's tags) of this shard."
                )
                Annotations.of(shard).add_error(f"{shard.node.path}: {problem}. {advice} [{QUOTA_ERROR}]")
        stack = Stack.of(fleet)
        if not any(isinstance(element, CfnResource) for element in template_elements(stack)):
            Validations.of(stack).acknowledge(
                Acknowledgment(
                    id=_EMPTY_STACK_RULE,
                    reason=f"{path} keeps its things in shard stacks of their own: this stack holds no resource, "
                    "and the CDK CLI skips deploying a stack without resources.",
                )
            )
        fleet._write_manifest()
        return errors


def _tags_bytes(tags: Mapping[str, str]) -> int:
    """What the fleet's tags add to a thing without tags of its own, as written at a thing's depth."""
    if not tags:
        return 0
    text = json.dumps({"Tags": dict(tags)}, indent=1, ensure_ascii=False)
    return len(text.encode("utf-8")) + 4 * (len(tags) + 2)


__all__ = ["FleetThing", "ManagedThingFleet", "ThingLocation"]
