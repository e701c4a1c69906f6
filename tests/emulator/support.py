"""Shared by the emulator tests: clients pointed at an emulator, and raw HTTP for the wire details."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
from botocore.config import Config

REGION = "eu-west-1"
# What botocore sends (a SigV4 header scoped to eu-west-1); the emulator reads the region, not the signature.
AUTHORIZATION = (
    f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/iotmanagedintegrations/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0000"
)


def make_client(url: str, region: str = REGION, **config: Any) -> Any:
    """A boto3 iot-managed-integrations client for the emulator at ``url``, with fake credentials.

    ``config`` is botocore ``Config``; retries are off unless it says otherwise.
    """
    return boto3.client(
        "iot-managed-integrations",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**{"retries": {"mode": "standard", "total_max_attempts": 1}, **config}),
    )


def thing(**members: Any) -> dict[str, Any]:
    """The smallest valid CreateManagedThing request, plus ``members``."""
    return {
        "Role": "DEVICE",
        "AuthenticationMaterial": "WIFI:S:home;;",
        "AuthenticationMaterialType": "WIFI_SETUP_QR_BAR_CODE",
        **members,
    }


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_type(self) -> str | None:
        return self.headers.get("x-amzn-errortype")


class RawClient:
    """Plain HTTP to the emulator, with a body sent exactly as given."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def request(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None
    ) -> RawResponse:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        sent = {"Authorization": AUTHORIZATION, "Content-Type": "application/json", **(headers or {})}
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def create(self, body: Any) -> RawResponse:
        return self.request("POST", "/managed-things", body)


def arn_path(arn: str) -> str:
    """/tags/{ResourceArn} as botocore sends it: the label percent-encoded, '/' and ':' included."""
    return "/tags/" + quote(arn, safe="")
