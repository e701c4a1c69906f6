"""Native resources: AWS resource types the local engine deploys in process, not through a provider function.

A native resource handles the same Create, Update and Delete requests a custom
resource's provider gets (``CustomResourceRequest``) and answers like one
(``Answer``: a physical id, the attributes ``Fn::GetAtt`` reads, or a failure
reason). The executor delivers them and reports their statuses exactly as it
does for provider functions, so plans, progress, the report, the journal and
the state see them like every other resource. What a native resource must
never let reach the state or the journal (a secret's value), its
``recorded_properties`` replaces (by a digest).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..cloudformation.requests import CustomResourceRequest
from ..cloudformation.templates import SECRET
from .responses import Answer

NATIVE_TYPES = frozenset({SECRET})  # the plan deploys them; the executor runs them through a NativeResource


class NativeResource(Protocol):
    resource_type: str

    def handle(self, request: CustomResourceRequest) -> Answer:
        """Carry out one Create, Update or Delete and answer it (a failure's reason never holds a secret value)."""
        ...

    def recorded_properties(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        """The properties as the state and the journal keep them (and as the next Update gets them as old)."""
        ...
