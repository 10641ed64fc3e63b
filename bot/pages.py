"""What the HTTP layer hands out and is configured with: pages, their memo, the settings.

Kept apart from bot.http, the client, so that what only needs the types (the config, the
checkers' signatures, `list`) does not import requests and urllib3: a tenth of a second of
every command's start.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot.errors import BadUpstreamResponse

if TYPE_CHECKING:
    from bot.http import HttpStats, _StoredPage
    from bot.store import Table

MiB = 1024 * 1024


@dataclass(frozen=True)
class HttpSettings:
    """`http:` in recipe-bot.yaml, plus tokens resolved from the environment."""

    timeout: float = 30.0  # seconds per connect/read, and for a whole page
    concurrency: int = 16  # requests in flight at once, all hosts together
    per_host: int = 4  # requests in flight to one host
    cache: str | None = ".recipe-bot-cache.sqlite"
    ca_bundle: str | None = None
    retries: int = 3
    backoff: float = 0.5  # seconds; doubles on each retry
    max_retry_after: float = (
        30.0  # a longer Retry-After is not waited for: the host is rate-limited
    )
    max_page_bytes: int = 20 * MiB
    max_download_bytes: int = 4096 * MiB
    download_timeout: float = 1800.0  # a whole download, for hashing
    max_redirects: int = 10
    user_agent: str = f"recipe-bot/{__version__} (+https://pypi.org/project/recipe-bot/)"
    # Host name -> value of the Authorization header; never logged, never put in an error.
    tokens: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Page:
    """A fully read response of bounded size."""

    url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    from_cache: bool = False
    links: Mapping[str, str] = field(default_factory=dict)  # the Link header, by rel
    # Set on pages with validators: what was derived from this very body, kept with it.
    memo: PageMemo | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        self._note_read()
        charset = _charset(self.headers.get("Content-Type", "")) or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # a made-up charset name
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        self._note_read()
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise BadUpstreamResponse(f"{self.url}: not JSON ({exc})") from None

    def _note_read(self) -> None:
        if self.from_cache and self.memo is not None:
            self.memo.stats.add(reparsed=1)


class PageMemo:
    """What was derived from one stored page body, by kind; values are JSON, kinds versioned.

    A kind names the deriver and its generation (`links.1`): a parser that changes what it
    derives from the same bytes bumps it, so values of the old parser are not reused.
    """

    def __init__(self, table: Table, key: str, stored: _StoredPage, stats: HttpStats) -> None:
        self._table = table
        self._key = key
        self._stored = stored
        self.stats = stats

    def get(self, kind: str) -> Any | None:
        return self._stored.derived.get(kind)

    def put(self, kind: str, value: Any) -> None:
        self._stored = replace(self._stored, derived={**self._stored.derived, kind: value})
        self._table.put(self._key, self._stored.dump())


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"'")
    return None
