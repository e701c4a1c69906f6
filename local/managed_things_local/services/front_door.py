"""AWS's front door, on loopback: the execution environments reach AWS's real hostnames, and only those, through it.

The provider resolves its endpoints as on AWS (no ``AWS_ENDPOINT_URL_*`` in its environment): the front door is an
HTTPS proxy (``HTTPS_PROXY``, which botocore honours through ``urllib.request.getproxies``) that accepts ``CONNECT``
only to the host AWS's endpoint rules give for a service the provider uses, in a region where that service exists
(``api.iotmanagedintegrations.<region>.api.aws``, ``secretsmanager.<region>.amazonaws.com``,
``cloudformation.<region>.amazonaws.com``, read from botocore's ``endpoint-rule-set-1`` data, not written here). It
terminates TLS with a certificate for that host from the local deploy's own CA (which the environments trust through
``AWS_CA_BUNDLE``, botocore's setting, and ``SSL_CERT_FILE``; both variables are the SDK's documented configuration,
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/configuration.html) and relays the bytes to the
local server standing in for the service, one upstream connection per tunnel for as long as the SDK keeps its
connection. Any other host is
refused (502), which botocore reports as a connection failure (``ProxyConnectionError``, botocore/httpsession.py,
from urllib3's ``ProxyError`` for a tunnel that did not open) without sending the request:
a wrong hostname fails locally, and a region without Managed Integrations has no host at all, as on AWS, where the
service's name does not resolve there. ``asked`` and ``refused`` record which hosts were asked.

The answer to the ResponseURL does not go through the front door: crhelper PUTs it with ``http.client.HTTPSConnection``,
which reads no proxy variable (crhelper/utils.py, https://github.com/aws-cloudformation/custom-resource-helper), and
``NO_PROXY`` sends a handler's urllib PUT to the loopback ResponseURL directly.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import selectors
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import trustme

from managed_things_model.regions import SERVICE_REGIONS
from managed_things_model.service_model import SERVICE_NAME, botocore_session

from .background import BackgroundServer
from .responses import ResponseReceiver

SECRETS_MANAGER = "secretsmanager"
CLOUDFORMATION = "cloudformation"
_MAX_HEADER_BYTES = 8192
_CHUNK = 65536


@functools.lru_cache(maxsize=256)
def endpoint_host(service: str, region: str) -> str:
    """The host botocore's endpoint rules give ``service`` in ``region`` (no FIPS, no dual-stack, as the provider)."""
    from botocore.endpoint_provider import EndpointProvider

    loader = botocore_session().get_component("data_loader")
    rules = EndpointProvider(loader.load_service_model(service, "endpoint-rule-set-1"), loader.load_data("partitions"))
    url = rules.resolve_endpoint(Region=region, UseFIPS=False, UseDualStack=False).url
    return str(urlsplit(url).hostname)


def service_exists(service: str, region: str) -> bool:
    """Whether AWS runs ``service`` in ``region``: Managed Integrations only in its regions, the others anywhere."""
    return service != SERVICE_NAME or region in SERVICE_REGIONS


class FrontDoor(BackgroundServer):
    """The HTTPS proxy the execution environments' AWS calls go through; use as a context manager.

    Each service is relayed to the URL of the local server that answers for it (the emulator, moto's Secrets
    Manager, the stack status server). The hosts' certificates come from the CA of ``receiver`` (started), which
    the environments already trust for the ResponseURL.
    """

    def __init__(
        self, receiver: ResponseReceiver, *, managed_integrations: str, secrets_manager: str, cloudformation: str
    ) -> None:
        if receiver.ca is None:
            raise RuntimeError("the front door needs a started ResponseReceiver (its CA)")
        self._ca: trustme.CA = receiver.ca
        self._ca_file = str(receiver.ca_file)
        self._upstreams = {
            SERVICE_NAME: managed_integrations,
            SECRETS_MANAGER: secrets_manager,
            CLOUDFORMATION: cloudformation,
        }
        self._routes: dict[str, str] = {}  # host -> upstream URL
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self.asked: collections.Counter[str] = collections.Counter()  # CONNECTs per host, served or not
        self.refused: set[str] = set()
        self.url = ""

    def open_regions(self, regions: Iterable[str]) -> None:
        """Serve the hosts of every upstream service that exists in each of ``regions``."""
        with self._lock:
            for region in regions:
                for service, upstream in self._upstreams.items():
                    if service_exists(service, region):
                        self._routes[endpoint_host(service, region)] = upstream

    def variables(self, region: str) -> dict[str, str]:
        """What an execution environment in ``region`` needs for its AWS calls to reach the front door."""
        self.open_regions([region])
        return {
            "HTTPS_PROXY": self.url,
            "HTTP_PROXY": self.url,  # a plain-HTTP endpoint would be refused too, not sent elsewhere
            # The ResponseURL is on loopback: an answer PUT with urllib (which honours the proxy variables) goes
            # there directly, as crhelper's does anyway.
            "NO_PROXY": "127.0.0.1,localhost",
            "AWS_CA_BUNDLE": self._ca_file,  # botocore verifies with its own bundle (certifi) unless told otherwise
        }

    def start(self) -> FrontDoor:
        door = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                door._tunnel(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a tunnel that ends abruptly is the SDK's to report

        server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._serve(server, "front-door")
        return self

    def _tunnel(self, client: socket.socket) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        host = _connect_target(client)
        if host is None:
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        with self._lock:
            self.asked[host] += 1
            upstream = self._routes.get(host)
            if upstream is None:
                self.refused.add(host)
        if upstream is None:
            body = f"{host} is not an endpoint of a service the local deploy serves in this region\n".encode()
            client.sendall(
                b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            tls = self._context(host).wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with contextlib.closing(tls), _open_upstream(upstream) as server:
            _relay(tls, server)

    def _context(self, host: str) -> ssl.SSLContext:
        with self._lock:
            context = self._contexts.get(host)
            if context is None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                self._ca.issue_cert(host).configure_cert(context)
                self._contexts[host] = context
            return context


def _connect_target(client: socket.socket) -> str | None:
    """The host of a ``CONNECT host:443`` request (its headers read), or None for anything else."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(1024)
        if not chunk or len(data) > _MAX_HEADER_BYTES:
            return None
        data += chunk
    method, _, rest = data.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
    target = rest.split(" ", 1)[0]
    host, _, port = target.rpartition(":")
    if method != "CONNECT" or port != "443" or not host:
        return None
    return host.lower()


@contextlib.contextmanager
def _open_upstream(url: str) -> Iterator[socket.socket]:
    parts = urlsplit(url)
    https = parts.scheme == "https"
    connection = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or (443 if https else 80)))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if https:
        connection = ssl.create_default_context().wrap_socket(connection, server_hostname=parts.hostname)
    with contextlib.closing(connection):
        yield connection


def _relay(client: ssl.SSLSocket, server: socket.socket) -> None:
    """Copy bytes both ways until either side closes (one thread per tunnel)."""
    peers = {client: server, server: client}
    with selectors.DefaultSelector() as selector:
        for side in peers:
            selector.register(side, selectors.EVENT_READ)
        while True:
            # Decrypted bytes already buffered in the TLS object are not seen by select.
            ready = [client] if client.pending() else [key.fileobj for key, _ in selector.select()]
            for source in ready:
                try:
                    data = source.recv(_CHUNK)  # type: ignore[union-attr]
                    if not data:
                        return
                    peers[source].sendall(data)  # type: ignore[index]
                except (OSError, ssl.SSLError):
                    return
