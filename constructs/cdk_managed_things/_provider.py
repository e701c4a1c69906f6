"""The one provider function per stack that answers every Custom::ManagedThing."""

from __future__ import annotations

import re
import weakref
from typing import cast

from aws_cdk import Acknowledgment, ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct
from managed_things_model.contract import HANDLER, SECRET_NAME_PATTERN

from ._asset import provider_code
from ._errors import ConfigurationError

PROVIDER_ID = "CdkManagedThingsProvider"
# The resources a provider adds to its stack: the function, its event invoke config (no retries), its role, the
# role's policy and the log group.
PROVIDER_RESOURCES = 5
# The provider's one deadline per invocation is derived from this (less a reserve to answer).
FUNCTION_TIMEOUT = Duration.minutes(2)
# CloudFormation waits this long for an answer (its default is one hour).
SERVICE_TIMEOUT_SECONDS = "300"
# Lambda's bounds for MaximumEventAgeInSeconds
# (https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html).
MIN_EVENT_AGE_SECONDS = 60
# How cdk-nag names an ARN it finds a wildcard in: intrinsics as <AWS::...>, an env's region and account as they are.
_THING_ARN_FINDING = "arn:<AWS::Partition>:iotmanagedintegrations:{region}:{account}:managed-thing/*"
_LOCKER_ARN_FINDING = "arn:<AWS::Partition>:iotmanagedintegrations:{region}:{account}:credential-locker/*"
THING_ACTIONS = [
    "iotmanagedintegrations:GetManagedThing",
    "iotmanagedintegrations:UpdateManagedThing",
    "iotmanagedintegrations:DeleteManagedThing",
    "iotmanagedintegrations:TagResource",
    "iotmanagedintegrations:UntagResource",
]

# Secret names have no wildcard characters, so a prefix grants only what it says.
_SECRET_NAME_PREFIX = re.compile(SECRET_NAME_PATTERN)
_SECRET_ARN_FINDING = "arn:<AWS::Partition>:secretsmanager:{region}:{account}:secret:{prefix}*"

# Read only to tell a rollback Update from a forward one (see the provider's clients.stack_is_rolling_back).
STACK_STATUS_ACTION = "cloudformation:DescribeStacks"
# Read only by a Create, once its thing is committed, to learn whether CloudFormation cancelled it (the provider's
# clients.stack_resource_status). Its resource type is the stack, as DescribeStacks':
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html
RESOURCE_STATUS_ACTION = "cloudformation:DescribeStackResource"
# Authorized before a thing exists (CreateManagedThing), or across things (ListManagedThings: a Delete whose id names
# no thing finds what its cancelled Create made): no thing ARN to scope either to.
UNSCOPED_ACTIONS = ["iotmanagedintegrations:CreateManagedThing", "iotmanagedintegrations:ListManagedThings"]


_PROVIDERS: weakref.WeakKeyDictionary[Construct, ManagedThingProvider] = weakref.WeakKeyDictionary()


class ManagedThingProvider(Construct):
    """The provider function, its role and its log group; use :meth:`of` to get the stack's one."""

    @classmethod
    def of(cls, scope: Construct) -> ManagedThingProvider:
        """The provider of ``scope``'s stack, created on first use."""
        # Remembered per scope: a fleet asks once per thing, and each jsii call costs.
        provider = _PROVIDERS.get(scope)
        if provider is None:
            stack = Stack.of(scope)
            existing = stack.node.try_find_child(PROVIDER_ID)
            provider = existing if isinstance(existing, ManagedThingProvider) else cls(stack, PROVIDER_ID)
            _PROVIDERS[scope] = provider
        return provider

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self._concurrency: tuple[int, str] | None = None
        self._shortest_service_timeout: int | None = None
        self._secret_prefixes: set[str] = set()
        stack = Stack.of(self)
        log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Creates, updates and deletes AWS IoT managed things for Custom::ManagedThing",
        )
        log_group.grant_write(self.role)
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=UNSCOPED_ACTIONS, resources=["*"]))
        thing_arns = stack.format_arn(service="iotmanagedintegrations", resource="managed-thing", resource_name="*")
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=THING_ACTIONS, resources=[thing_arns]))
        # The Service Authorization Reference lists credential-locker as a resource type of UpdateManagedThing: an
        # Update that names a locker (CredentialLockerId) is authorized on it too.
        lockers = stack.format_arn(service="iotmanagedintegrations", resource="credential-locker", resource_name="*")
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["iotmanagedintegrations:UpdateManagedThing"], resources=[lockers])
        )
        # Is an Update a rollback Update? Was a Create cancelled? The provider reads its own stack, and no other.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=[STACK_STATUS_ACTION, RESOURCE_STATUS_ACTION], resources=[stack.stack_id])
        )
        self.function = lambda_.Function(
            self,
            "Handler",
            description="cdk-managed-things: Custom::ManagedThing provider",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=provider_code(),
            timeout=FUNCTION_TIMEOUT,
            memory_size=256,
            role=self.role,
            log_group=log_group,
            # crhelper answers CloudFormation itself; a Lambda retry after a FAILED
            # answer would run the event again after CloudFormation moved on.
            retry_attempts=0,
            environment={"POWERTOOLS_SERVICE_NAME": "managed-thing-provider"},
        )
        self.service_token = self.function.function_arn
        # The role's DefaultPolicy: every permission of the provider, secret grants included.
        self.policy_resource = self.role.node.find_child("DefaultPolicy").node.default_child
        # Bare rule ids: cdk-nag 3.0.2 honours them both as a validation plugin and when run directly
        # (the "AwsSolutions::" prefix CDK suggests is ignored by the direct run).
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="CreateManagedThing is authorized before the thing exists, and ListManagedThings (a Delete "
                "finding what a cancelled Create made) across things: there is no thing ARN to scope to.",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_LOCKER_ARN_FINDING.format(**_finding_environment(stack))}]",
                reason="UpdateManagedThing is authorized on the credential locker an Update names, which the "
                "template may not know (a locker's id).",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_THING_ARN_FINDING.format(**_finding_environment(stack))}]",
                reason="The provider manages this stack's things, whose ids the service assigns at create time.",
            ),
        )

    def reserve_concurrency(self, concurrency: int, requested_by: str) -> None:
        """Reserve ``concurrency`` executions for the function; ``requested_by`` names who asks, for a conflict."""
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"{requested_by}: provider_concurrency must be a whole number of at least 1")
        if self._concurrency is not None and self._concurrency[0] != concurrency:
            value, other = self._concurrency
            raise ConfigurationError(
                f"{requested_by}: provider_concurrency={concurrency}, but {other} set {value}: one provider "
                f"function serves every managed thing of stack {Stack.of(self).node.path}; give both the same value"
            )
        self._concurrency = (concurrency, requested_by)
        cast(lambda_.CfnFunction, self.function.node.default_child).reserved_concurrent_executions = concurrency

    def serve_with_service_timeout(self, seconds: int) -> None:
        """Resources with this ServiceTimeout are served: the function's MaximumEventAge becomes the shortest one
        (at least Lambda's minimum of 60 s), so that an event CloudFormation stopped waiting for is dropped from
        Lambda's queue instead of running hours later (Lambda keeps events for up to 6 hours by default:
        https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html)."""
        if self._shortest_service_timeout is not None and self._shortest_service_timeout <= seconds:
            return
        self._shortest_service_timeout = seconds
        config = self.function.node.find_child("EventInvokeConfig").node.default_child
        cast(lambda_.CfnEventInvokeConfig, config).maximum_event_age_in_seconds = max(MIN_EVENT_AGE_SECONDS, seconds)

    def grant_secrets_named(self, prefix: str, requested_by: str) -> None:
        """Let the function read every secret whose name starts with ``prefix``: one statement per prefix."""
        if not isinstance(prefix, str) or not _SECRET_NAME_PREFIX.fullmatch(prefix):
            raise ConfigurationError(
                f"{requested_by}: secret_name_prefix must be a non-empty secret name prefix "
                "(letters, digits and /_+=.@-; no wildcards)"
            )
        if prefix in self._secret_prefixes:
            return
        self._secret_prefixes.add(prefix)
        secrets = Stack.of(self).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secrets])
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::"
                f"{_SECRET_ARN_FINDING.format(prefix=prefix, **_finding_environment(Stack.of(self)))}]",
                reason=f"{requested_by} names its things' secrets by the prefix {prefix}: one statement for "
                "a fleet, where one per secret would outgrow the role's policy size limit.",
            )
        )


def _finding_environment(stack: Stack) -> dict[str, str]:
    """The region and account of ``stack`` as cdk-nag writes them in a finding's ARN."""
    return {
        "region": "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region,
        "account": "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account,
    }
