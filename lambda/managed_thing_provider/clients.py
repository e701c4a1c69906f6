"""AWS clients of the provider, configured explicitly (botocore's defaults differ between versions)."""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from managed_things_model.contract import SECRET_ARN_PROPERTY
from managed_things_model.service_model import SERVICE_NAME, botocore_session

from .errors import ProviderError

# Throttling and 5xx are retried with standard mode's backoff. Timeouts keep the
# worst case of one call (5 x (3 + 10) s plus backoff) well inside the Lambda
# timeout, so crhelper still answers before Lambda ends the invocation.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
    user_agent_extra="cdk-managed-things",
)


def configure_default_session() -> None:
    """Make boto3's default session (crhelper's too) load the bundled service model.

    One shared session also means one loader cache: the second and later clients
    cost a few milliseconds instead of tens.
    """
    boto3.setup_default_session(botocore_session=botocore_session())


def managed_integrations_client() -> object:
    """The ``iot-managed-integrations`` client; honours AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS."""
    return boto3.client(SERVICE_NAME, config=CLIENT_CONFIG)


def read_secret(secret_arn: str) -> str:
    """Read the authentication material from Secrets Manager at deploy time."""
    from aws_lambda_powertools.utilities import parameters  # only stacks using secrets pay for the import

    provider = parameters.SecretsProvider(boto3_client=boto3.client("secretsmanager", config=CLIENT_CONFIG))
    try:
        value = provider.get(secret_arn, max_age=0)
    except parameters.exceptions.GetParameterError as error:
        cause = error.__cause__ or error.__context__  # Powertools re-raises without chaining
        code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else type(cause).__name__
        raise ProviderError(f"{SECRET_ARN_PROPERTY}: could not read the secret ({code})") from None
    return value  # type: ignore[return-value]
