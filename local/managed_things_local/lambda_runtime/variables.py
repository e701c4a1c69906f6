"""The environment variables of an execution environment: Lambda's, and nothing that could leave the machine."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from .function import FunctionSpec


def new_log_stream() -> str:
    """A log stream name as Lambda gives each environment one."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


class Network(Protocol):
    """Where an execution environment's AWS calls go: the variables that send them there."""

    def variables(self, region: str) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class DirectEndpoint:
    """Every AWS call of the environment to one local server, by ``AWS_ENDPOINT_URL`` (which overrides botocore's
    endpoint rules): for running a handler against the emulator alone. A local deploy uses the front door."""

    url: str

    def variables(self, region: str) -> Mapping[str, str]:
        return {"AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS": self.url, "AWS_ENDPOINT_URL": self.url}


def lambda_variables(function: FunctionSpec, network: Network, ca_file: Path, log_stream: str) -> dict[str, str]:
    """The function's own variables, then those Lambda sets, with every AWS call sent where ``network`` says."""
    variables = {key: str(value) for key, value in function.environment.items()}
    variables.update(
        {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": function.code_dir,
            "PYTHONNOUSERSITE": "1",
            "LAMBDA_TASK_ROOT": function.code_dir,
            "_HANDLER": function.handler,
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_ACCESS_KEY_ID": function.access_key_id,  # who calls: the local services enforce its role
            "AWS_SECRET_ACCESS_KEY": "local-deploy-fake-secret-access-key",
            "AWS_SESSION_TOKEN": "local-deploy-fake-session-token",
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
            # Nothing the handler does may leave the machine or read the user's AWS configuration:
            # its AWS calls go where ``network`` sends them (the front door, or one local server).
            **network.variables(function.region),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **trusted_ca_variables(ca_file),
        }
    )
    return variables


def trusted_ca_variables(ca_file: Path) -> dict[str, str]:
    """OpenSSL's variables that make ``ca_file`` the only CA a handler's default SSL context trusts.

    The ResponseURL is HTTPS on loopback, with a certificate from the local deploy's own CA. No directory of CAs
    either (OpenSSL's default is the system's): nothing else is reachable by design, and crhelper makes a new
    context per answer, which registering that directory makes about 0.1 ms slower.
    """
    return {"SSL_CERT_FILE": str(ca_file), "SSL_CERT_DIR": os.devnull}
