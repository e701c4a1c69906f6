"""CloudFormation custom resource requests, shaped as CloudFormation sends them to a Lambda provider."""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

from .intrinsics import cfn_stringify

CREATE, UPDATE, DELETE = "Create", "Update", "Delete"


def new_stack_id(region: str, account_id: str, stack_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/{uuid.uuid4()}"


def request(
    request_type: str,
    *,
    stack_id: str,
    logical_id: str,
    resource_type: str,
    service_token: str,
    response_url: str,
    properties: dict[str, Any],
    physical_id: str | None = None,
    old_properties: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """One request, its properties stringified like CloudFormation's (``10`` -> ``"10"``, ``true`` -> ``"true"``)."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": request_id or str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": cfn_stringify(properties),
    }
    if request_type != CREATE:
        event["PhysicalResourceId"] = physical_id or ""
    if request_type == UPDATE:
        event["OldResourceProperties"] = cfn_stringify(old_properties or {})
    return event


def made_up_physical_id(stack_name: str, logical_id: str) -> str:
    """The kind of id CloudFormation gives a custom resource whose Create never answered."""
    suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))
    return f"{stack_name}-{logical_id}-{suffix}"
