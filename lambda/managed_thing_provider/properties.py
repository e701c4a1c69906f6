"""Turn a custom resource's ResourceProperties into a CreateManagedThing request."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from managed_things_model.cfn_encoding import from_cloudformation
from managed_things_model.contract import (
    CLOUDFORMATION_PROPERTIES,
    MATERIAL_MEMBER,
    SECRET_ARN_PROPERTY,
    SECRET_NAME_PATTERN,
)
from managed_things_model.service_model import create_members, input_shape
from managed_things_model.tags import reserved_tag_problems
from managed_things_model.validation import Problem, validate

from .errors import ProviderError, join_problems

# A fleet names its things' secrets (Secrets Manager's SecretId takes a name or an ARN).
_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)


@dataclass(frozen=True)
class DesiredThing:
    """The managed thing a template declares: API request members and where the material comes from."""

    request: dict[str, Any]
    secret_arn: str | None = None
    problems: list[Problem] = field(default_factory=list, compare=False)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.request.get("Tags") or {})

    def material_source(self) -> Any:
        """What identifies the authentication material: the secret, or the value itself."""
        return ("secret", self.secret_arn) if self.secret_arn else ("value", self.request.get(MATERIAL_MEMBER))

    def raise_if_invalid(self) -> None:
        if self.problems:
            raise ProviderError(join_problems([p.describe(echo_values=False) for p in self.problems]))

    def string_values(self) -> Iterator[str]:
        """Every string in the request, so service messages can be scrubbed of them."""
        yield from _strings(self.request)
        yield from self.tags  # tag keys are sensitive too


def parse_properties(properties: Mapping[str, Any] | None) -> DesiredThing:
    """Convert CloudFormation's stringified properties to typed request members and validate them."""
    members = {k: v for k, v in (properties or {}).items() if k not in CLOUDFORMATION_PROPERTIES}
    secret_arn = members.pop(SECRET_ARN_PROPERTY, None)
    shape = input_shape("CreateManagedThing")
    unknown = [name for name in members if name not in create_members()]
    request = {
        name: from_cloudformation(shape.members[name], value) for name, value in members.items() if name not in unknown
    }

    problems = [Problem(name, "is not a property of a managed thing") for name in unknown]
    problems += validate(shape, request)
    if isinstance(request.get("Tags"), Mapping):
        problems += reserved_tag_problems(request["Tags"])
    if secret_arn is not None:
        if MATERIAL_MEMBER in request:
            problems.append(Problem(MATERIAL_MEMBER, f"and {SECRET_ARN_PROPERTY} are mutually exclusive"))
        else:
            problems = [p for p in problems if p.path != MATERIAL_MEMBER]
        if not isinstance(secret_arn, str) or not (secret_arn.startswith("arn:") or _SECRET_NAME.fullmatch(secret_arn)):
            problems.append(Problem(SECRET_ARN_PROPERTY, "must be the ARN or the name of a Secrets Manager secret"))
    return DesiredThing(request=request, secret_arn=secret_arn, problems=problems)


def validate_material(material: Any) -> None:
    """Check a material read from a secret, before any API call (never echoing it)."""
    shape = input_shape("CreateManagedThing").members[MATERIAL_MEMBER]
    problems = validate(shape, material, f"{MATERIAL_MEMBER} (from {SECRET_ARN_PROPERTY})")
    if problems:
        raise ProviderError(join_problems([p.describe(echo_values=False) for p in problems]))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
