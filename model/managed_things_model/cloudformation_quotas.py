"""CloudFormation's quotas that a stack of managed things can reach: checked at synth by the construct library
and enforced at deploy by the local engine, as CloudFormation enforces them.

Source: "Understand CloudFormation quotas",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
(also https://github.com/awsdocs/aws-cloudformation-user-guide/blob/main/doc_source/cloudformation-limits.md).
"""

from __future__ import annotations

RESOURCES_PER_OPERATION = 2_500
"""Resources one stack operation may create, update or delete, the stack's nested stacks included
("Limit on the number of resources in a single stack operation exceeded")."""

RESOURCES_PER_TEMPLATE = 500
"""Resources declared in one template."""

OUTPUTS_PER_TEMPLATE = 200
"""Outputs declared in one template."""

PARAMETERS_PER_TEMPLATE = 200
"""Parameters declared in one template."""

TEMPLATE_BYTES = 1_000_000
"""A template's body uploaded through Amazon S3, as the CDK CLI uploads every template over 50 KB: "1 MB", which
cfn-lint (rule E1002) and this project read as 1,000,000 bytes."""

CUSTOM_RESOURCE_RESPONSE_BYTES = 4_096
"""The most data a custom resource provider can pass back to CloudFormation in one response."""

# A custom resource's response as crhelper sends it: a reason is cut to 259 characters ("ERROR: (truncated) " and
# the last 240); json.dumps writes a character outside ASCII as a 6-byte \u escape. A stack id is
# arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>, partition and region at most 20 each.
_REASON_CHARACTERS = 259
_STACK_ID_BYTES_BESIDE_NAME = len("arn::cloudformation:::stack//") + 20 + 20 + 12 + 36
_UUID_BYTES = 36
_CLIENT_TOKEN_ID_BYTES = len("ClientToken/") + 64
_TIMESTAMP_BYTES = len("2026-12-07T20:18:58.123456+00:00")


def custom_resource_response_bytes(*, stack_name_length: int, logical_id_length: int) -> int:
    """The most bytes the provider's response for one thing can take, given its stack name's and logical id's
    lengths: every field at its longest (the Id and Arn at the service model's maxima)."""
    from .service_model import operation

    output = operation("CreateManagedThing").output_shape
    assert output is not None
    id_bytes = int(output.members["Id"].metadata["max"])
    arn_bytes = int(output.members["Arn"].metadata["max"])
    fields = {
        "Status": len("SUCCESS"),
        "PhysicalResourceId": max(id_bytes, _CLIENT_TOKEN_ID_BYTES),
        "StackId": _STACK_ID_BYTES_BESIDE_NAME + stack_name_length,
        "RequestId": _UUID_BYTES,
        "LogicalResourceId": logical_id_length,
        "Reason": 6 * _REASON_CHARACTERS,
        "NoEcho": len("false"),
    }
    data = {"Id": id_bytes, "Arn": arn_bytes, "CreatedAt": _TIMESTAMP_BYTES}
    # '"key": "value", ' for each field; the braces around the body and around Data
    quoted = sum(len(key) + value + 6 for key, value in fields.items()) + len('"Data": {}')
    return 2 + quoted + sum(len(key) + value + 6 for key, value in data.items())
