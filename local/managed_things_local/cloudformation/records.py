"""The records of what the local deploy has deployed: a stack, its resources and its outputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import Unresolvable

# 1: properties as the template had them; 2: a managed thing's sensitive ones as state vault references
# (written and read by state.py; a format 1 snapshot still loads, and is written as 2 when next saved).
FORMAT = 2


@dataclass
class ResourceState:
    logical_id: str
    type: str
    physical_id: str
    properties: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    status: str = "CREATE_COMPLETE"
    service_token: str = ""
    path: str = ""  # what output names it by: a fleet thing's label, else its construct path (resource_name)
    deletion_policy: str = "Delete"
    update_replace_policy: str = "Delete"
    # Other deployed resources of the stack this one depends on, directly or through undeployed ones.
    depends_on: list[str] = field(default_factory=list)
    endpoint: str = ""  # the Managed Integrations endpoint the resource lives on

    def resolve(self, attribute: str | None) -> Any:
        """What ``Ref`` (``attribute`` None: the physical id) or ``Fn::GetAtt`` of this deployed resource is."""
        if attribute is None:
            return self.physical_id
        if attribute not in self.data:
            answered = ", ".join(sorted(self.data)) or "none"
            expression = reference(self.logical_id, attribute)
            raise Unresolvable(f"{expression}: the provider answered no {attribute} (it answered {answered})")
        return self.data[attribute]


def reference(logical_id: str, attribute: str | None) -> str:
    """``Ref X`` or ``Fn::GetAtt X.Attribute``, as an error names what could not be resolved."""
    return f"Ref {logical_id}" if attribute is None else f"Fn::GetAtt {logical_id}.{attribute}"


@dataclass
class OutputState:
    value: Any = None
    export_name: str | None = None
    description: str | None = None
    unavailable: str | None = None  # why the value cannot be computed locally


@dataclass
class StackState:
    stack_name: str
    stack_id: str
    region: str
    account_id: str
    status: str = "CREATE_COMPLETE"
    endpoint: str = ""
    resources: dict[str, ResourceState] = field(default_factory=dict)
    outputs: dict[str, OutputState] = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)  # service token -> FunctionSpec json
    artifact_id: str = ""
    # In UPDATE_ROLLBACK_FAILED: each resource whose rollback Update failed, as the failed forward Update left it
    # (its properties are the retried rollback Update's OldResourceProperties; ``resources`` has its target).
    rollback_from: dict[str, ResourceState] = field(default_factory=dict)

    def exports(self) -> dict[str, OutputState]:
        return {o.export_name: o for o in self.outputs.values() if o.export_name}

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackState:
        data = {k: v for k, v in data.items() if k != "format"}
        data["resources"] = {k: ResourceState(**v) for k, v in (data.get("resources") or {}).items()}
        data["outputs"] = {k: OutputState(**v) for k, v in (data.get("outputs") or {}).items()}
        data["rollback_from"] = {k: ResourceState(**v) for k, v in (data.get("rollback_from") or {}).items()}
        return cls(**data)
