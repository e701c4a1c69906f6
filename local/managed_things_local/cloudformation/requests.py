"""CloudFormation custom resource requests, as CloudFormation sends them to a Lambda provider.

The engine builds a ``CustomResourceRequest`` once, complete but for the
ResponseURL: the runtime that delivers it owns the URL the answer comes back
to, and adds it when it turns the request into the Lambda event. Its
properties are already as CloudFormation sends them (every scalar a string:
the stack run stringifies them once, when it resolves them, and the state
records them so).
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RequestType(StrEnum):
    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"


@dataclass(frozen=True)
class CustomResourceRequest:
    """One request to a custom resource's provider; properties as CloudFormation sends them (strings)."""

    request_type: RequestType
    stack_id: str
    logical_id: str
    resource_type: str
    service_token: str
    properties: Mapping[str, Any]
    physical_id: str | None = None
    old_properties: Mapping[str, Any] | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_event(self, response_url: str) -> dict[str, Any]:
        """The Lambda event, with the ResponseURL the answer is to be sent to."""
        event: dict[str, Any] = {
            "RequestType": str(self.request_type),
            "ServiceToken": self.service_token,
            "ResponseURL": response_url,
            "StackId": self.stack_id,
            "RequestId": self.request_id,
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "ResourceProperties": dict(self.properties),
        }
        if self.request_type is not RequestType.CREATE:
            event["PhysicalResourceId"] = self.physical_id or ""
        if self.request_type is RequestType.UPDATE:
            event["OldResourceProperties"] = dict(self.old_properties or {})
        return event


def new_stack_id(region: str, account_id: str, stack_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/{uuid.uuid4()}"


def made_up_physical_id(stack_name: str, logical_id: str) -> str:
    """The kind of id CloudFormation gives a custom resource whose Create never answered."""
    suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))
    return f"{stack_name}-{logical_id}-{suffix}"
