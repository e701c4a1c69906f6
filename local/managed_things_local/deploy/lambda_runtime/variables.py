"""The environment variables of an execution environment: Lambda's, and nothing that could leave the machine."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from .function import FunctionSpec


def new_log_stream() -> str:
    """A log stream name as Lambda gives each environment one."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


def lambda_variables(
    function: FunctionSpec,
    endpoint_url: str,
    ca_file: Path,
    log_stream: str,
    service_endpoints: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The function's own variables, then those Lambda sets, with every AWS call sent to ``endpoint_url``
    (or, for a service of ``service_endpoints`` such as ``CLOUDFORMATION``, to its own local URL)."""
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
            # the service under test goes to the emulator, and so does any other AWS call (and fails there).
            "AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS": endpoint_url,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **trusted_ca_variables(ca_file),
        }
    )
    variables.update({f"AWS_ENDPOINT_URL_{service}": url for service, url in (service_endpoints or {}).items()})
    return variables


def trusted_ca_variables(ca_file: Path) -> dict[str, str]:
    """OpenSSL's variables that make ``ca_file`` the only CA a handler's default SSL context trusts.

    The ResponseURL is HTTPS on loopback, with a certificate from the local deploy's own CA. No directory of CAs
    either (OpenSSL's default is the system's): nothing else is reachable by design, and crhelper makes a new
    context per answer, which registering that directory makes about 0.1 ms slower.
    """
    return {"SSL_CERT_FILE": str(ca_file), "SSL_CERT_DIR": os.devnull}
