"""AWS clients of the provider, configured explicitly (botocore's defaults differ between versions)."""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from managed_things_model.contract import SECRET_ARN_PROPERTY
from managed_things_model.service_model import SERVICE_NAME, botocore_session

from .deadline import CONNECT_TIMEOUT, READ_TIMEOUT, ApiError, Deadline, call
from .errors import ProviderError

# One attempt per botocore call: the provider retries throttling, 5xx and lost
# connections itself, within the invocation's deadline (deadline.call), with
# timeouts that shrink as the deadline nears; botocore's retries cannot stop there.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=CONNECT_TIMEOUT,
    read_timeout=READ_TIMEOUT,
    user_agent_extra="cdk-managed-things",
)
# The stack status is a hint, not a necessity: short timeouts, and at most this long in all.
STACK_STATUS_CONFIG = CLIENT_CONFIG.merge(Config(connect_timeout=2, read_timeout=5))
STACK_STATUS_SECONDS = 8.0
# Whether a stack is rolling back decides whether an Update replaces its thing (a rollback Update never does), so a
# busy CloudFormation gets longer: DescribeStacks is throttled at a few calls a second per account
# (aws/aws-sam-cli#2671, aws/aws-cli#3186), and a fleet-wide rollback asks it once per thing whose Update would replace.
ROLLBACK_STATUS_SECONDS = 45.0
# DescribeStackResource's answer when the stack or the resource does not exist: a ValidationError whose message says
# so ("Stack with id X does not exist", "Resource X does not exist for stack Y": boto/boto3#2807, getmoto/moto#4186).
# A deleted stack's resources are still described, by stack id, for 90 days (DELETE_COMPLETE):
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResource.html
RESOURCE_GONE = "GONE"
# Stack statuses in which CloudFormation sends rollback Updates.
_ROLLBACK_STATUSES = frozenset({"UPDATE_ROLLBACK_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "IMPORT_ROLLBACK_IN_PROGRESS"})


def configure_default_session() -> None:
    """Make boto3's default session (crhelper's too) load the bundled service model.

    One shared session also means one loader cache: the second and later clients
    cost a few milliseconds instead of tens.
    """
    boto3.setup_default_session(botocore_session=botocore_session())


def managed_integrations_client() -> object:
    """The ``iot-managed-integrations`` client, at the host the service's endpoint rules give for the region
    (or AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS, botocore's own setting, when one is configured)."""
    return boto3.client(SERVICE_NAME, config=CLIENT_CONFIG)


def read_secret(secret_arn: str, deadline: Deadline | None = None) -> str:
    """Read the authentication material from Secrets Manager at deploy time, within the deadline.

    ``secret_arn`` is the secret's ARN (``ManagedThing``) or its name (``ManagedThingFleet``): both are a SecretId.
    """
    from aws_lambda_powertools.utilities import parameters  # only stacks using secrets pay for the import

    config = (deadline or Deadline.none()).client_config(CLIENT_CONFIG)
    provider = parameters.SecretsProvider(boto3_client=boto3.client("secretsmanager", config=config))
    try:
        value = provider.get(secret_arn, max_age=0)
    except parameters.exceptions.GetParameterError as error:
        cause = error.__cause__ or error.__context__  # Powertools re-raises without chaining
        code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else type(cause).__name__
        raise ProviderError(f"{SECRET_ARN_PROPERTY}: could not read the secret ({code})") from None
    return value  # type: ignore[return-value]


_cloudformation: object | None = None


def cloudformation_client() -> object:
    """CloudFormation, only to read the stack's status; made on first use (most events never need it)."""
    global _cloudformation
    if _cloudformation is None:
        _cloudformation = boto3.client("cloudformation", config=STACK_STATUS_CONFIG)
    return _cloudformation


class StackStatusUnavailable(ProviderError):
    """The stack's status could not be read for a while (throttled, 5xx, no answer): a retry may read it."""


def stack_is_rolling_back(stack_id: str, deadline: Deadline) -> bool | None:
    """Whether the stack is rolling back (its Updates are then rollback Updates); None when it cannot be known.

    One ``cloudformation:DescribeStacks`` of this stack only, reading ``Stacks[0].StackStatus``, retried for up to
    ``ROLLBACK_STATUS_SECONDS``. Refused (no permission), or no endpoint or credentials: None, and the caller decides
    from the properties. Unavailable for that long (throttling, 5xx, no answer): ``StackStatusUnavailable``, for a
    replacement decided on a guess would re-create the thing in a rollback.
    """
    try:
        response = call(
            cloudformation_client(), "DescribeStacks", deadline, limit=ROLLBACK_STATUS_SECONDS, StackName=stack_id
        )
    except ApiError as error:
        if error.retryable:
            raise StackStatusUnavailable(
                "Update not applied: the stack's status (cloudformation:DescribeStacks), which decides whether this "
                f"Update replaces the thing (never in a rollback), stayed unavailable ({error.code}): deploy again, or "
                "`cdk rollback` if the stack is rolling back"
            ) from None
        return None
    except Exception:  # e.g. no region for the client: the status is unknown
        return None
    stacks = response.get("Stacks") or []
    status = stacks[0].get("StackStatus") if stacks else None
    if not isinstance(status, str):
        return None
    return status in _ROLLBACK_STATUSES


def stack_resource_status(stack_id: str, logical_resource_id: str, deadline: Deadline) -> str | None:
    """The resource's ``ResourceStatus`` as CloudFormation sees it, ``RESOURCE_GONE``, or None when unknown.

    One ``cloudformation:DescribeStackResource`` (``StackResourceDetail.ResourceStatus``), with the short timeouts and
    the budget of ``stack_is_rolling_back``. Unknown (no permission, throttled, no answer) is not an error.
    """
    try:
        response = call(
            cloudformation_client(),
            "DescribeStackResource",
            deadline,
            limit=STACK_STATUS_SECONDS,
            StackName=stack_id,
            LogicalResourceId=logical_resource_id,
        )
    except ApiError as error:
        if error.code == "ValidationError" and "does not exist" in str(error):
            return RESOURCE_GONE
        return None
    except Exception:  # e.g. no region for the client: the status is unknown
        return None
    status = (response.get("StackResourceDetail") or {}).get("ResourceStatus")
    return status if isinstance(status, str) else None
