"""The HTTP side of `recipe-bot serve`: binding `serve.listen` (IPv4 or IPv6), one thread.

The server knows nothing of webhooks or health: each request goes to a `Responder` (the
service) as (method, target, lower-case headers, a body reader, the peer's address), and the
Response it returns is written as JSON. A bug in the responder is logged with its traceback
and answered with a 500; the server keeps serving.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

import structlog

from bot.webhook import Response

log = structlog.get_logger()

HTTP_TIMEOUT = 10.0  # seconds per socket operation, so a slow client cannot hold a thread


class Responder(Protocol):
    def respond(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        read: Callable[[int], bytes],
        peer: str = "",
    ) -> Response:
        """Answer one request. `headers` has lower-case names; `read(n)` reads the body."""


class HttpServer(ThreadingHTTPServer):
    """A bound server; `start` serves it in a thread, `stop` closes it and joins that thread."""

    # Request threads are joined on server_close(), each bounded by HTTP_TIMEOUT per operation.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], responder: Responder) -> None:
        self.responder = responder
        self._thread: threading.Thread | None = None
        super().__init__(address, _Handler)

    @property
    def address(self) -> tuple[str, int]:
        """The address actually bound (port 0 picks a free one)."""
        bound = self.server_address
        return str(bound[0]), int(bound[1])

    def start(self, poll_interval: float) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name="recipe-bot-http",
            # stop() ends it cleanly; as a daemon it can never keep the process alive.
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, finish the requests being answered, close the socket."""
        if self._thread is not None:
            self.shutdown()
        self.server_close()  # joins the request threads
        if self._thread is not None:
            self._thread.join()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client gone mid-answer and the like: one log line, never a traceback on stderr.
        log.warning(
            "http_connection_error", peer=str(client_address[0]), error=repr(sys.exc_info()[1])
        )


class _HttpServer6(HttpServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: HttpServer
    timeout = HTTP_TIMEOUT
    server_version = "recipe-bot"
    sys_version = ""

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            response = self.server.responder.respond(
                self.command, self.path, headers, self.rfile.read, peer=str(self.client_address[0])
            )
        except Exception:  # a bug: log it with its traceback, answer, keep serving
            log.exception("http_request_failed", method=self.command, path=urlsplit(self.path).path)
            response = Response(500, {"status": "error"})
        data = b"" if response.body is None else json.dumps(response.body).encode("utf-8") + b"\n"
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The stdlib's access log goes to stderr unstructured; webhooks log one event each instead.
        pass


def bind(host: str, port: int, responder: Responder) -> HttpServer:
    """A server bound to (host, port), IPv6 when the host is an IPv6 address ("::", "[::1]")."""
    host = host.strip("[]")
    server_class = _HttpServer6 if ":" in host else HttpServer
    return server_class((host, port), responder)


def listen_address(listen: str) -> tuple[str, int]:
    """`serve.listen` ("HOST:PORT", "[::]:8080") as a (host, port) pair."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)
