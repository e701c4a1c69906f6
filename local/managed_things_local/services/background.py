"""A local server of the engine's, served from a daemon thread while its context is open."""

from __future__ import annotations

import socketserver
import threading
from typing import Any, Self


class BackgroundServer:
    """``start`` builds the socket server and hands it to ``_serve``; ``stop`` (or leaving the context) closes it."""

    _server: socketserver.BaseServer | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def _serve(self, server: socketserver.BaseServer, name: str) -> None:
        self._server = server
        threading.Thread(target=server.serve_forever, name=name, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()
