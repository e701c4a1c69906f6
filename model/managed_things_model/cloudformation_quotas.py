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
