"""Turn construct arguments into a CreateManagedThing request, and check it against the model."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from aws_cdk import Token
from botocore.model import Shape


def to_request_value(shape: Shape, value: Any) -> Any:
    """Convert dataclasses and enums to the boto3 request shape; plain dicts pass through.

    A dataclass field maps to the shape member whose name matches it once case
    and underscores are ignored (``node_id`` -> ``nodeId``).
    """
    if value is None:
        return None
    if isinstance(value, Enum):
        return value.value
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


def _normalized(name: str) -> str:
    return name.replace("_", "").lower()
