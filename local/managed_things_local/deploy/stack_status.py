"""CloudFormation's DescribeStacks, as the local deploy knows its stacks: for providers that ask their stack's status.

The provider asks ``cloudformation:DescribeStacks`` for its own stack to tell a
rollback Update (``UPDATE_ROLLBACK_IN_PROGRESS``) from a forward one. Locally the
engine is CloudFormation, so ``StackStatuses`` folds the executor's stack events
into each stack's current status, and ``StackStatusServer`` answers
DescribeStacks (AWS query protocol, XML) from it on loopback; execution
environments reach it at CloudFormation's hostname, through the front door. Every other
CloudFormation action is refused, as the provider needs no other.
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

from .stack_events import DeployEvent, StackEvent

_NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


@dataclass(frozen=True)
class StackStatusRecord:
    stack_name: str
    stack_id: str
    status: str
    created: datetime


class StackStatuses:
    """A listener of the executor: each stack's latest status, by name and by id; safe from worker threads."""

    def __init__(self) -> None:
        self._by_key: dict[str, StackStatusRecord] = {}
        self._lock = threading.Lock()

    def __call__(self, event: DeployEvent) -> None:
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


class StackStatusServer:
    """DescribeStacks on ``http://127.0.0.1:<port>``, answered from ``statuses``, while the context is open."""

    def __init__(self, statuses: StackStatuses) -> None:
        self.statuses = statuses
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(statuses))
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


def error_xml(code: str, message: str, request_id: str) -> str:
    return (
        f'<ErrorResponse xmlns="{_NAMESPACE}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )


def _handler_class(statuses: StackStatuses) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            action = (form.get("Action") or [""])[0]
            name = (form.get("StackName") or [""])[0]
            request_id = str(uuid.uuid4())
            if action != "DescribeStacks":
                self._send(
                    400, error_xml("InvalidAction", f"{action or 'An action'} is not served locally", request_id)
                )
                return
            record = statuses.find(name)
            if record is None:
                self._send(400, error_xml("ValidationError", f"Stack with id {name} does not exist", request_id))
                return
            self._send(200, describe_stacks_xml(record, request_id))

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
