"""What the executor needs of whatever runs the provider functions: deliver one request, get its outcome.

``invoker.Invoker`` runs the handler like Lambda does (its own process, the
asset first on the path, Lambda's environment); tests use an in-process fake.
"""

from __future__ import annotations

from typing import Protocol

from ..cloudformation.requests import CustomResourceRequest
from .invoker import FunctionSpec, Outcome


class Runtime(Protocol):
    def invoke(self, function: FunctionSpec, request: CustomResourceRequest, log_name: str) -> Outcome:
        """Deliver ``request`` to ``function`` and wait for its answer, or for the reason there is none."""
        ...

    def close(self) -> None:
        """Stop whatever the runtime keeps running between invocations."""
        ...


class NoRuntime:
    """The runtime of a preview (a diff, the quota checks): it invokes nothing."""

    def invoke(self, function: FunctionSpec, request: CustomResourceRequest, log_name: str) -> Outcome:
        raise AssertionError("a preview does not invoke providers")

    def close(self) -> None:
        pass
