"""IAM, pure: a Lambda function's role as its template declares it, and whether its policies allow a call.

``role_of`` gathers, from a stack's template, what an execution role grants its function: the role's inline
``Policies``, the ``AWS::IAM::Policy`` resources attached to it (CDK's ``DefaultPolicy``) and its managed policy
ARNs, unresolved (they are resolved per call against the deployed stack: a secret's ARN exists only once the
secret does). ``decide`` evaluates resolved documents with moto's maintained evaluator
(``moto.iam.access_control.IAMPolicy``), with IAM's identity-policy logic: an explicit Deny wins, else an Allow
allows, else the call is implicitly denied
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).

Managed policies are not emulated: the provider's role has only AWSLambdaBasicExecutionRole, which grants the
CloudWatch Logs actions that nothing local serves; any other managed policy grants nothing here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from ..cloudformation.templates import LAMBDA_FUNCTION

IAM_ROLE = "AWS::IAM::Role"
IAM_POLICY = "AWS::IAM::Policy"
# The engine's own calls (it deploys secrets, as CloudFormation does with the deployer's credentials): allowed.
ENGINE_ACCESS_KEY_ID = "AKIALOCALENGINE00000"
# The template sections a policy's intrinsics may read besides its resources.
_SECTIONS = ("Parameters", "Mappings", "Conditions", "Transform")


@dataclass(frozen=True)
class RoleSpec:
    """A function's execution role: its name, and its policy documents as the template writes them.

    ``template`` is the part of the stack's template the documents' intrinsics need (the resources they name,
    with their types only, and the sections conditions and mappings live in); ``problem`` says why the role is
    not one the engine can evaluate (its calls are then all denied, naming it).
    """

    stack_name: str
    logical_id: str
    role_name: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    managed_policy_arns: list[Any] = field(default_factory=list)
    template: dict[str, Any] = field(default_factory=dict)
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoleSpec:
        return cls(**data)


def role_of(template: Mapping[str, Any], function_logical_id: str, stack_name: str) -> RoleSpec:
    """The execution role of ``function_logical_id``: ``Role`` must be ``Fn::GetAtt [<AWS::IAM::Role>, Arn]`` of
    the same template (a role from elsewhere has no policies here: its ``problem`` says so)."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    role = ((resources.get(function_logical_id) or {}).get("Properties") or {}).get("Role")
    role_id = _get_att_arn(role)
    if role_id is None or (resources.get(role_id) or {}).get("Type") != IAM_ROLE:
        shown = json.dumps(role, separators=(",", ":"))[:80]
        return RoleSpec(
            stack_name,
            "",
            "",
            problem=f"the role of {function_logical_id} ({shown}) is not an AWS::IAM::Role of its stack, "
            "so the local engine has no policy of it",
        )
    properties = resources[role_id].get("Properties") or {}
    documents = [p.get("PolicyDocument") or {} for p in properties.get("Policies") or []]
    for resource in resources.values():
        if resource.get("Type") == IAM_POLICY and role_id in _role_refs(resource.get("Properties") or {}):
            documents.append((resource.get("Properties") or {}).get("PolicyDocument") or {})
    managed = list(properties.get("ManagedPolicyArns") or [])
    name = properties.get("RoleName")
    role_name = name if isinstance(name, str) and name else generated_role_name(stack_name, role_id)
    text = json.dumps(documents)
    named = {k: {"Type": r.get("Type")} for k, r in resources.items() if f'"{k}' in text or "${" + k in text}
    sections = {k: template[k] for k in _SECTIONS if k in template}
    return RoleSpec(stack_name, role_id, role_name, documents, managed, {"Resources": named, **sections})


def generated_role_name(stack_name: str, logical_id: str) -> str:
    """A name as CloudFormation gives a role without ``RoleName``: ``<stack>-<logical id>-<suffix>``, at most 64
    characters (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-role.html);
    the suffix here is derived from both, so that it is the same on every run."""
    suffix = base64.b32encode(hashlib.sha256(f"{stack_name}/{logical_id}".encode()).digest()).decode()[:12]
    return f"{f'{stack_name}-{logical_id}'[:51]}-{suffix}"


def function_roles(template: Mapping[str, Any], stack_name: str) -> dict[str, RoleSpec]:
    """Every Lambda function of a template, by logical id, with its role."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    return {
        logical_id: role_of(template, logical_id, stack_name)
        for logical_id, resource in resources.items()
        if resource.get("Type") == LAMBDA_FUNCTION
    }


class Decision(Enum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit deny"
    EXPLICIT_DENY = "explicit deny"


def statements(documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The statements of policy documents, one list (a document's ``Statement`` may be one object or a list)."""
    found: list[dict[str, Any]] = []
    for document in documents:
        statement = document.get("Statement") or []
        found += [dict(s) for s in (statement if isinstance(statement, list) else [statement])]
    return found


def decide(resolved: Iterable[Mapping[str, Any]], action: str, resource: str) -> Decision:
    """What identity-policy statements ``resolved`` say of ``action`` on ``resource``: a Deny that applies wins,
    else an Allow that applies allows, else the call is implicitly denied.

    A statement with a ``Condition`` is left out: the local services give no condition keys, and moto's evaluator
    treats a condition it cannot check as a Deny. An Allow under a condition (e.g. ``kms:ViaService``) therefore
    grants nothing here.
    """
    from moto.iam.access_control import PermissionResult

    permitted = False
    for statement in resolved:
        if "Condition" in statement:
            continue
        result = _statement(statement).is_action_permitted(action.lower(), resource)
        if result == PermissionResult.DENIED:
            return Decision.EXPLICIT_DENY
        permitted = permitted or result == PermissionResult.PERMITTED
    return Decision.ALLOW if permitted else Decision.IMPLICIT_DENY


def concerns(statement: Mapping[str, Any], action: str) -> bool:
    """Whether ``statement`` (resolved or not: its actions are plain strings) is about ``action``."""
    element = "NotAction" if "NotAction" in statement else "Action"
    try:
        matches = _statement(statement)._check_element_matches(element, action.lower())
    except (KeyError, TypeError, AttributeError):
        return True  # actions it cannot read: assume the worst, it may be about this one
    return matches if element == "Action" else not matches


def _statement(statement: Mapping[str, Any]) -> Any:
    """moto's statement evaluator over ``statement``, its actions lower-cased (IAM compares actions without
    regard to case), matching as IAM does (``_statement_class``)."""
    lowered = dict(statement)
    for element in ("Action", "NotAction"):
        if isinstance(lowered.get(element), str):
            lowered[element] = lowered[element].lower()
        elif isinstance(lowered.get(element), list):
            lowered[element] = [a.lower() if isinstance(a, str) else a for a in lowered[element]]
    return _statement_class()(lowered)


@functools.cache
def _statement_class() -> type:
    """moto's ``IAMPolicyStatement`` with IAM's matching: only ``*`` (any characters) and ``?`` (one character)
    are wildcards (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html);
    moto's own matcher reads the pattern as a regular expression, so ``name-??????`` (an imported secret's ARN)
    breaks it and a ``.`` matches any character. (moto is imported only once IAM is evaluated.)"""
    from moto.iam.access_control import IAMPolicyStatement

    class Statement(IAMPolicyStatement):
        @staticmethod
        def _match(pattern: str, string: str) -> re.Match[str] | None:
            expression = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
            return re.fullmatch(expression, string, re.DOTALL)

    return Statement


def assumed_role_arn(partition: str, account_id: str, role_name: str, session_name: str) -> str:
    """Who a Lambda function's calls come from: its role, assumed with the function's name as the session name."""
    return f"arn:{partition}:sts::{account_id}:assumed-role/{role_name}/{session_name}"


def access_denied_message(principal: str, action: str, resource: str, decision: Decision) -> str:
    """IAM's message for a deny by identity-based policies, implicit or explicit ("Access denied error messages",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html)."""
    why = (
        "with an explicit deny in an identity-based policy"
        if decision is Decision.EXPLICIT_DENY
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"


def _get_att_arn(value: Any) -> str | None:
    """``R`` of ``{"Fn::GetAtt": ["R", "Arn"]}`` (or ``"R.Arn"``), else None."""
    if not isinstance(value, Mapping) or set(value) != {"Fn::GetAtt"}:
        return None
    argument = value["Fn::GetAtt"]
    if isinstance(argument, str):
        argument = argument.split(".", 1)
    if isinstance(argument, list) and len(argument) == 2 and argument[1] == "Arn" and isinstance(argument[0], str):
        return argument[0]
    return None


def _role_refs(properties: Mapping[str, Any]) -> set[str]:
    """The roles an ``AWS::IAM::Policy`` is attached to by ``Ref`` (a role named by a plain string is not ours)."""
    return {r["Ref"] for r in properties.get("Roles") or [] if isinstance(r, Mapping) and isinstance(r.get("Ref"), str)}
