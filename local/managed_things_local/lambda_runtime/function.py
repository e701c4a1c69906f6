"""What the local deploy needs to know of a Lambda function to run it."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

# The key of an environment whose function has no role the engine knows: every call it signs is denied.
UNBOUND_ACCESS_KEY_ID = "ASIALOCALDEPLOY00000"


@dataclass(frozen=True)
class FunctionSpec:
    """A Python Lambda function: its code, handler and configuration, as the template declares them."""

    logical_id: str
    function_name: str
    arn: str
    code_dir: str
    handler: str
    timeout: int = 3
    memory_size: int = 128
    runtime: str = "python3.11"
    region: str = "us-east-1"
    environment: dict[str, str] = field(default_factory=dict)
    # ReservedConcurrentExecutions: at most this many environments at once (0: every invocation is throttled).
    reserved_concurrency: int | None = None
    # Its execution role (``iam_policies.RoleSpec``, as JSON): the policies the local services enforce.
    role: dict[str, Any] = field(default_factory=dict)
    # MaximumEventAgeInSeconds of its EventInvokeConfig: how long an event may wait in Lambda's queue (Lambda's
    # default: 6 hours).
    maximum_event_age: int = 21600

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FunctionSpec:
        return cls(**data)

    @property
    def access_key_id(self) -> str:
        """The access key id its environments sign with: one per function, like Lambda's temporary credentials
        (``ASIA`` and 16 characters), derived from its ARN so that every run gives the same one."""
        if not self.role:
            return UNBOUND_ACCESS_KEY_ID
        return "ASIA" + base64.b32encode(hashlib.sha256(self.arn.encode()).digest()).decode()[:16]

    @property
    def configuration(self) -> str:
        """Everything an environment is started from: Lambda starts new environments when any of it changes."""
        return json.dumps(self.to_json(), sort_keys=True)
