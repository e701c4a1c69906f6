"""What a stack template says before anything is deployed: static values, exports, imports and resource labels."""

from __future__ import annotations

import json
import os
import random
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from managed_things_model.contract import RESOURCE_TYPE

from ..environment import resolve_account, resolve_region
from ..errors import Unresolvable
from .assembly import StackArtifact
from .intrinsics import Pseudo, Resolver, import_arguments

MANAGED_THING = RESOURCE_TYPE  # the construct and the provider declare it in the shared model
NESTED_STACK = "AWS::CloudFormation::Stack"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
SECRET = "AWS::SecretsManager::Secret"  # deployed natively, into the local Secrets Manager (secrets.py)


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
    return Resolver(stack.template, stack_pseudo(stack), default_parameters(stack.template), no_resources(stack), {})


def default_parameters(template: Mapping[str, Any]) -> dict[str, str]:
    """The template's parameters that have a ``Default``, with it."""
    return {
        name: str(definition.get("Default"))
        for name, definition in (template.get("Parameters") or {}).items()
        if "Default" in definition
    }


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


def resource_name(stack: StackArtifact, logical_id: str) -> str:
    """What output names a resource of ``stack`` by (its ``path`` in events and state): a fleet thing's label from
    its things manifest, else the construct path below the stack ("" where the template has none)."""
    label = stack.labels.get(logical_id)
    if label is not None:
        return label
    resource = (stack.template.get("Resources") or {}).get(logical_id) or {}
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


def nested_stack_name(parent: str, logical_id: str) -> str:
    """A nested stack's name as CloudFormation makes it: ``<parent>-<LogicalId>-<12 random characters>``."""
    suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))
    return f"{parent[:64]}-{logical_id[:50]}-{suffix}"


def nested_artifact(parent: StackArtifact, logical_id: str, stack_name: str, pseudo: Pseudo) -> StackArtifact:
    """The nested stack ``logical_id`` of ``parent``: its template found through the asset metadata, or (an
    assembly synthesized without it, e.g. by ``python app.py``) through the asset manifest, as function code is."""
    resource = parent.template["Resources"][logical_id]
    metadata = resource.get("Metadata") or {}
    path = metadata.get("aws:asset:path") if metadata.get("aws:asset:property") == "TemplateURL" else None
    template_file = parent.assembly_dir / path if isinstance(path, str) else _manifest_template(parent, resource)
    if template_file is None:
        raise Unresolvable(
            f"the template of nested stack {logical_id} is not in the cloud assembly: neither its aws:asset:path "
            "metadata nor its TemplateURL names a file of the assembly's asset manifest (*.assets.json)"
        )
    try:
        template = json.loads(template_file.read_text())
    except (OSError, ValueError) as error:
        raise Unresolvable(f"cannot read the template of nested stack {logical_id}: {error}") from None
    construct_path = str(metadata.get("aws:cdk:path") or f"{parent.display_name}/{logical_id}")
    return StackArtifact(
        artifact_id=f"{parent.artifact_id}/{logical_id}",
        stack_name=stack_name,
        display_name=construct_path.split(".NestedStack/", 1)[0],
        template=template,
        assembly_dir=parent.assembly_dir,
        region=pseudo.region,
        account=pseudo.account_id,
        asset_files=parent.asset_files,
        template_file=os.path.relpath(template_file, parent.assembly_dir),
    )


def _manifest_template(parent: StackArtifact, resource: Mapping[str, Any]) -> Path | None:
    """The file the asset manifest uploads as the S3 object a TemplateURL names (its last ``.json`` part)."""
    parts: list[str] = []
    pending = [(resource.get("Properties") or {}).get("TemplateURL")]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            pending += reversed(value)
        elif isinstance(value, dict):
            pending += reversed(list(value.values()))
    keys = [part for part in parts if part.endswith(".json")]
    return parent.asset_source(keys[-1]) if keys else None
