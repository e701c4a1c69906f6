"""CloudFormation's quotas on a template and on one stack operation: what it refuses before it changes anything.

A local deploy that CloudFormation would refuse is refused too, before anything
runs, with CloudFormation's own message, so that what deploys locally deploys
on AWS. The quotas are those of "Understand CloudFormation quotas",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html (the per-template ones
also in its archived source,
https://github.com/awsdocs/aws-cloudformation-user-guide/blob/main/doc_source/cloudformation-limits.md, which
predates the 2,500 per operation). The messages are CloudFormation's as users reported them (each constant names
where); none was found for the 200 mappings, so they are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from managed_things_model.cloudformation_quotas import (
    OUTPUTS_PER_TEMPLATE,
    PARAMETERS_PER_TEMPLATE,
    RESOURCES_PER_OPERATION,
    RESOURCES_PER_TEMPLATE,
    TEMPLATE_BYTES,
)

from ..errors import DeployError
from .assembly import StackArtifact

# The numbers are the shared model's, which the construct library checks at synth. The template size is counted
# in bytes of the template file as synthesized: the CDK CLI uploads that file as it is, to S3 when it is over
# 50 KB; CloudFormation's message counts 1 MB as 1000000 bytes (below). Per operation: what one operation touches
# in a stack and its nested stacks together (a first deploy of a tree of 8 stacks of 300 resources is refused
# where updates of it are not: https://github.com/aws-amplify/amplify-cli/issues/13491); operation_size.py counts it.
MAX_RESOURCES = RESOURCES_PER_TEMPLATE
MAX_OUTPUTS = OUTPUTS_PER_TEMPLATE
MAX_PARAMETERS = PARAMETERS_PER_TEMPLATE
MAX_TEMPLATE_BYTES = TEMPLATE_BYTES
MAX_RESOURCES_PER_OPERATION = RESOURCES_PER_OPERATION

# https://github.com/serverless/serverless/issues/2387, https://github.com/clebert/aws-simple/issues/98
TOO_MANY_RESOURCES = "Template format error: Number of resources, {count}, is greater than maximum allowed, {limit}"
# https://github.com/aditmalik-synechron/serverless-nested-stack/issues/5 (when the quota was 60)
TOO_MANY_OUTPUTS = "Template format error: Outputs count {count} is greater than max allowed {limit}"
# https://github.com/remind101/empire/issues/861, https://github.com/dougmoscrop/serverless-plugin-split-stacks/issues/123
TOO_MANY_PARAMETERS = "Template format error: Parameter count {count} is greater than max allowed {limit}"
# https://github.com/aws-samples/aws-vpc-cidr-mgmt/issues/10
TOO_LARGE = "Template may not exceed {limit} bytes in size."
# https://github.com/aws-amplify/amplify-cli/issues/13491
TOO_MANY_IN_OPERATION = "Limit on the number of resources in a single stack operation exceeded"


def template_problem(template: Mapping[str, Any], size: int) -> str:
    """CloudFormation's message refusing ``template`` (of ``size`` bytes) and what to do, or "" if it passes."""
    if size > MAX_TEMPLATE_BYTES:
        message = TOO_LARGE.format(limit=MAX_TEMPLATE_BYTES)
        return f"{message} (it has {size:,} bytes): split its resources over more stacks"
    for section, refusal, limit in (
        ("Resources", TOO_MANY_RESOURCES, MAX_RESOURCES),
        ("Outputs", TOO_MANY_OUTPUTS, MAX_OUTPUTS),
        ("Parameters", TOO_MANY_PARAMETERS, MAX_PARAMETERS),
    ):
        count = len(template.get(section) or {})
        if count > limit:
            what = "split its resources over more stacks" if section == "Resources" else f"declare at most {limit}"
            return f"{refusal.format(count=count, limit=limit)}: {what}"
    return ""


def check_template(artifact: StackArtifact) -> None:
    """Refuse the stack's template, naming its construct path and file, if CloudFormation would."""
    try:
        size = artifact.template_path.stat().st_size if artifact.template_file else 0
    except OSError:
        size = 0  # read when the assembly was; gone since: the size was fine then
    problem = template_problem(artifact.template, size)
    if problem:
        where = f" ({artifact.template_path})" if artifact.template_file else ""
        raise DeployError(f"{artifact.display_name}{where}: {problem}")


def check_operation(stack_name: str, touched: int, command: str) -> None:
    """Refuse a ``command`` (deploy or destroy) of a stack that touches more resources than one operation may."""
    if touched <= MAX_RESOURCES_PER_OPERATION:
        return
    verbs = "delete" if command == "destroy" else "create, update or delete"
    fix = (
        "remove resources from it in deploys first"
        if command == "destroy"
        else "deploy its resources as independent stacks, or in smaller steps"
    )
    raise DeployError(
        f"{stack_name}: {TOO_MANY_IN_OPERATION}: this {command} would {verbs} {touched:,} resources of {stack_name} "
        f"and its nested stacks, and CloudFormation allows {MAX_RESOURCES_PER_OPERATION:,} in one stack operation: "
        f"{fix}"
    )
