"""IAM for the local services: who calls (by the SigV4 access key id) and whether the caller's role allows it.

Each provider function's execution environments sign with an access key id of their own
(``FunctionSpec.access_key_id``); ``IamAuthority`` knows which function and role each one is, and answers the
local services (the emulator, DescribeStacks, Secrets Manager) with ``authorize``: None, or AWS's
AccessDeniedException message. The role's policies are resolved at the call, against the stack as it now is
(the state store replays what this run's invocations answered): a policy naming a secret created earlier in the
same deploy resolves to its ARN. A resolved policy is kept while it allows; a denial resolves it again first, so
a resource created since is seen. A statement that cannot be resolved (it names a resource that is not deployed
locally, such as the log group) grants nothing, and a denial of an action it names says why.

The engine's own calls (it deploys secrets, as CloudFormation would with the deployer's credentials) use
``ENGINE_ACCESS_KEY_ID``, always allowed; any other key is denied.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..cloudformation.intrinsics import Pseudo, Resolver
from ..cloudformation.records import reference
from ..cloudformation.templates import default_parameters
from ..emulator.responses import access_key_of
from ..environment import resolve_account, resolve_region
from ..errors import Unresolvable
from ..state.state import StateStore
from .iam_policies import (
    ENGINE_ACCESS_KEY_ID,
    Decision,
    RoleSpec,
    access_denied_message,
    assumed_role_arn,
    concerns,
    decide,
    statements,
)


class CallingFunction(Protocol):
    """What IAM needs of a function whose environments call the local services (``FunctionSpec`` is one)."""

    @property
    def function_name(self) -> str: ...
    @property
    def role(self) -> dict[str, Any]: ...
    @property
    def access_key_id(self) -> str: ...


@dataclass(frozen=True)
class _Caller:
    function_name: str
    role: RoleSpec


@dataclass(frozen=True)
class _Resolved:
    """A role's statements, resolved, and those that are not (each with the reason); and its stack's pseudo
    parameters, which name the caller."""

    pseudo: Pseudo
    statements: list[dict[str, Any]]
    unresolved: list[tuple[dict[str, Any], str]]


class IamAuthority:
    """The functions' identities, bound as they are invoked, and their policies' decisions; thread-safe."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._callers: dict[str, _Caller] = {}
        self._resolved: dict[str, _Resolved] = {}
        self._lock = threading.Lock()

    def bind(self, function: CallingFunction) -> None:
        """From now on, ``function.access_key_id`` is ``function`` with its role."""
        if not function.role:
            return
        caller = _Caller(function.function_name, RoleSpec.from_json(function.role))
        with self._lock:
            if self._callers.get(function.access_key_id) != caller:
                self._callers[function.access_key_id] = caller
                self._resolved.pop(function.access_key_id, None)

    def authorize(self, headers: Mapping[str, str], action: str, resource: str) -> str | None:
        """None if the caller that signed ``headers`` may perform ``action`` on ``resource``; else the message of
        AWS's AccessDeniedException."""
        key = access_key_of(headers)
        if key == ENGINE_ACCESS_KEY_ID:
            return None
        with self._lock:
            caller = self._callers.get(key)
            resolved = self._resolved.get(key)
        if caller is None:
            principal = f"the caller with access key {key or '(none: the request is not signed)'}"
            denied = access_denied_message(principal, action, resource, Decision.IMPLICIT_DENY)
            return f"{denied} (the local engine gave that key to no function)"
        if resolved is not None and decide(resolved.statements, action, resource) is Decision.ALLOW:
            return None
        resolved = self._resolve(caller.role)  # again: a resource it names may exist since
        with self._lock:
            self._resolved[key] = resolved
        pseudo = resolved.pseudo
        principal = assumed_role_arn(pseudo.partition, pseudo.account_id, caller.role.role_name, caller.function_name)
        decision = decide(resolved.statements, action, resource)
        if decision is Decision.ALLOW:
            return None
        message = access_denied_message(principal, action, resource, decision)
        if caller.role.problem:
            return f"{message}: {caller.role.problem}"
        # A statement about this action whose values are unknown here might have allowed it: say so.
        for statement, reason in resolved.unresolved:
            if concerns(statement, action):
                return (
                    f"{message}: the role {caller.role.logical_id} of {caller.role.stack_name} has a statement for "
                    f"it with no local value ({reason})"
                )
        return message

    def _resolve(self, role: RoleSpec) -> _Resolved:
        """The role's statements, their intrinsics resolved against the stack as the state now has it; one that
        cannot be (a log group's ARN: not deployed locally) is kept aside with the reason."""
        state = self.store.load(role.stack_name)
        resources = state.resources if state is not None else {}
        if state is None:  # not a stack the engine deployed: only its pseudo parameters resolve
            pseudo = Pseudo(resolve_region(None), resolve_account(None), role.stack_name, "")
        else:
            pseudo = Pseudo(state.region, state.account_id, state.stack_name, state.stack_id)

        def lookup(logical_id: str, attribute: str | None) -> Any:
            record = resources.get(logical_id)
            if record is None:
                raise Unresolvable(f"{reference(logical_id, attribute)}: {logical_id} is not deployed locally")
            return record.resolve(attribute)

        # (the parameters a deploy was given are not kept: a policy can read only their defaults)
        resolver = Resolver(role.template, pseudo, default_parameters(role.template), lookup, {})
        resolved: list[dict[str, Any]] = []
        unresolved: list[tuple[dict[str, Any], str]] = []
        for statement in statements(role.documents):
            try:
                resolved.append(resolver.resolve(statement))
            except Unresolvable as error:
                unresolved.append((statement, str(error)))
        return _Resolved(pseudo, resolved, unresolved)
