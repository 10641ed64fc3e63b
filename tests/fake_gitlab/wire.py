"""What crosses the fake's HTTP boundary: the parsed call, the reply, and GitLab's error shapes.

GitLab answers errors in two shapes, and clients (python-gitlab included) surface them verbatim:
Grape parameter validation gives ``{"error": "branch is missing"}``, everything past validation
gives ``{"message": ...}`` where the message may be a string, a list or a dict of field errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

JSON_TYPE = "application/json"


class RecordedRequest(NamedTuple):
    """One request as the fake saw it; ``path`` is percent-decoded and has no query string."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    body = json.dumps(data).encode("utf-8")
    return Reply(status, body, JSON_TYPE, tuple((headers or {}).items()))


def no_content() -> Reply:
    return Reply(204)


class ApiError(Exception):
    """Raised anywhere inside a route; the server turns it into the JSON error reply."""

    def __init__(self, status: int, payload: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {payload}")
        self.status = status
        self.payload = dict(payload)

    def reply(self) -> Reply:
        return json_reply(self.payload, self.status)


def bad_request(message: Any, status: int = 400) -> ApiError:
    return ApiError(status, {"message": message})


def missing(*names: str) -> ApiError:
    # Grape lists every missing parameter in one comma-joined string.
    return ApiError(400, {"error": ", ".join(f"{name} is missing" for name in names)})


def invalid(name: str, why: str = "is invalid") -> ApiError:
    return ApiError(400, {"error": f"{name} {why}"})


def not_found(what: str) -> ApiError:
    return ApiError(404, {"message": f"404 {what} Not Found"})


def record_not_found() -> ApiError:
    # Issues, merge requests and notes come from ActiveRecord's find_by!, which GitLab
    # renders with a lower-case "found" and no resource name.
    return ApiError(404, {"message": "404 Not found"})


@dataclass(frozen=True)
class Call:
    """A routed request: path captures, query (multi-valued) and the JSON or form body."""

    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, Sequence[str]]
    body: Mapping[str, Any]
    base_url: str
    raw_path: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> Any:
        """GitLab (Grape) merges body and query parameters; the body wins."""
        if name in self.body:
            return self.body[name]
        values = self.query.get(name)
        return values[-1] if values else None

    def has(self, name: str) -> bool:
        return self.arg(name) is not None

    def text(self, name: str) -> str | None:
        value = self.arg(name)
        return None if value is None else str(value)

    def flag(self, name: str) -> bool | None:
        value = self.arg(name)
        if value is None or isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in {"true", "1", "yes", "t"}:
            return True
        if text in {"false", "0", "no", "f", ""}:
            return False
        raise invalid(name)

    def number(self, name: str) -> int | None:
        value = self.arg(name)
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise invalid(name) from None

    def items(self, name: str) -> list[str] | None:
        """An array parameter: a JSON list, ``name[]=a&name[]=b`` or a comma-separated string."""
        value = self.body.get(name)
        if value is None and self.query.get(f"{name}[]"):
            value = list(self.query[f"{name}[]"])
        if value is None:
            value = self.arg(name)
        if value is None:
            return None
        if isinstance(value, str):
            value = value.split(",")
        return [str(item).strip() for item in value if str(item).strip()]

    def when(self, name: str) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise invalid(name) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def require(self, *names: str) -> None:
        absent = [name for name in names if self.arg(name) is None]
        if absent:
            raise missing(*absent)


def iso(moment: datetime | None) -> str | None:
    """GitLab's timestamp format: UTC, milliseconds, a literal Z."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
