"""Real servers on 127.0.0.1 for the checker tests: HTTP with canned routes, and FTP.

`LocalHttpServer` answers from a table of routes (exact path with query, exact path, or a
prefix ending in `*`), each a `Reply` or a function of the `Request`; a reply can carry an ETag
(then `If-None-Match` gets a 304), a Last-Modified, a delay, or drop the connection. Every
request is logged, so tests can assert what was (not) fetched. `{base}` in a body or header is
replaced by the server's base URL, for absolute links and GitHub's Link headers.

`LocalFtpServer` is pyftpdlib over a directory, anonymous and read-only, in variants that
refuse MLSD, answer LIST in the DOS style, or refuse anonymous logins.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


@dataclass(frozen=True)
class Request:
    path: str  # with the query string
    headers: Mapping[str, str]  # lower-cased names


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str | bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: bool = False  # send an ETag derived from the body; answer If-None-Match with 304
    last_modified: str | None = None  # send it; answer an equal If-Modified-Since with 304
    delay: float = 0.0  # seconds before answering (cut short when the server stops)
    drop: bool = False  # close the connection without answering


Route = Reply | Callable[[Request], Reply]


def html_reply(body: str, **kwargs: Any) -> Reply:
    headers = {"Content-Type": "text/html; charset=utf-8", **kwargs.pop("headers", {})}
    return Reply(body=body, headers=headers, **kwargs)


def json_reply(body: str, **kwargs: Any) -> Reply:
    headers = {"Content-Type": "application/json; charset=utf-8", **kwargs.pop("headers", {})}
    return Reply(body=body, headers=headers, **kwargs)


def nginx_index(path: str, names: list[str]) -> str:
    """An nginx autoindex page for `path` listing `names` (directories end with a slash)."""
    rows = "".join(
        f'<a href="{name}">{name}</a>{" " * max(1, 50 - len(name))}01-Jan-2024 00:00       -\n'
        for name in names
    )
    return (
        f"<html>\n<head><title>Index of {path}</title></head>\n<body>\n"
        f'<h1>Index of {path}</h1><hr><pre><a href="../">../</a>\n'
        f"{rows}</pre><hr></body>\n</html>\n"
    )


class LocalHttpServer:
    """A ThreadingHTTPServer on 127.0.0.1 in a thread, answering from `routes`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        with self._lock:
            return [request.path for request in self.requests]

    def hits(self, path: str) -> int:
        return self.paths().count(path)

    def start(self) -> LocalHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- used by the handler --------------------------------------------------------------

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _reply_for(self, request: Request) -> Reply:
        path = urlsplit(request.path).path
        route = self.routes.get(request.path) or self.routes.get(path)
        if route is None:
            prefixes = [
                key for key in self.routes if key.endswith("*") and path.startswith(key[:-1])
            ]
            route = self.routes[max(prefixes, key=len)] if prefixes else Reply(404, "not found")
        return route(request) if callable(route) else route

    def _expand(self, text: str) -> str:
        return text.replace("{base}", self.base)


def _make_handler(server: LocalHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            request = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
            server._record(request)
            reply = server._reply_for(request)
            if reply.delay and server._stopping.wait(reply.delay):
                return
            if reply.drop:
                self.close_connection = True
                return
            body = (
                reply.body if isinstance(reply.body, bytes) else server._expand(reply.body).encode()
            )
            headers = {k: server._expand(v) for k, v in reply.headers.items()}
            if reply.etag:
                headers["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if reply.last_modified:
                headers["Last-Modified"] = reply.last_modified
            status = reply.status
            if status == 200 and _not_modified(request, headers):
                status, body = 304, b""
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log is `server.requests`

    return Handler


def _not_modified(request: Request, headers: Mapping[str, str]) -> bool:
    etag = headers.get("ETag")
    if etag and request.headers.get("if-none-match") == etag:
        return True
    modified = headers.get("Last-Modified")
    return bool(modified) and request.headers.get("if-modified-since") == modified


# --- FTP ----------------------------------------------------------------------------------

logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
USER, PASSWORD = "bob", "s3cret"


class _DosListing(FTPHandler):
    """LIST in the IIS/Windows style: `01-02-24  10:30AM  <DIR>  name`."""

    def ftp_LIST(self, path: str) -> str:
        lines = []
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            size = "<DIR>" if entry.is_dir() else str(entry.stat().st_size)
            lines.append(f"01-02-24  10:30AM  {size:>20} {entry.name}\r\n")
        self.push_dtp_data("".join(lines).encode(), cmd="LIST")
        return path


class LocalFtpServer:
    """pyftpdlib serving `root` read-only on 127.0.0.1."""

    VARIANTS: ClassVar[dict[str, tuple[type[FTPHandler], frozenset[str]]]] = {
        "standard": (FTPHandler, frozenset()),
        "no-mlsd": (FTPHandler, frozenset({"MLSD"})),
        "dos": (_DosListing, frozenset({"MLSD"})),
        "nlst-only": (FTPHandler, frozenset({"MLSD", "LIST"})),
    }

    def __init__(self, root: Path, *, variant: str = "standard", anonymous: bool = True) -> None:
        base, removed = self.VARIANTS[variant]
        authorizer = DummyAuthorizer()
        if anonymous:
            authorizer.add_anonymous(str(root), perm="elr")
        authorizer.add_user(USER, PASSWORD, str(root), perm="elr")
        handler = type(
            "Handler",
            (base,),
            {
                "authorizer": authorizer,
                "proto_cmds": {k: v for k, v in base.proto_cmds.items() if k not in removed},
                "banner": "test ftpd ready",
                "auth_failed_timeout": 0.01,  # pyftpdlib waits 3 s after a refused login
            },
        )
        self._server = FTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.address[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str = "/", *, login: bool = False) -> str:
        credentials = f"{USER}:{PASSWORD}@" if login else ""
        return f"ftp://{credentials}127.0.0.1:{self.port}{path}"

    def start(self) -> LocalFtpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        # pyftpdlib's loop is not thread-safe: run it in slices here and close it here.
        while not self._stopping.is_set():
            self._server.serve_forever(timeout=0.02, blocking=False, handle_exit=False)
        self._server.close_all()
