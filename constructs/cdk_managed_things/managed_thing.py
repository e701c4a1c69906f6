"""The ManagedThing construct: one AWS IoT Managed Integrations managed thing."""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import Annotations, CfnResource, ITaggable, RemovalPolicy, Stack, TagManager, TagType, Token
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct, IValidation
from managed_things_model.cfn_encoding import encode_for_template
from managed_things_model.contract import MATERIAL_MEMBER, RESOURCE_TYPE, SECRET_ARN_PROPERTY
from managed_things_model.service_model import input_shape
from managed_things_model.validation import Problem

from ._documents import document_for_template
from ._errors import ConfigurationError
from ._provider import SERVICE_TIMEOUT_SECONDS, ManagedThingProvider
from ._quotas import SERVICE_TOKEN_STANDIN, StackQuotas
from ._region import check_region
from ._request import tag_problems, thing_problems, to_request_value
from .request_types import (
    AuthenticationMaterialType,
    CapabilityReport,
    CapabilitySchemaItem,
    Role,
    WiFiSimpleSetupConfiguration,
)

# Construct argument -> CreateManagedThing member. ClientToken is not here: the
# provider derives one per CloudFormation request, which is what makes a
# re-delivered event idempotent.
ARGUMENT_MEMBERS: dict[str, str] = {
    "role": "Role",
    "owner": "Owner",
    "credential_locker_id": "CredentialLockerId",
    "authentication_material": MATERIAL_MEMBER,
    "authentication_material_type": "AuthenticationMaterialType",
    "wifi_simple_setup_configuration": "WiFiSimpleSetupConfiguration",
    "serial_number": "SerialNumber",
    "brand": "Brand",
    "model": "Model",
    "name": "Name",
    "capability_report": "CapabilityReport",
    "capability_schemas": "CapabilitySchemas",
    "capabilities": "Capabilities",
    "classification": "Classification",
    "tags": "Tags",
    "meta_data": "MetaData",
}
_MEMBER_ARGUMENTS = {member: argument for argument, member in ARGUMENT_MEMBERS.items()}


@jsii.implements(ITaggable)
class ManagedThing(Construct):
    """A managed thing of AWS IoT Managed Integrations, as a CloudFormation custom resource.

    Covers every member of ``CreateManagedThing``. Values are checked against the
    service model at synth time (tokens are checked by the provider at deploy time).
    ``Tags.of(...)`` reaches the thing's tags. Changing ``role``,
    ``authentication_material(_secret)`` or ``authentication_material_type`` replaces
    the thing (UpdateManagedThing cannot change them); everything else, tags included,
    is updated in place. Removing a value the API cannot clear (e.g. ``brand``) keeps
    the thing and leaves that value on it.

    Parameters
    ----------
    role
        ``Role.CONTROLLER`` (a hub) or ``Role.DEVICE``, or the API string.
    authentication_material_type
        How ``authentication_material`` is encoded.
    authentication_material
        The device's setup code, in plain text: it is visible in the template, so
        prefer ``authentication_material_secret``. Exactly one of the two is required.
    authentication_material_secret
        A Secrets Manager secret whose value is the authentication material. The
        provider reads it at deploy time and may read that secret only; the
        material never appears in the template, the event or a log. A new value in
        the same secret is not applied by an in-place update (which never reads the
        secret); only a Create or a replacement reads it, e.g. pointing at another secret.
    owner, credential_locker_id, serial_number, brand, model, name, capabilities, classification
        Strings, as in the API. Default: - not set.
    wifi_simple_setup_configuration
        A :class:`WiFiSimpleSetupConfiguration` or its boto3 dict. Default: - not set.
    capability_report
        A :class:`CapabilityReport` or its boto3 dict. Default: - not set.
    capability_schemas
        :class:`CapabilitySchemaItem` values or boto3 dicts; each ``Schema`` document
        reaches the API exactly as given, deploy-time values (tokens) in its strings
        included, escaped for JSON at deploy time. Default: - none.
    tags
        Tags of the thing; ``Tags.of(...)`` adds to them. Default: - no tags.
    meta_data
        Attributes for grouping over-the-air tasks. Default: - none.
    removal_policy
        ``RemovalPolicy.RETAIN`` keeps the thing when it leaves the stack.
        Default: ``RemovalPolicy.DESTROY``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role: Role | str,
        authentication_material_type: AuthenticationMaterialType | str,
        authentication_material: str | None = None,
        authentication_material_secret: secretsmanager.ISecret | None = None,
        owner: str | None = None,
        credential_locker_id: str | None = None,
        wifi_simple_setup_configuration: WiFiSimpleSetupConfiguration | Mapping[str, Any] | None = None,
        serial_number: str | None = None,
        brand: str | None = None,
        model: str | None = None,
        name: str | None = None,
        capability_report: CapabilityReport | Mapping[str, Any] | None = None,
        capability_schemas: Sequence[CapabilitySchemaItem | Mapping[str, Any]] | None = None,
        capabilities: str | None = None,
        classification: str | None = None,
        tags: Mapping[str, str] | None = None,
        meta_data: Mapping[str, str] | None = None,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        arguments = {
            "role": role,
            "owner": owner,
            "credential_locker_id": credential_locker_id,
            "authentication_material": authentication_material,
            "authentication_material_type": authentication_material_type,
            "wifi_simple_setup_configuration": wifi_simple_setup_configuration,
            "serial_number": serial_number,
            "brand": brand,
            "model": model,
            "name": name,
            "capability_report": capability_report,
            "capability_schemas": capability_schemas,
            "capabilities": capabilities,
            "classification": classification,
            "meta_data": meta_data,
        }
        shape = input_shape("CreateManagedThing")
        request = {
            ARGUMENT_MEMBERS[argument]: to_request_value(shape.members[ARGUMENT_MEMBERS[argument]], value)
            for argument, value in arguments.items()
            if value is not None
        }
        problems = self._problems(request, dict(tags or {}), authentication_material_secret)
        if problems:
            raise ConfigurationError("Invalid ManagedThing:\n" + "\n".join(problems))
        if authentication_material is not None:
            Annotations.of(self).add_warning_v2(
                "cdk-managed-things:plaintextAuthenticationMaterial",
                "authentication_material is stored in plain text in the template; "
                "use authentication_material_secret to keep it out of templates and events.",
            )

        self._tags = TagManager(TagType.MAP, RESOURCE_TYPE, dict(tags or {}), tag_property_name="Tags")
        provider = ManagedThingProvider.of(scope)
        provider.serve_with_service_timeout(int(SERVICE_TIMEOUT_SECONDS))
        _TagValidation.of(provider).things.append(self)
        properties = encode_for_template(shape, request, document_for_template)
        properties["Tags"] = self._tags.rendered_tags
        if authentication_material_secret is not None:
            authentication_material_secret.grant_read(provider.role)
            properties[SECRET_ARN_PROPERTY] = authentication_material_secret.secret_arn

        # The L1 custom resource itself (what CustomResource would wrap): one jsii
        # object less per thing, which a fleet of thousands notices at synth.
        self._resource = CfnResource(
            self,
            "Resource",
            type=RESOURCE_TYPE,
            properties={
                "ServiceToken": provider.service_token,
                "ServiceTimeout": SERVICE_TIMEOUT_SECONDS,
                **properties,
            },
        )
        if removal_policy is not None:
            self._resource.apply_removal_policy(removal_policy)
        # The provider's permissions must outlive every thing: Delete runs with them.
        # (The policy refers to the role, so the role outlives the policy in turn.)
        self._resource.node.add_dependency(provider.policy_resource)
        stack = Stack.of(self)
        check_region(stack)
        written = {key: value for key, value in properties.items() if key != "Tags"}
        StackQuotas.of(stack).add_thing(
            self._resource,
            lambda: {**SERVICE_TOKEN_STANDIN, **written, "Tags": self._tags.render_tags() or {}},
        )

    @property
    def tags(self) -> TagManager:
        """The thing's tags; ``Tags.of(scope).add(...)`` and the ``tags`` argument land here."""
        return self._tags

    @property
    def managed_thing_id(self) -> str:
        """The thing's Id (a token), also its PhysicalResourceId."""
        return Token.as_string(self._resource.get_att("Id"))

    @property
    def managed_thing_arn(self) -> str:
        """The thing's ARN (a token)."""
        return Token.as_string(self._resource.get_att("Arn"))

    @property
    def created_at(self) -> str:
        """When the thing was created, ISO 8601 (a token)."""
        return Token.as_string(self._resource.get_att("CreatedAt"))

    def _problems(
        self, request: dict[str, Any], tags: dict[str, str], secret: secretsmanager.ISecret | None
    ) -> list[str]:
        found = thing_problems(
            request, tags, secret_given=secret is not None, secret_label="authentication_material_secret"
        )
        return [f"{self.node.path}: {_argument_path(p.path)} {_message(p)}" for p in found]


@jsii.implements(IValidation)
class _TagValidation:
    """Checks every thing's tags as rendered at synth time, once ``Tags.of(...)`` has applied.

    One validation per stack, not per thing: each is a call from jsii back into Python.
    """

    _by_provider: weakref.WeakKeyDictionary[ManagedThingProvider, _TagValidation] = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self.things: list[ManagedThing] = []

    @classmethod
    def of(cls, provider: ManagedThingProvider) -> _TagValidation:
        validation = cls._by_provider.get(provider)
        if validation is None:
            validation = cls._by_provider[provider] = cls()
            provider.node.add_validation(validation)
        return validation

    def validate(self) -> list[str]:
        errors = []
        for thing in self.things:
            for problem in tag_problems(thing.tags.render_tags() or {}):
                errors.append(f"{thing.node.path}: {_argument_path(problem.path)} {_message(problem)}")
        return errors


def _message(problem: Problem) -> str:
    """The problem without its path: what is wrong, and the value when it is not sensitive."""
    return problem.describe()[len(problem.path) + 1 :]


def _argument_path(path: str) -> str:
    """Name the top-level member by its construct argument: ``wifi_simple_setup_configuration.TimeoutInMinutes``."""
    cut = min([i for i in (path.find("."), path.find("[")) if i >= 0], default=len(path))
    head, rest = path[:cut], path[cut:]
    return _MEMBER_ARGUMENTS.get(head, head) + rest


__all__ = ["ManagedThing", "RESOURCE_TYPE"]
