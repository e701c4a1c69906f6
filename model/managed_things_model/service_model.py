"""The Managed Integrations service model: the single source of types and constraints.

In the Lambda asset the model is bundled next to this module (``botocore_data/``),
so every request member is known whatever botocore the runtime ships. Elsewhere
the installed botocore's model is used.
"""

from __future__ import annotations

import functools
from pathlib import Path

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

SERVICE_NAME = "iot-managed-integrations"
BUNDLED_DATA_DIR = Path(__file__).parent / "botocore_data"


def botocore_session() -> botocore.session.Session:
    """A botocore session that prefers the bundled service model when there is one."""
    session = botocore.session.get_session()
    if BUNDLED_DATA_DIR.is_dir():
        session.set_config_variable("data_path", str(BUNDLED_DATA_DIR))
    return session


@functools.cache
def service_model() -> ServiceModel:
    return botocore_session().get_service_model(SERVICE_NAME)


def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def input_shape(operation_name: str) -> StructureShape:
    shape = operation(operation_name).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def is_sensitive(shape: Shape) -> bool:
    return bool(shape.metadata.get("sensitive"))


@functools.cache
def create_members() -> tuple[str, ...]:
    """Members of CreateManagedThing a template may set (the ClientToken is derived, not set)."""
    shape = input_shape("CreateManagedThing")
    return tuple(name for name, member in shape.members.items() if not member.metadata.get("idempotencyToken"))


@functools.cache
def replacement_members() -> frozenset[str]:
    """Create members that UpdateManagedThing cannot change: changing one replaces the thing."""
    updatable = set(input_shape("UpdateManagedThing").members)
    return frozenset(name for name in create_members() if name not in updatable and name != "Tags")


@functools.cache
def sensitive_members() -> frozenset[str]:
    shape = input_shape("CreateManagedThing")
    return frozenset(name for name, member in shape.members.items() if is_sensitive(member))


@functools.cache
def list_filters() -> dict[str, str]:
    """ListManagedThings' filter members and the summary member each compares (``RoleFilter`` -> ``Role``).

    The names come from the model; a filter whose member cannot be found fails
    here, at first use, rather than silently matching nothing.
    """
    summary = operation("ListManagedThings").output_shape.members["Items"].member  # type: ignore[union-attr]
    assert isinstance(summary, StructureShape)
    filters = {}
    for name in input_shape("ListManagedThings").members:
        if not name.endswith("Filter"):
            continue
        base = name.removesuffix("Filter")
        candidates = (base, base.replace("Identifier", "Id"), f"{base}Id")
        member = next((c for c in candidates if c in summary.members), None)
        if member is None:
            raise LookupError(f"ListManagedThings.{name}: no member of {summary.name} to compare")
        filters[name] = member
    return filters
