"""What the serve tests share: a scripted cycle, a still clock, GitLab payloads, a client."""

from __future__ import annotations

import copy
import http.client
import json
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.serve import Service

DATA = Path(__file__).parent / "data"
SECRET = "webhook-secret-0123456789"
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def payload(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded GitLab webhook body (issue_hook, merge_request_hook)."""
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return copy.deepcopy(data)


class StillClock:
    """A wall clock that moves only when a test says so."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeCycle:
    """The cycle, scripted: returns the next exit code (the last one repeats), and with
    `block=True` waits for `release` before returning. Counts overlapping calls."""

    def __init__(self, codes: Iterable[int] = (0,), *, block: bool = False) -> None:
        self.codes = list(codes)
        self.block = block
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            code = self.codes[min(self.calls, len(self.codes)) - 1]
        self.started.set()
        if self.block:
            assert self.release.wait(5), "the test never released the cycle"
        with self._lock:
            self.active -= 1
        return code


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


@dataclass
class Running:
    """A started service and a client for it."""

    service: Service
    host: str
    port: int

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Reply(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            connection.close()

    def webhook(self, body: Any, *, token: str | None = SECRET, event: str = "Issue Hook") -> Reply:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "X-Gitlab-Event": event}
        if token is not None:
            headers["X-Gitlab-Token"] = token
        return self.request("POST", "/webhook", raw, headers)

    def raw(self, data: bytes) -> bytes:
        """Send bytes as they are (half-closing afterwards) and return whatever comes back."""
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)
