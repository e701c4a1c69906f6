"""The local stand-in for CloudFormation's presigned ResponseURL: an HTTPS server on loopback.

crhelper always PUTs its answer over HTTPS with the default SSL context, so the
server presents a certificate for 127.0.0.1/localhost from a throwaway CA
(trustme) and the handler process trusts that CA through ``SSL_CERT_FILE``.
Each request gets its own unguessable path; the answer is matched by it.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

from .background import BackgroundServer

# CloudFormation rejects answers larger than this ("Response object is too long.").
MAX_RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class Answer:
    """A custom resource's answer, checked the way CloudFormation checks it."""

    status: str
    reason: str = ""
    physical_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"


def parse_answer(body: bytes, request_id: str) -> Answer:
    if len(body) > MAX_RESPONSE_BYTES:
        return Answer("FAILED", f"Response object is too long ({len(body)} bytes; CloudFormation allows 4096).")
    try:
        document = json.loads(body)
    except ValueError:
        return Answer("FAILED", "Response is not valid JSON.")
    if not isinstance(document, dict):
        return Answer("FAILED", "Response is not a JSON object.")
    status = document.get("Status")
    reason = str(document.get("Reason") or "")
    physical_id = document.get("PhysicalResourceId")
    data = document.get("Data") or {}
    if document.get("RequestId") not in (None, request_id):
        return Answer("FAILED", "Response's RequestId does not match the request.")
    if status not in ("SUCCESS", "FAILED"):
        return Answer("FAILED", f"Invalid response status {status!r} (must be SUCCESS or FAILED).")
    if not isinstance(data, dict):
        return Answer("FAILED", "Response's Data is not an object.")
    if status == "SUCCESS" and (not isinstance(physical_id, str) or not physical_id or len(physical_id) > 1024):
        return Answer("FAILED", "Invalid PhysicalResourceId.")
    return Answer(status, reason, physical_id if isinstance(physical_id, str) else "", data)


class _Pending:
    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.event = threading.Event()
        self.answer: Answer | None = None


class ResponseReceiver(BackgroundServer):
    """An HTTPS server for custom resource answers; use as a context manager."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        self._directory = directory
        self._host = host
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self.ca_file = directory / "response-ca.pem"
        self.ca: trustme.CA | None = None  # the local deploy's CA (the front door issues its certificates too)
        self.base_url = ""

    def start(self) -> ResponseReceiver:
        ca = self.ca = trustme.CA()
        certificate = ca.issue_cert(self._host, "localhost", "127.0.0.1")
        self._directory.mkdir(parents=True, exist_ok=True)
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(context)
        context.num_tickets = 0  # crhelper makes a new SSL context per answer, so a session is never resumed
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_PUT(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                found = receiver._deliver(self.path, body)
                self.send_response(200 if found else 403)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up is the handler's problem, reported by the invoker

            # The TLS handshake runs in the request's thread, not in the accepting loop.
            def finish_request(self, request: Any, client_address: Any) -> None:
                request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    tls = context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                try:
                    super().finish_request(tls, client_address)
                finally:
                    try:
                        tls.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        server = Server((self._host, 0), Handler)
        self.base_url = f"https://{self._host}:{server.server_address[1]}"
        self._serve(server, "response-url")
        return self

    def expect(self, request_id: str) -> str:
        """A new ResponseURL for one request."""
        path = f"/cloudformation-response/{secrets.token_urlsafe(24)}"
        with self._lock:
            self._pending[path] = _Pending(request_id)
        return self.base_url + path

    def wait(self, url: str, timeout: float) -> Answer | None:
        """The answer PUT to ``url``, or None if none arrived within ``timeout`` seconds."""
        pending = self._lookup(url)
        if pending is None or not pending.event.wait(max(0.0, timeout)):
            return None
        return pending.answer

    def answer(self, url: str) -> Answer | None:
        pending = self._lookup(url)
        return pending.answer if pending is not None else None

    def forget(self, url: str) -> None:
        with self._lock:
            self._pending.pop(url[len(self.base_url) :], None)

    def _lookup(self, url: str) -> _Pending | None:
        with self._lock:
            return self._pending.get(url[len(self.base_url) :])

    def _deliver(self, path: str, body: bytes) -> bool:
        with self._lock:
            pending = self._pending.get(path)
        if pending is None:
            return False
        if pending.answer is None:  # CloudFormation reads the first answer only
            pending.answer = parse_answer(body, pending.request_id)
            pending.event.set()
        return True
