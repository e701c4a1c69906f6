"""How long CloudFormation waits for a custom resource's answer, and what it says when it stops waiting.

``ServiceTimeout``: "The maximum time, in seconds, that can elapse before a
custom resource operation times out. The value must be an integer from 1 to
3600. The default value is 3600 seconds (1 hour)."
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html)
An answer that comes later is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_SERVICE_TIMEOUT = 3600

# The reason of the CREATE_FAILED event CloudFormation gives a resource whose Create was in flight when another
# resource failed (aws-cloudformation/cloudformation-coverage-roadmap#1814, aws/aws-cdk#26139, aws/aws-cdk#36951).
CREATION_CANCELLED = "Resource creation cancelled"


def service_timeout(properties: Mapping[str, Any]) -> int:
    """The resource's ServiceTimeout in seconds (CloudFormation's default when it gives none)."""
    try:
        seconds = int(str(properties.get("ServiceTimeout", DEFAULT_SERVICE_TIMEOUT)))
    except ValueError:
        return DEFAULT_SERVICE_TIMEOUT
    return seconds if 1 <= seconds <= DEFAULT_SERVICE_TIMEOUT else DEFAULT_SERVICE_TIMEOUT


def no_response(request_id: str) -> str:
    """CloudFormation's reason when a custom resource did not answer within its ServiceTimeout (as its events show
    it, e.g. aws-samples/aws-security-reference-architecture-examples#162)."""
    return (
        f"CloudFormation did not receive a response from your Custom Resource. Please check your logs for requestId "
        f"[{request_id}]. If you are using the Python cfn-response module, you may need to update your Lambda "
        "function code so that CloudFormation can attach the updated version."
    )
