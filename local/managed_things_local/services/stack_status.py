"""CloudFormation's DescribeStacks and DescribeStackResource, as the local deploy knows its stacks and resources.

The provider asks ``cloudformation:DescribeStacks`` for its own stack to tell a
rollback Update (``UPDATE_ROLLBACK_IN_PROGRESS``) from a forward one, and
``cloudformation:DescribeStackResource`` once a Create committed its thing, to learn
whether CloudFormation cancelled it (``CREATE_FAILED``, ``DELETE_*``, or gone). Locally
the engine is CloudFormation, so ``StackStatuses`` folds the executor's stack and
resource events into each stack's and each resource's current status, and
``StackStatusServer`` answers both actions (AWS query protocol, XML) from it on
loopback; execution environments reach it at CloudFormation's hostname, through the front door.
Every other CloudFormation action is refused, as the provider needs no other.
Only what this run's events said is known: a stack or resource without an event yet
is answered as CloudFormation answers one that does not exist.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from ..cloudformation.stack_events import DeployEvent, ResourceEvent, StackEvent
from ..emulator.responses import Authorizer

_NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


@dataclass(frozen=True)
class StackStatusRecord:
    stack_name: str
    stack_id: str
    status: str
    created: datetime


@dataclass(frozen=True)
class ResourceStatusRecord:
    logical_id: str
    resource_type: str
    status: str
    physical_id: str
    reason: str
    updated: datetime


class StackStatuses:
    """A listener of the executor: each stack's latest status, by name and by id, and each resource's (by stack id
    and logical id); safe from worker threads."""

    def __init__(self) -> None:
        self._by_key: dict[str, StackStatusRecord] = {}
        self._resources: dict[tuple[str, str], ResourceStatusRecord] = {}
        self._lock = threading.Lock()

    def __call__(self, event: DeployEvent) -> None:
        if isinstance(event, ResourceEvent):
            updated = datetime.fromtimestamp(event.timestamp, UTC)
            resource = ResourceStatusRecord(
                event.logical_id, event.resource_type, str(event.status), event.physical_id, event.reason, updated
            )
            with self._lock:
                # By the stack's id, not its name: a stack created again under its name (after a failed creation) is
                # another stack, and a late Create of the first one must not see the second one's resource.
                stack = self._by_key.get(event.stack_name)
                self._resources[(stack.stack_id if stack else event.stack_name, event.logical_id)] = resource
            return
        if not isinstance(event, StackEvent) or not event.stack_id:
            return
        with self._lock:
            known = self._by_key.get(event.stack_id)
            created = known.created if known else datetime.fromtimestamp(event.timestamp, UTC)
            record = StackStatusRecord(event.stack_name, event.stack_id, str(event.status), created)
            self._by_key[event.stack_id] = self._by_key[event.stack_name] = record

    def find(self, name_or_id: str) -> StackStatusRecord | None:
        with self._lock:
            return self._by_key.get(name_or_id)

    def find_resource(self, stack: StackStatusRecord, logical_id: str) -> ResourceStatusRecord | None:
        with self._lock:
            return self._resources.get((stack.stack_id, logical_id))


class StackStatusServer:
    """DescribeStacks on ``http://127.0.0.1:<port>``, answered from ``statuses``, while the context is open;
    ``authorizer`` (the local engine's IAM) decides who may call, on the stack's id."""

    def __init__(self, statuses: StackStatuses, authorizer: Authorizer | None = None) -> None:
        self.statuses = statuses
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(statuses, authorizer))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="stack-status", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StackStatusServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def describe_stacks_xml(record: StackStatusRecord, request_id: str) -> str:
    created = record.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (
        f'<DescribeStacksResponse xmlns="{_NAMESPACE}"><DescribeStacksResult><Stacks><member>'
        f"<StackName>{escape(record.stack_name)}</StackName><StackId>{escape(record.stack_id)}</StackId>"
        f"<CreationTime>{created}</CreationTime><StackStatus>{escape(record.status)}</StackStatus>"
        f"</member></Stacks></DescribeStacksResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></DescribeStacksResponse>"
    )


def describe_stack_resource_xml(stack: StackStatusRecord, resource: ResourceStatusRecord, request_id: str) -> str:
    """botocore's ``DescribeStackResource`` output: ``StackResourceDetail`` in ``DescribeStackResourceResult``."""
    updated = resource.updated.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    physical = (
        f"<PhysicalResourceId>{escape(resource.physical_id)}</PhysicalResourceId>" if resource.physical_id else ""
    )
    reason = f"<ResourceStatusReason>{escape(resource.reason)}</ResourceStatusReason>" if resource.reason else ""
    return (
        f'<DescribeStackResourceResponse xmlns="{_NAMESPACE}"><DescribeStackResourceResult><StackResourceDetail>'
        f"<StackName>{escape(stack.stack_name)}</StackName><StackId>{escape(stack.stack_id)}</StackId>"
        f"<LogicalResourceId>{escape(resource.logical_id)}</LogicalResourceId>{physical}"
        f"<ResourceType>{escape(resource.resource_type)}</ResourceType>"
        f"<LastUpdatedTimestamp>{updated}</LastUpdatedTimestamp>"
        f"<ResourceStatus>{escape(resource.status)}</ResourceStatus>{reason}"
        f"</StackResourceDetail></DescribeStackResourceResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></DescribeStackResourceResponse>"
    )


def error_xml(code: str, message: str, request_id: str) -> str:
    return (
        f'<ErrorResponse xmlns="{_NAMESPACE}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )


def stack_arn(name_or_id: str, record: StackStatusRecord | None) -> str:
    """The resource a call on a stack is authorized on: its id, else (a stack nobody knows) the ARN pattern of
    its name, as IAM names it in a denial."""
    if record is not None:
        return record.stack_id
    return name_or_id if name_or_id.startswith("arn:") else f"arn:aws:cloudformation:*:*:stack/{name_or_id}/*"


def _handler_class(statuses: StackStatuses, authorizer: Authorizer | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            action = (form.get("Action") or [""])[0]
            name = (form.get("StackName") or [""])[0]
            request_id = str(uuid.uuid4())
            if action not in ("DescribeStacks", "DescribeStackResource"):
                self._send(
                    400, error_xml("InvalidAction", f"{action or 'An action'} is not served locally", request_id)
                )
                return
            # CloudFormation's ValidationErrors for what does not exist (boto/boto3#2807, getmoto/moto#4186).
            record = statuses.find(name)
            resource = stack_arn(name, record)
            denial = authorizer(dict(self.headers), f"cloudformation:{action}", resource) if authorizer else None
            if denial is not None:
                # The query protocol's error, code AccessDenied and HTTP 403, as CloudFormation answers a role
                # without cloudformation:DescribeStacks (https://github.com/anomalyco/sst/issues/3006).
                self._send(403, error_xml("AccessDenied", denial, request_id))
                return
            if record is None:
                self._send(400, error_xml("ValidationError", f"Stack with id {name} does not exist", request_id))
                return
            if action == "DescribeStacks":
                self._send(200, describe_stacks_xml(record, request_id))
                return
            logical_id = (form.get("LogicalResourceId") or [""])[0]
            found = statuses.find_resource(record, logical_id)
            if found is None:
                message = f"Resource {logical_id} does not exist for stack {record.stack_name}"
                self._send(400, error_xml("ValidationError", message, request_id))
                return
            self._send(200, describe_stack_resource_xml(record, found, request_id))

        def _send(self, status: int, body: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
