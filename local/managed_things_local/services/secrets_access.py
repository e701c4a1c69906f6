"""IAM in front of the local Secrets Manager: each request is authorized before moto's server sees it.

moto can enforce IAM itself, but only for identities of its own IAM backend (users and access keys it created,
and roles assumed through its STS), with policies fixed when they are attached; the local engine's policies are
resolved per call against the deployed stack. So the check sits in front, as a WSGI layer around moto's app,
with the same authority as the other local services: action ``secretsmanager:<Operation>`` of the
``X-Amz-Target`` header, resource the secret's ARN (the ``SecretId`` as given when no such secret is known,
as Secrets Manager names it in a denial: https://github.com/nautobot/nautobot-app-secrets-providers/issues/64).
A denial is the JSON 1.1 protocol's error, ``AccessDeniedException`` (HTTP 400, Secrets Manager's common
errors: https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html).
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from ..emulator.responses import Authorizer, region_of

_TARGET = re.compile(r"^secretsmanager\.(\w+)$")

# A SecretId (name or ARN) and region -> the secret's complete ARN, or None when no such secret is known.
SecretArnLookup = Callable[[str, str], "str | None"]


class GuardedSecretsApp:
    """moto's WSGI app, each Secrets Manager request authorized first."""

    def __init__(self, app: Any, authorizer: Authorizer, secret_arn: SecretArnLookup) -> None:
        self.app = app
        self.authorizer = authorizer
        self.secret_arn = secret_arn

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = _TARGET.match(environ.get("HTTP_X_AMZ_TARGET") or "")
        if target is None:  # not a Secrets Manager call (moto's own API: the engine's reset)
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        headers = {"Authorization": environ.get("HTTP_AUTHORIZATION") or ""}
        denial = self.authorizer(headers, f"secretsmanager:{target.group(1)}", self._resource(headers, body))
        if denial is None:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        answer = json.dumps({"__type": "AccessDeniedException", "Message": denial}).encode()
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(answer))),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [answer]

    def _resource(self, headers: Mapping[str, str], body: bytes) -> str:
        try:
            secret_id = json.loads(body or b"{}").get("SecretId")
        except (ValueError, AttributeError):
            secret_id = None
        if not isinstance(secret_id, str) or not secret_id:
            return "*"
        return self.secret_arn(region_of(headers), secret_id) or secret_id


class GuardedMotoServer(ThreadedMotoServer):
    """``ThreadedMotoServer`` whose app is ``GuardedSecretsApp``."""

    def __init__(self, authorizer: Authorizer, secret_arn: SecretArnLookup, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._authorizer = authorizer
        self._secret_arn = secret_arn

    def _server_entry(self) -> None:  # as moto's, with the app wrapped
        app = GuardedSecretsApp(DomainDispatcherApplication(create_backend_app), self._authorizer, self._secret_arn)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()
