"""The provider Lambda functions of a cloud assembly: their names and ARNs, found by ServiceToken, staged locally."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..cloudformation.assembly import StackArtifact, stage_code
from ..cloudformation.intrinsics import Pseudo, Resolver, cfn_stringify
from ..cloudformation.templates import LAMBDA_FUNCTION, no_resources, stack_pseudo
from ..errors import DeployError, Unresolvable
from ..services.iam_policies import role_of
from ..state.state import StateStore
from .invoker import FunctionSpec

EVENT_INVOKE_CONFIG = "AWS::Lambda::EventInvokeConfig"
DEFAULT_MAXIMUM_EVENT_AGE = 21600  # seconds: Lambda's default, and its maximum


def function_name(stack: StackArtifact, logical_id: str) -> str:
    properties = (stack.template.get("Resources", {}).get(logical_id) or {}).get("Properties") or {}
    name = properties.get("FunctionName")
    if isinstance(name, str) and name:
        return name
    return f"{stack.stack_name}-{logical_id}"[:64]


def function_arn(stack: StackArtifact, logical_id: str, pseudo: Pseudo) -> str:
    name = function_name(stack, logical_id)
    return f"arn:{pseudo.partition}:lambda:{pseudo.region}:{pseudo.account_id}:function:{name}"


def pseudo_for(stack: StackArtifact, store: StateStore) -> Pseudo:
    state = store.load(stack.stack_name)
    return stack_pseudo(stack, state.stack_id if state else "")


def find_function(
    stacks: Iterable[StackArtifact], store: StateStore, token: str, fallback: Mapping[str, dict[str, Any]] | None
) -> FunctionSpec:
    """The provider a ServiceToken names: a Lambda function of ``stacks``, else one a deployed stack recorded."""
    for stack in stacks:
        pseudo = pseudo_for(stack, store)
        for logical_id, resource in (stack.template.get("Resources") or {}).items():
            if resource.get("Type") == LAMBDA_FUNCTION and function_arn(stack, logical_id, pseudo) == token:
                try:
                    return function_spec(stack, logical_id, pseudo, store.code_dir)
                except DeployError as error:
                    raise Unresolvable(str(error)) from None
    if fallback and token in fallback:
        recorded = FunctionSpec.from_json(fallback[token])
        if Path(recorded.code_dir).is_dir():
            return recorded
    raise Unresolvable(
        f"ServiceToken {token} is not a Lambda function of this cloud assembly "
        "(the local deploy runs only providers the app synthesizes)"
    )


def function_spec(stack: StackArtifact, logical_id: str, pseudo: Pseudo, code_dir: Path) -> FunctionSpec:
    """The Python Lambda function ``logical_id`` of ``stack``, its code staged below ``code_dir``."""
    resource = stack.template["Resources"][logical_id]
    properties = resource.get("Properties") or {}
    if properties.get("PackageType") == "Image":
        raise Unresolvable(f"The provider {logical_id} is a container image function, which is not run locally")
    runtime = str(properties.get("Runtime") or "")
    if not runtime.startswith("python"):
        raise Unresolvable(f"The provider {logical_id} runs {runtime or 'no runtime'}; only Python runs locally")
    handler = properties.get("Handler")
    if not isinstance(handler, str):
        raise Unresolvable(f"The provider {logical_id} has no plain Handler")
    resolver = Resolver(stack.template, pseudo, {}, no_resources(stack), {})
    variables = ((properties.get("Environment") or {}).get("Variables")) or {}
    try:
        environment = {k: str(cfn_stringify(v)) for k, v in resolver.resolve(variables).items()}
    except Unresolvable as error:
        raise Unresolvable(f"The environment of the provider {logical_id} has no local value: {error}") from None
    code = stage_code(stack.code_directory(logical_id), code_dir)
    return FunctionSpec(
        logical_id=logical_id,
        function_name=function_name(stack, logical_id),
        arn=function_arn(stack, logical_id, pseudo),
        code_dir=str(code),
        handler=handler,
        timeout=int(properties.get("Timeout") or 3),
        memory_size=int(properties.get("MemorySize") or 128),
        runtime=runtime,
        region=pseudo.region,
        environment=environment,
        reserved_concurrency=_reserved_concurrency(properties.get("ReservedConcurrentExecutions")),
        role=role_of(stack.template, logical_id, stack.stack_name).to_json(),
        maximum_event_age=_maximum_event_age(stack, logical_id),
    )


def _maximum_event_age(stack: StackArtifact, logical_id: str) -> int:
    """``MaximumEventAgeInSeconds`` of the function's ``AWS::Lambda::EventInvokeConfig`` (CDK's ``max_event_age``),
    else Lambda's default of 6 hours (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html)."""
    names = ({"Ref": logical_id}, function_name(stack, logical_id))
    for resource in (stack.template.get("Resources") or {}).values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == EVENT_INVOKE_CONFIG and properties.get("FunctionName") in names:
            try:
                return int(properties["MaximumEventAgeInSeconds"])
            except (KeyError, TypeError, ValueError):
                break
    return DEFAULT_MAXIMUM_EVENT_AGE


def _reserved_concurrency(value: Any) -> int | None:
    """``ReservedConcurrentExecutions`` when the template gives a number (a token has no local value: none)."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
