"""HTTP requests to backend calls and back: route, parse, call, shape the answer or the error."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore import xform_name

from .exceptions import (
    AccessDeniedException,
    InternalServerException,
    NotImplementedByEmulator,
    ServiceError,
    UnknownOperationException,
)
from .faults import FaultInjector
from .models import DEFAULT_REGION, RESOURCE_TYPE, CreateResult, ManagedThingsBackend
from .serialization import parse_request, serialize_output
from .urls import resolve

LOG = logging.getLogger(__name__)

# The operations served; each is the backend method of the same name in snake case.
OPERATIONS = frozenset(
    {
        "CreateManagedThing",
        "GetManagedThing",
        "UpdateManagedThing",
        "DeleteManagedThing",
        "ListManagedThings",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
    }
)
# A SigV4 credential scope: Credential=<access key id>/<date>/<region>/<service>/aws4_request
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")
# The operations whose IAM action has no resource type: authorized on "*" (Service Authorization Reference,
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiotmanagedintegrations.html).
_UNSCOPED = frozenset({"CreateManagedThing", "ListManagedThings"})

# Who may call: (the request's headers, IAM action, resource ARN) -> None, or why not (AccessDeniedException).
Authorizer = Callable[[Mapping[str, str], str, str], "str | None"]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # the path and query, percent-encoded as received
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class ManagedThingsResponses:
    """Answers HTTP requests with the backend, injecting the configured faults."""

    def __init__(
        self, backend: ManagedThingsBackend, faults: FaultInjector, authorizer: Authorizer | None = None
    ) -> None:
        self.backend = backend
        self.faults = faults
        self.authorizer = authorizer  # None: every caller may do everything (the emulator on its own)

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            status, headers, body = self._answer(request)
        except ServiceError as error:
            status, headers, body = _error(error)
        except Exception:
            LOG.exception("%s %s failed", request.method, request.target)
            status, headers, body = _error(InternalServerException("An internal error occurred."))
        return HttpResponse(status, {"x-amzn-RequestId": request_id, **headers}, body)

    def _answer(self, request: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        self.faults.before_request()
        split = urlsplit(request.target)
        query = parse_qs(split.query, keep_blank_values=True)
        match = resolve(request.method.upper(), split.path, query)
        if match is None:
            raise UnknownOperationException(f"No operation for {request.method} {split.path}")
        operation = match.operation
        if operation.name not in OPERATIONS:
            raise NotImplementedByEmulator(f"The emulator does not implement {operation.name}")
        params = parse_request(operation, match.labels, query, request.headers, request.body)
        if self.authorizer is not None:
            self._authorize(request, operation.name, match.labels, params)
        method = getattr(self.backend, xform_name(operation.name))
        output: Any = method(params, region=region_of(request.headers))
        if isinstance(output, CreateResult):
            if output.created and (error := self.faults.after_commit()) is not None:
                raise error
            output = output.thing
        headers, body = serialize_output(operation, output)
        status = int(operation.http.get("responseCode", 200))
        if status == 204:
            return status, headers, b""
        return status, {"Content-Type": "application/json", **headers}, body

    def _authorize(
        self, request: HttpRequest, operation: str, labels: Mapping[str, str], params: Mapping[str, Any]
    ) -> None:
        """AccessDeniedException unless the caller may perform each authorization the request needs: the operation's
        action on the thing it names (its ARN), or on ``*`` for the operations without a resource type; on the
        credential locker it names, a resource type the Service Authorization Reference lists for CreateManagedThing
        and UpdateManagedThing; and ``TagResource`` for a CreateManagedThing with tags, which that reference lists as
        the operation's second action (checked on the thing to be, ``managed-thing/*``)."""
        region = region_of(request.headers)
        prefix = f"arn:aws:iotmanagedintegrations:{region}:{self.backend.account_id}:"
        if operation in _UNSCOPED:
            resource = "*"
        elif "ResourceArn" in labels:
            resource = labels["ResourceArn"]
        else:
            resource = f"{prefix}{RESOURCE_TYPE}/{labels.get('Identifier', '')}"
        checks = [(operation, resource)]
        if isinstance(locker := params.get("CredentialLockerId"), str) and locker:
            checks.append((operation, f"{prefix}credential-locker/{locker}"))
        if operation == "CreateManagedThing" and params.get("Tags"):
            checks.append(("TagResource", f"{prefix}{RESOURCE_TYPE}/*"))
        assert self.authorizer is not None
        for action, arn in checks:
            denial = self.authorizer(request.headers, f"iotmanagedintegrations:{action}", arn)
            if denial is not None:
                raise AccessDeniedException(denial)


def region_of(headers: Mapping[str, str]) -> str:
    """The region a SigV4 ``Authorization`` header was signed for, else the default region (eu-west-1)."""
    found = _CREDENTIAL.search(headers.get("Authorization") or "")
    return found.group(2) if found else DEFAULT_REGION


def access_key_of(headers: Mapping[str, str]) -> str:
    """The access key id a SigV4 ``Authorization`` header was signed with ("" when the request is not signed)."""
    found = _CREDENTIAL.search(headers.get("Authorization") or "")
    return found.group(1) if found else ""


def _error(error: ServiceError) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error.code}
    return error.status, headers, json.dumps(error.body()).encode()
