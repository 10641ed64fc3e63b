"""The one HTTP layer every network call goes through.

It owns what no checker should think about: timeouts (per read and per whole response),
retries with backoff on connection errors, 5xx and 429 (honouring `Retry-After`, up to a cap),
limits on the requests in flight (to all hosts together, and to each host), conditional
requests against a persistent cache, size caps, tokens by host, a custom CA bundle, and
counters for the benchmark.

Pages (listings, JSON) that carry an ETag or Last-Modified are stored (bot.store) and always
revalidated: an hourly sweep where nothing changed costs one 304 per upstream, and a 304 writes
nothing. A page without validators is never stored (it could only be served stale). This is
done here rather than with requests-cache, which measured 3-5 ms of overhead per request under
a thread pool (one SQLite lock, a write on every 304): more than the rest of a check costs.
Downloads for hashing are never stored (a 1 GB tarball has no place in SQLite); their digests
are, by URL.

What a checker derives from a stored page (a listing's links, say) is stored with it, through
`Page.memo`: a 304 says the body is the one it was derived from, so a warm sweep parses nothing
again. `HttpStats.reparsed` counts the bodies of 304 pages that were read anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from requests.utils import parse_header_links
from urllib3 import HTTPHeaderDict

from bot import ftp
from bot.errors import (
    BadUpstreamResponse,
    RateLimited,
    UpstreamError,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from bot.ftp import FtpEntry
from bot.pages import HttpSettings, MiB, Page, PageMemo
from bot.store import Store
from bot.transport import HostRateLimited, Response, Transport, retry_policy

FTP_MAX_ENTRIES = 100_000


@dataclass
class HttpStats:
    """What the layer sent and received; read by the run summary and the benchmark."""

    requests: int = 0  # requests that went to the network (redirect hops and retries included)
    not_modified: int = 0  # of those, answered 304
    bytes: int = 0  # body bytes received
    hashed_from_cache: int = 0
    reparsed: int = 0  # bodies of 304 pages read again (parsed) instead of their memo used
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(
        self, *, requests: int = 0, not_modified: int = 0, bytes: int = 0, reparsed: int = 0
    ) -> None:
        with self._lock:
            self.requests += requests
            self.not_modified += not_modified
            self.bytes += bytes
            self.reparsed += reparsed

    def merge(self, counts: Mapping[str, int]) -> None:
        """Add another layer's snapshot: a checking process's, at the end of its part."""
        with self._lock:
            self.requests += counts.get("requests", 0)
            self.not_modified += counts.get("not_modified", 0)
            self.bytes += counts.get("bytes", 0)
            self.hashed_from_cache += counts.get("hashed_from_cache", 0)
            self.reparsed += counts.get("reparsed", 0)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "requests": self.requests,
                "not_modified": self.not_modified,
                "bytes": self.bytes,
                "hashed_from_cache": self.hashed_from_cache,
                "reparsed": self.reparsed,
            }


class Http:
    """The shared client. Thread-safe; one per run, injected into every checker."""

    def __init__(self, settings: HttpSettings | None = None) -> None:
        self.settings = settings or HttpSettings()
        self.stats = HttpStats()
        self._host_slots: defaultdict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(self.settings.per_host)
        )
        self._slots_lock = threading.Lock()
        # Requests in flight at once, all hosts together. A sweep runs a few more checks than
        # this (bot.sweep.checks_at_once): while one parses what it got, the others' requests
        # keep every one of these busy.
        self._in_flight = threading.BoundedSemaphore(max(1, self.settings.concurrency))
        self._blocked: dict[str, float] = {}  # host -> epoch seconds it is rate-limited until
        self._transport = Transport(
            timeout=self.settings.timeout,
            retry=retry_policy(
                self.settings.retries,
                self.settings.backoff,
                self.settings.max_retry_after,
                methods=("GET", "HEAD"),
            ),
            max_redirects=self.settings.max_redirects,
            user_agent=self.settings.user_agent,
            ca_bundle=self.settings.ca_bundle,
            tokens=self.settings.tokens,
            pool_size=max(self.settings.per_host, 4),
            counts=self.stats,
        )
        self.store = Store(self.settings.cache)
        self._pages = self.store.table("pages")
        self.hashes = self.store.table("sha256")
        # Per-run memo for checkers (robots.txt by site, say): lives exactly as long as this run.
        self.memo: dict[object, object] = {}

    # --- public API -------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        allow_status: Collection[int] = (),
    ) -> Page:
        """GET a page, revalidating a cached copy. Raises an UpstreamError subclass on failure.

        Statuses in `allow_status` are returned instead of raised (GitHub's 403 rate-limit
        answer, say, which its checker reads the headers of).
        """
        host = self._check_host(url)
        limit = max_bytes or self.settings.max_page_bytes
        deadline = time.monotonic() + self.settings.timeout * (self.settings.retries + 2)
        stored = _StoredPage.load(self._pages.get(url))
        request_headers = dict(headers or {})
        if stored is not None:
            request_headers.update(stored.conditions())
        with self._slot(host), self._send(url, request_headers, limit, deadline) as response:
            status = response.status
            if status == 304 and stored is not None:
                # The 304's own headers (GitHub's rate-limit counters, say) are the fresh ones.
                merged = HTTPHeaderDict(stored.headers)
                merged.update(response.headers)
                memo = PageMemo(self._pages, url, stored, self.stats)
                return Page(stored.url, 200, merged, stored.content, True, _links(merged), memo)
            if status not in allow_status:
                self._raise_for_status(url, response)
            content = response.read()  # in the host's slot: a body is part of its request
        headers = response.headers
        kept: PageMemo | None = None
        if status == 200 and _has_validators(headers):
            fresh = _StoredPage.of(response.url, headers, content)
            self._pages.put(url, fresh.dump())
            kept = PageMemo(self._pages, url, fresh, self.stats)
        return Page(response.url, status, headers, content, links=_links(headers), memo=kept)

    def json(self, url: str, **kwargs: Any) -> Any:
        """GET and parse JSON; garbage is a BadUpstreamResponse."""
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        return self.get(url, headers=headers, **kwargs).json()

    def ftp_listdir(self, url: str) -> list[FtpEntry]:
        """An FTP directory's entries (MLSD, falling back to LIST), bounded in time and size."""
        host = self._check_host(url)
        with self._slot(host):
            return ftp.listdir(url, timeout=self.settings.timeout, max_entries=FTP_MAX_ENTRIES)

    def sha256(self, url: str) -> str:
        """Stream a download through sha256 in constant memory; cached by URL."""
        cached = self.hashes.get(url)
        if cached is not None:
            with self.stats._lock:
                self.stats.hashed_from_cache += 1
            return cached.decode()
        host = self._check_host(url)
        if urlsplit(url).scheme == "ftp":
            with self._slot(host):
                value = ftp.sha256(
                    url, timeout=self.settings.timeout, max_bytes=self.settings.max_download_bytes
                )
            self.hashes.put(url, value.encode())
            return value
        deadline = time.monotonic() + self.settings.download_timeout
        digest = hashlib.sha256()
        with (
            self._slot(host),
            self._send(url, {}, self.settings.max_download_bytes, deadline) as response,
        ):
            self._raise_for_status(url, response)
            for chunk in response.chunks(MiB):
                digest.update(chunk)
        value = digest.hexdigest()
        self.hashes.put(url, value.encode())
        return value

    def block_host(self, host: str, until: float) -> None:
        """Treat `host` as rate-limited until `until` (epoch seconds): requests fail at once."""
        with self._slots_lock:
            self._blocked[host] = max(until, self._blocked.get(host, 0.0))

    def close(self) -> None:
        self._transport.close()
        self.store.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ---------------------------------------------------------------------------

    def _send(
        self, url: str, headers: Mapping[str, str], max_bytes: int, deadline: float
    ) -> Response:
        try:
            return self._transport.get(url, headers, max_bytes=max_bytes, deadline=deadline)
        except HostRateLimited as exc:
            until = time.time() + exc.retry_after
            self.block_host(urlsplit(url).hostname or "", until)
            raise RateLimited(
                f"{url}: rate-limited for {exc.retry_after:.0f}s", reset_at=until
            ) from None

    def _raise_for_status(self, url: str, response: Response) -> None:
        status = response.status
        if status < 400:
            return
        if status in (404, 410):
            raise UpstreamNotFound(f"{url}: {status} not found")
        if status == 429:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            until = time.time() + (retry_after if retry_after is not None else 60.0)
            self.block_host(urlsplit(url).hostname or "", until)
            raise RateLimited(f"{url}: 429 too many requests", reset_at=until)
        if status >= 500:
            raise UpstreamUnavailable(
                f"{url}: server error {status} (after {self.settings.retries} retries)"
            )
        raise UpstreamError(f"{url}: HTTP {status}")

    def _check_host(self, url: str) -> str:
        host = urlsplit(url).hostname or ""
        if not host:
            raise BadUpstreamResponse(f"{url}: not an absolute URL")
        with self._slots_lock:
            until = self._blocked.get(host)
        if until is not None and until > time.time():
            raise RateLimited(
                f"{host} is rate-limited for {until - time.time():.0f}s more", reset_at=until
            )
        return host

    @contextlib.contextmanager
    def _slot(self, host: str) -> Iterator[None]:
        """A request's place: one of its host's, then one of all. In this order, so that a
        request waiting for a busy host holds nothing that requests to other hosts need."""
        with self._slots_lock:
            host_slot = self._host_slots[host]
        with host_slot, self._in_flight:
            yield


@dataclass(frozen=True)
class _StoredPage:
    """A page as stored: what a 304 lets us serve again, and the validators to ask with."""

    url: str
    headers: Mapping[str, str]
    content: bytes
    derived: Mapping[str, Any] = field(default_factory=dict)  # PageMemo's values, by kind
    # The body as stored: kept so that adding a derived value does not compress it again.
    packed: bytes | None = field(default=None, compare=False, repr=False)

    def conditions(self) -> dict[str, str]:
        found = HTTPHeaderDict(self.headers)
        conditions = {}
        if found.get("ETag"):
            conditions["If-None-Match"] = found["ETag"]
        if found.get("Last-Modified"):
            conditions["If-Modified-Since"] = found["Last-Modified"]
        return conditions

    @classmethod
    def of(cls, url: str, headers: Mapping[str, str], content: bytes) -> _StoredPage:
        # Listings and JSON compress ~5-10x; level 1 costs well under a millisecond a page.
        return cls(url, dict(headers), content, {}, zlib.compress(content, 1))

    def dump(self) -> bytes:
        head = {"url": self.url, "headers": dict(self.headers), "derived": dict(self.derived)}
        encoded = json.dumps(head, separators=(",", ":")).encode()
        packed = self.packed if self.packed is not None else zlib.compress(self.content, 1)
        return len(encoded).to_bytes(4, "big") + encoded + packed

    @classmethod
    def load(cls, data: bytes | None) -> _StoredPage | None:
        if not data:
            return None
        try:
            size = int.from_bytes(data[:4], "big")
            head = json.loads(data[4 : 4 + size])
            packed = data[4 + size :]
            derived = head.get("derived")
            return cls(
                head["url"],
                head["headers"],
                zlib.decompress(packed),
                derived if isinstance(derived, dict) else {},
                packed,
            )
        except (ValueError, KeyError, TypeError, zlib.error):
            return None  # a damaged entry is a miss, never an error


def _links(headers: Mapping[str, str]) -> dict[str, str]:
    value = headers.get("Link")
    if not value:
        return {}
    return {
        link.get("rel") or link["url"]: link["url"]
        for link in parse_header_links(value)
        if "url" in link
    }


def _has_validators(headers: Mapping[str, str]) -> bool:
    return bool(headers.get("ETag") or headers.get("Last-Modified"))


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
