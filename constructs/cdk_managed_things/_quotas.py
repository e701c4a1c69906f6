"""CloudFormation's quotas, checked at synth for every stack that holds managed things.

Each finding is a CDK error annotation on the stack (``cdk synth`` and ``cdk deploy`` refuse to go on, naming the
construct path), raised during validation, after aspects and cross-stack references have added what they add.
Template bytes are estimated as the CDK CLI writes templates (JSON indented by one space): exactly for managed
things, whose properties are known, and at a floor for other resources.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jsii
from aws_cdk import Annotations, CfnElement, CfnOutput, CfnParameter, CfnResource, NestedStack, Stack, Token

from constructs import Construct, IConstruct, IValidation
from managed_things_model.cloudformation_quotas import (
    CUSTOM_RESOURCE_RESPONSE_BYTES,
    OUTPUTS_PER_TEMPLATE,
    PARAMETERS_PER_TEMPLATE,
    RESOURCES_PER_OPERATION,
    RESOURCES_PER_TEMPLATE,
    TEMPLATE_BYTES,
    custom_resource_response_bytes,
)
from managed_things_model.contract import RESOURCE_TYPE

QUOTA_ERROR = "cdk-managed-things:cloudFormationQuota"
# A resource whose template text is unknown here (not a managed thing) counts at least this much.
_OTHER_ELEMENT_BYTES = 100
# What a template holds besides its resources and outputs: the bootstrap version parameter and rule, and the
# metadata resource the CDK CLI adds (measured: under 2 KB).
TEMPLATE_OVERHEAD_BYTES = 4_000
# A thing's ServiceToken as written (the provider function's ARN), for estimates made before it is resolved.
SERVICE_TOKEN_STANDIN = {"ServiceToken": {"Fn::GetAtt": ["CdkManagedThingsProviderHandler00000000", "Arn"]}}
# What resource_bytes' rendering adds around one resource ("{\n "Resources": {\n" and "\n }\n}"), less the ",\n"
# that separates it from the resource before it in a template.
_WRAPPER = len('{\n "Resources": {\n') + len("\n }\n}") - len(",\n")


def resource_bytes(logical_id: str, resource: Mapping[str, Any]) -> int:
    """The bytes ``resource`` adds to a template's ``Resources`` as the CDK CLI writes it (one-space indents,
    UTF-8, the separating comma and newline included)."""
    text = json.dumps({"Resources": {logical_id: resource}}, indent=1, ensure_ascii=False)
    return len(text.encode("utf-8")) - _WRAPPER


def quota_problems(
    *, resources: int, outputs: int, parameters: int, template_bytes: int, estimated: bool = True
) -> list[str]:
    """What one template breaks of CloudFormation's per-template quotas, as sentences."""
    problems = []
    if resources > RESOURCES_PER_TEMPLATE:
        problems.append(f"{resources} resources, more than CloudFormation's {RESOURCES_PER_TEMPLATE} per template")
    if outputs > OUTPUTS_PER_TEMPLATE:
        problems.append(f"{outputs} outputs, more than CloudFormation's {OUTPUTS_PER_TEMPLATE} per template")
    if parameters > PARAMETERS_PER_TEMPLATE:
        problems.append(f"{parameters} parameters, more than CloudFormation's {PARAMETERS_PER_TEMPLATE} per template")
    if template_bytes > TEMPLATE_BYTES:
        about = "about " if estimated else ""
        problems.append(
            f"a template of {about}{template_bytes:,} bytes, more than CloudFormation's {TEMPLATE_BYTES:,} (1 MB)"
        )
    return problems


class StackQuotas(Construct):
    """The quota check of one stack holding ``ManagedThing``s: use :meth:`of`; things report their bytes."""

    _by_stack: weakref.WeakKeyDictionary[Stack, StackQuotas] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, stack: Stack) -> StackQuotas:
        found = cls._by_stack.get(stack)
        if found is None:
            found = cls._by_stack[stack] = cls(stack, "CdkManagedThingsQuotas")
        return found

    def __init__(self, stack: Stack, construct_id: str) -> None:
        super().__init__(stack, construct_id)
        self.stack = stack
        # construct path of a thing's resource -> its properties as written, once aspects have run
        self.things: dict[str, Callable[[], Mapping[str, Any]]] = {}
        stack.node.add_validation(_StackQuotaValidation(self))

    def add_thing(self, resource: CfnResource, properties: Callable[[], Mapping[str, Any]]) -> None:
        """Count ``resource`` (a managed thing), whose ``properties()`` at synth are what the template holds."""
        self.things[resource.node.path] = properties


@jsii.implements(IValidation)
class _StackQuotaValidation:
    def __init__(self, quotas: StackQuotas) -> None:
        self._quotas = quotas

    def validate(self) -> list[str]:
        quotas = self._quotas
        root = _operation_root(quotas.stack)
        operation = 0
        for stack in _operation_stacks(root):
            resources = outputs = parameters = other = 0
            thing_bytes = 0
            for element in template_elements(stack):
                if isinstance(element, CfnResource):
                    resources += 1
                    properties = quotas.things.get(element.node.path)
                    if properties is None:
                        other += 1
                    else:
                        # As the CDK CLI writes it: its DependsOn the provider's policy, its path as metadata.
                        rendered = {
                            "Type": RESOURCE_TYPE,
                            "Properties": properties(),
                            "DependsOn": ["CdkManagedThingsProviderRoleDefaultPolicy00000000"],
                            "Metadata": {"aws:cdk:path": f"{element.node.path}"},
                        }
                        thing_bytes += resource_bytes(stack.resolve(element.logical_id), rendered)
                elif isinstance(element, CfnOutput):
                    outputs += 1
                elif isinstance(element, CfnParameter):
                    parameters += 1
            operation += resources
            estimate = TEMPLATE_OVERHEAD_BYTES + thing_bytes + _OTHER_ELEMENT_BYTES * (other + outputs + parameters)
            for problem in quota_problems(
                resources=resources, outputs=outputs, parameters=parameters, template_bytes=estimate
            ):
                Annotations.of(stack).add_error(f"{stack.node.path}: {problem}. Split the stack. [{QUOTA_ERROR}]")
        stack = quotas.stack
        longest_id = max((len(path.rsplit("/", 1)[-1]) for path in quotas.things), default=0)
        name_length = 128 if Token.is_unresolved(stack.stack_name) else len(stack.stack_name)
        response = custom_resource_response_bytes(stack_name_length=name_length, logical_id_length=longest_id + 8)
        if response > CUSTOM_RESOURCE_RESPONSE_BYTES:
            Annotations.of(stack).add_error(
                f"{stack.node.path}: a thing's answer to CloudFormation may take {response:,} bytes, more than the "
                f"{CUSTOM_RESOURCE_RESPONSE_BYTES:,} a custom resource may send: shorten its construct ids. "
                f"[{QUOTA_ERROR}]"
            )
        if operation > RESOURCES_PER_OPERATION and root is quotas.stack:
            Annotations.of(root).add_error(
                f"{root.node.path}: {operation:,} resources in one stack operation (the stack and its nested "
                f"stacks), more than CloudFormation's {RESOURCES_PER_OPERATION:,}: put them in independent stacks "
                f"(ManagedThingFleet does). [{QUOTA_ERROR}]"
            )
        return []


def _operation_root(stack: Stack) -> Stack:
    """The top-level stack whose operation deploys ``stack`` (itself unless it is a nested stack)."""
    while stack.nested_stack_parent is not None:
        stack = stack.nested_stack_parent
    return stack


def _operation_stacks(root: Stack) -> Iterator[Stack]:
    """``root`` and its nested stacks, at any depth: one CloudFormation operation."""
    yield root
    for child in _descendants(root):
        if isinstance(child, NestedStack):
            yield child


def template_elements(stack: Stack) -> Iterator[CfnElement]:
    """The template elements of ``stack``: its constructs, not those of stacks inside it."""
    for child in _descendants(stack):
        if isinstance(child, CfnElement):
            yield child


def _descendants(scope: IConstruct) -> Iterator[IConstruct]:
    """Every construct below ``scope`` that belongs to its stack (other stacks, nested or not, are pruned; a
    nested stack itself is yielded). Template elements are leaves: not walked into, one jsii call less each."""
    pending = list(scope.node.children)
    while pending:
        child = pending.pop()
        if isinstance(child, Stack):
            if isinstance(child, NestedStack):
                yield child
            continue
        yield child
        if not isinstance(child, CfnElement):
            pending.extend(child.node.children)
