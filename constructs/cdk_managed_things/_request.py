"""Turn construct arguments into a CreateManagedThing request, and check it against the model."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from enum import Enum
from typing import Any

from aws_cdk import Token
from botocore.model import Shape

from managed_things_model.contract import MATERIAL_MEMBER
from managed_things_model.service_model import input_shape
from managed_things_model.tags import reserved_tag_problems
from managed_things_model.validation import Problem, validate


def to_request_value(shape: Shape, value: Any) -> Any:
    """Convert dataclasses and enums to the boto3 request shape; plain dicts pass through.

    A dataclass field maps to the shape member whose name matches it once case
    and underscores are ignored (``node_id`` -> ``nodeId``).
    """
    if value is None:
        return None
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (str, int, float)):
        return value
    if shape.metadata.get("document"):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        members = {_normalized(name): name for name in shape.members}
        converted = {}
        for item in dataclasses.fields(value):
            member = members.get(_normalized(item.name))
            if member is None:
                raise TypeError(f"{type(value).__name__}.{item.name} matches no member of {shape.name}")
            field_value = getattr(value, item.name)
            if field_value is not None:
                converted[member] = to_request_value(shape.members[member], field_value)
        return converted
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: to_request_value(shape.members[k], v) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, (list, tuple)):
        return [to_request_value(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_request_value(shape.value, v) for k, v in value.items()}
    return value


def thing_problems(
    request: Mapping[str, Any],
    tags: Mapping[str, Any] | None,
    *,
    secret_given: bool,
    secret_label: str,
    checked: Collection[str] = (),
) -> list[Problem]:
    """Every problem of one thing's CreateManagedThing request, as ``ManagedThing`` and fleets check it.

    The model's checks of ``request`` (its members without ``Tags``) and of ``tags``, and the rule
    that exactly one of ``AuthenticationMaterial`` and a secret (``secret_given``; named
    ``secret_label`` in the message) gives the material. Members named in ``checked`` count as set
    but their values are not checked again (a fleet's defaults, checked once for all its things).
    Tokens are left for deploy time.
    """
    if checked:  # set, so not missing; skipped like a token
        request = {name: _CHECKED if name in checked else value for name, value in request.items()}
    found = validate(input_shape("CreateManagedThing"), dict(request), skip=_skipped)
    has_material = MATERIAL_MEMBER in request
    if not has_material:  # its absence is checked below, with the secret; a given material's problems stay
        found = [p for p in found if p.path != MATERIAL_MEMBER]
    if has_material == secret_given:
        found.append(Problem(MATERIAL_MEMBER, f"or {secret_label} is required, and only one of them"))
    found += tag_problems(tags or {})
    return found


def tag_problems(tags: Mapping[str, Any]) -> list[Problem]:
    """The model's checks of a thing's tags; none is fine (the ``Tags`` of a template may be empty)."""
    if not tags or is_unresolved(tags):
        return []
    problems = validate(input_shape("CreateManagedThing").members["Tags"], dict(tags), "Tags", skip=is_unresolved)
    return problems + reserved_tag_problems(tags)


def is_unresolved(value: Any) -> bool:
    """Whether ``value`` is (or encodes) a CDK token, known only at deploy time.

    Cheap Python checks first: asking jsii for every value of a large fleet adds up.
    """
    if value is None or isinstance(value, (bool, dict, tuple)):
        return False
    if isinstance(value, str):
        return "{Token[" in value and Token.is_unresolved(value)
    if isinstance(value, (int, float)):
        return abs(value) > 1e280 and Token.is_unresolved(value)  # CDK encodes number tokens as huge doubles
    if isinstance(value, list):
        return any(isinstance(item, str) and "{Token[" in item for item in value) and Token.is_unresolved(value)
    if dataclasses.is_dataclass(value) or isinstance(value, Enum):
        return False
    return True  # an IResolvable or another jsii object


_CHECKED = object()  # stands in for a value checked already


def _skipped(value: Any) -> bool:
    return value is _CHECKED or is_unresolved(value)


def _normalized(name: str) -> str:
    return name.replace("_", "").lower()
