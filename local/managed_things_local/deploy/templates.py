"""What a stack template says before anything is deployed: static values, exports, imports and resource labels."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..environment import resolve_account, resolve_region
from .assembly import StackArtifact
from .errors import Unresolvable
from .intrinsics import Pseudo, Resolver, import_arguments

MANAGED_THING = "Custom::ManagedThing"
LAMBDA_FUNCTION = "AWS::Lambda::Function"


def no_resources(stack: StackArtifact) -> Callable[[str, str | None], Any]:
    def lookup(logical_id: str, attribute: str | None) -> Any:
        kind = (stack.template.get("Resources", {}).get(logical_id) or {}).get("Type")
        expression = f"Ref {logical_id}" if attribute is None else f"Fn::GetAtt {logical_id}.{attribute}"
        raise Unresolvable(f"{expression} refers to {logical_id} ({kind}), which has no value here")

    return lookup


def stack_pseudo(stack: StackArtifact, stack_id: str = "") -> Pseudo:
    """The stack's pseudo parameters: its own environment, else the configured region and the default account."""
    return Pseudo(resolve_region(stack.region), resolve_account(stack.account), stack.stack_name, stack_id)


def static_resolver(stack: StackArtifact) -> Resolver:
    pseudo = stack_pseudo(stack)
    parameters = {
        name: str(definition.get("Default"))
        for name, definition in (stack.template.get("Parameters") or {}).items()
        if "Default" in definition
    }
    return Resolver(stack.template, pseudo, parameters, no_resources(stack), {})


def static_exports(stack: StackArtifact) -> list[str]:
    resolver = static_resolver(stack)
    names = []
    for output in (stack.template.get("Outputs") or {}).values():
        export = (output.get("Export") or {}).get("Name")
        try:
            name = resolver.resolve(export) if export is not None else None
        except Unresolvable:
            continue
        if isinstance(name, str):
            names.append(name)
    return names


def static_imports(stack: StackArtifact) -> list[str]:
    resolver = static_resolver(stack)
    names = []
    for argument in import_arguments({"R": stack.template.get("Resources"), "O": stack.template.get("Outputs")}):
        try:
            name = resolver.resolve(argument)
        except Unresolvable:
            continue
        if isinstance(name, str):
            names.append(name)
    return names


def resource_path(stack: StackArtifact, resource: Mapping[str, Any]) -> str:
    path = str((resource.get("Metadata") or {}).get("aws:cdk:path") or "")
    for prefix in (f"{stack.display_name}/", f"{stack.stack_name}/"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    for suffix in ("/Resource", "/Default"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return path


def resource_label(path: str, logical_id: str) -> str:
    return f"{path} ({logical_id})" if path and path != logical_id else logical_id
