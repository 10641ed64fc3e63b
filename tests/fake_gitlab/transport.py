"""HTTP/1.1 on 127.0.0.1 with the stdlib server, and a clean stop.

Keep-alive matters: python-gitlab reuses one ``requests`` session, so a handler thread stays
parked on an idle connection between calls. Stopping therefore closes those connections first
and then joins every thread, leaving nothing running after a test.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from .wire import Reply


class Responder(Protocol):
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request; ``headers`` has lower-case names."""
        ...


class LocalServer:
    """Serves ``responder`` on a free port of 127.0.0.1 in a background thread."""

    def __init__(self, responder: Responder) -> None:
        self._server = _Server(responder)
        # A short poll interval keeps stop() quick: serve_forever notices shutdown between polls.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-gitlab",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()  # joins the per-connection threads
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    # Non-daemon connection threads, which server_close() joins.
    daemon_threads = False
    block_on_close = True

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads parked on idle keep-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):  # the client may have closed it first
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment; otherwise Nagle plus delayed ACK costs ~40 ms a call.
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.responder.handle(self.command, self.path, headers, raw)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # FakeGitLab.requests is the log; stderr noise would only clutter test output
