"""The emulator's HTTP server: ``EmulatorServer`` serves the REST-JSON API in a background thread.

Use it as a context manager; its ``url`` is the endpoint for boto3 (``endpoint_url=`` or
``AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS``) and the AWS CLI (``--endpoint-url``), and
``backend.list_things()`` shows what is stored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .faults import EmulatorOptions, FaultInjector
from .models import ManagedThingsBackend
from .responses import Authorizer, HttpRequest, ManagedThingsResponses
from .store import ThingStore

__all__ = ["EmulatorOptions", "EmulatorServer"]

LOG = logging.getLogger(__name__)


class EmulatorServer:
    """The Managed Integrations emulator on ``host``:``port`` (0: a free port), things in ``state`` (None: memory).

    ``authorizer`` (the local engine's IAM) decides who may call; without one, every caller may do everything.

    ``backend`` is usable before ``start()``; ``url`` is set by ``start()``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state: str | os.PathLike[str] | None = None,
        options: EmulatorOptions = EmulatorOptions(),  # noqa: B008 - frozen, so one shared default is safe
        authorizer: Authorizer | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.options = options
        self.store = ThingStore(state)
        self.backend = ManagedThingsBackend(self.store, account_id=options.account_id)
        self.responses = ManagedThingsResponses(self.backend, FaultInjector(options), authorizer)
        self.url = ""
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Listen and serve in a daemon thread; return the base URL."""
        if self._httpd is not None:
            raise RuntimeError("the emulator is already started")
        self._httpd = _HttpServer((self.host, self.port), self.responses)
        bound_host, bound_port = self._httpd.server_address[:2]
        host = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
        self.port = int(bound_port)
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="managed-things-emulator",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving, drop open connections and close the state (idempotent)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.drop_connections()
            if self._thread is not None:
                self._thread.join()
            self._httpd = self._thread = None
        self.store.close()

    def __enter__(self) -> EmulatorServer:
        if self._httpd is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class _HttpServer(ThreadingHTTPServer):
    """A thread per connection; keeps track of open connections so that stopping ends keep-alive ones too."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], responses: ManagedThingsResponses) -> None:
        self.responses = responses
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Shut every open connection: a handler waiting on a keep-alive connection returns."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        LOG.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its connections
    # One buffered write per response, sent at once: no 40 ms Nagle/delayed-ACK stall between headers and body.
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _HttpServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = HttpRequest(self.command, self.path, self.headers, body)  # type: ignore[arg-type]
        response = self.server.responses.handle(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        LOG.debug("%s %s", self.address_string(), format % args)
