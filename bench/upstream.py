"""The fake upstreams: one threaded HTTP server on 127.0.0.1 that waits a fixed latency per request.

Every upstream the bot checks (PyPI's JSON API, GitHub's releases API, autoindex listings,
project websites) is a page registered by path. Pages carry an ETag and a Last-Modified and a
matching conditional request gets a 304, as pypi.org, api.github.com, Apache and nginx answer.
Release files are generated while they are sent, from their path, so a 1 GB file costs neither
memory nor disk; like real downloads they are never conditional.

The server counts what actually arrived (requests, conditional ones, 304s, downloads, bytes), so
the benchmark checks each tool's own figures against the wire.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

BLOCK = 1024 * 1024  # generated files repeat one block of this size
# One fixed date for every page: a Last-Modified that never changes between sweeps.
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)


@dataclass(frozen=True)
class Page:
    body: bytes
    content_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


@dataclass
class Counters:
    """What the server saw; read and reset by the benchmark between phases."""

    requests: int = 0
    conditional: int = 0  # carried If-None-Match or If-Modified-Since
    not_modified: int = 0
    downloads: int = 0  # release files sent (any size)
    bytes: int = 0  # body bytes sent
    not_found: int = 0


@dataclass
class _State:
    latency: float
    pages: dict[str, Page] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)  # path -> size in bytes
    counters: Counters = field(default_factory=Counters)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, **increments: int) -> None:
        with self.lock:
            for name, value in increments.items():
                setattr(self.counters, name, getattr(self.counters, name) + value)


class _Server(ThreadingHTTPServer):
    # The default backlog (5) drops connections as soon as 16 clients connect at once.
    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-download is not the server's problem


class Upstream:
    """The server, in a thread of the calling process. `latency` is added to every request."""

    def __init__(self, latency: float = 0.05) -> None:
        self._state = _State(latency)
        self._server = _Server(("127.0.0.1", 0), _handler(self._state))
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add_page(self, path: str, body: str | bytes, content_type: str = "text/html") -> None:
        data = body.encode() if isinstance(body, str) else body
        self._state.pages[path] = Page(data, f"{content_type}; charset=utf-8")

    def add_file(self, path: str, size: int) -> None:
        self._state.files[path] = size

    def counters(self) -> Counters:
        with self._state.lock:
            return Counters(**asdict(self._state.counters))

    def reset(self) -> None:
        with self._state.lock:
            self._state.counters = Counters()

    def start(self) -> Upstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Upstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def file_chunks(path: str, size: int) -> Iterator[bytes]:
    """The content of a generated file: one block derived from its path, repeated up to `size`."""
    seed = hashlib.sha256(path.encode()).digest()
    block = (seed * (BLOCK // len(seed) + 1))[:BLOCK]
    sent = 0
    while sent < size:
        chunk = block[: min(BLOCK, size - sent)]
        sent += len(chunk)
        yield chunk


def file_sha256(path: str, size: int) -> str:
    """What a correct download of a generated file hashes to."""
    digest = hashlib.sha256()
    for chunk in file_chunks(path, size):
        digest.update(chunk)
    return digest.hexdigest()


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 with Content-Length: clients keep connections alive, as with real servers.
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY: a reply written in two parts (headers, then body) must not wait for
        # Nagle's algorithm and the client's delayed ACK (40 ms on Linux), or the benchmark
        # measures the server.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            conditional = "If-None-Match" in self.headers or "If-Modified-Since" in self.headers
            state.count(requests=1, conditional=int(conditional))
            if state.latency:
                time.sleep(state.latency)
            path = urlsplit(self.path).path
            if path in state.pages:
                self._page(state.pages[path])
            elif path in state.files:
                self._file(path, state.files[path])
            else:
                state.count(not_found=1)
                self._send(404, b"not found", {"Content-Type": "text/plain"})

        def _page(self, page: Page) -> None:
            headers = {
                "Content-Type": page.content_type,
                "ETag": page.etag,
                "Last-Modified": LAST_MODIFIED,
            }
            if self._not_modified(page):
                state.count(not_modified=1)
                self._send(304, b"", headers)
            else:
                self._send(200, page.body, headers)

        def _not_modified(self, page: Page) -> bool:
            etag = self.headers.get("If-None-Match")
            if etag is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
                return page.etag in [tag.strip() for tag in etag.split(",")]
            return self.headers.get("If-Modified-Since") == LAST_MODIFIED

        def _file(self, path: str, size: int) -> None:
            state.count(downloads=1)
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            for chunk in file_chunks(path, size):
                self.wfile.write(chunk)
                state.count(bytes=len(chunk))

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:  # a 304 has no body, and no length to announce
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)
                state.count(bytes=len(body))

        def log_message(self, format: str, *args: Any) -> None:
            pass  # thousands of lines of access log would only slow the server down

    return Handler
