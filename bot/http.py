"""The one HTTP layer every network call goes through.

It owns what no checker should think about: timeouts (per read and per whole response),
retries with backoff on connection errors, 5xx and 429 (honouring `Retry-After`, up to a cap),
a per-host concurrency limit, conditional requests against a persistent cache, size caps,
tokens by host, a custom CA bundle, and counters for the benchmark.

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

import hashlib
import json
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_netrc_auth
from urllib3.util.retry import Retry

from bot import __version__, ftp
from bot.errors import (
    BadUpstreamResponse,
    RateLimited,
    ResponseTooLarge,
    UpstreamError,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from bot.ftp import FtpEntry
from bot.store import Store, Table

MiB = 1024 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
FTP_MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class HttpSettings:
    """`http:` in recipe-bot.yaml, plus tokens resolved from the environment."""

    timeout: float = 30.0  # seconds per connect/read, and for a whole page
    concurrency: int = 16  # checks running at once (used by the sweep)
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
    headers: CaseInsensitiveDict[str]
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

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "requests": self.requests,
                "not_modified": self.not_modified,
                "bytes": self.bytes,
                "hashed_from_cache": self.hashed_from_cache,
                "reparsed": self.reparsed,
            }


class _Retry(Retry):
    """urllib3's Retry, but a hostile or busy host cannot make us sleep for an hour."""

    def __init__(self, *args: Any, max_retry_after: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_retry_after = max_retry_after

    def new(self, **kwargs: Any) -> _Retry:
        # urllib3 makes a new Retry on every attempt from its constructor's arguments; without
        # this, the cap would fall back to its default after the first retry.
        kwargs.setdefault("max_retry_after", self.max_retry_after)
        return super().new(**kwargs)

    def sleep_for_retry(self, response: Any = None) -> bool:
        retry_after = self.get_retry_after(response) if response is not None else None
        if retry_after is not None and retry_after > self.max_retry_after:
            raise HostRateLimited(retry_after)
        return bool(super().sleep_for_retry(response))


def retry_policy(
    retries: int, backoff: float, max_retry_after: float, *, methods: Collection[str] | None
) -> Retry:
    """Retries on connection errors, 5xx and 429, with exponential backoff and Retry-After.

    A Retry-After longer than `max_retry_after` is not slept through: the request fails at once
    with RateLimited (for GitLab: ForgeError), so one busy host cannot stall a whole run.
    `methods=None` retries every verb (GitLab writes are made idempotent by their callers).
    """
    return _Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset(methods) if methods is not None else None,
        respect_retry_after_header=True,
        raise_on_status=False,
        redirect=False,  # redirects are followed by the caller, bounded by max_redirects
        max_retry_after=max_retry_after,
    )


class _Session(requests.Session):
    """A Session that reads the environment's proxy settings and netrc once per origin.

    requests scans every environment variable twice per request for `*_proxy` and `no_proxy`
    (a fifth of a 304's CPU in a profile), and looks for a netrc file (and parses it) before
    every request; a run's environment does not change while it runs, and the answers depend
    only on the origin and the arguments.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[object, ...], Any] = {}
        self._netrc: dict[tuple[str, str], tuple[str, str] | None] = {}

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if self.trust_env and not request.auth and not self.auth:
            parts = urlsplit(request.url)
            origin = (parts.scheme, parts.netloc)
            if origin not in self._netrc:
                self._netrc[origin] = get_netrc_auth(request.url)
            # What requests would find itself; "none" said so, or it would look again.
            request.auth = self._netrc[origin] or _no_auth
        return super().prepare_request(request)

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if proxies:  # explicit proxies for this request: nothing general to remember
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert, self.trust_env)
        found = self._environment.get(key)
        if found is None:
            found = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[key] = found
        # A copy, with a fresh proxies dict: requests may add to what it is given.
        return {**found, "proxies": dict(found["proxies"])}


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """No credentials: what a request carries when the netrc has none for its origin."""
    return request


class HostRateLimited(Exception):
    """Raised from inside urllib3 when a Retry-After is longer than we are willing to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class _BoundedAdapter(HTTPAdapter):
    """Counts what goes over the wire and stops reading a body past its size or time budget."""

    def __init__(
        self, stats: HttpStats, limits: threading.local, retry: Retry, pool_size: int
    ) -> None:
        super().__init__(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
        self._stats = stats
        # Set by Http for the request this thread is making; a thread-local, because requests
        # copies the prepared request on each redirect hop and would drop anything attached to it.
        self._limits = limits

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().send(request, **kwargs)
        retries = getattr(response.raw, "retries", None)
        hops = 1 + len(retries.history) if retries is not None else 1
        self._stats.add(requests=hops, not_modified=int(response.status_code == 304))
        max_bytes, deadline = self._limits.current
        _bound_body(response, max_bytes, deadline, self._stats)
        return response


def _bound_body(
    response: requests.Response, max_bytes: int, deadline: float, stats: HttpStats
) -> None:
    """Make every read of the body respect the size and time budgets."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        response.close()
        raise ResponseTooLarge(
            f"{response.url}: {int(length)} bytes is over the {max_bytes}-byte cap"
        )
    stream = response.raw.stream

    def bounded(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        received = 0
        for chunk in stream(*args, **kwargs):
            received += len(chunk)
            stats.add(bytes=len(chunk))
            if received > max_bytes:
                response.close()
                raise ResponseTooLarge(f"{response.url}: more than {max_bytes} bytes")
            if time.monotonic() > deadline:
                response.close()
                raise UpstreamUnavailable(f"{response.url}: response not complete in time")
            yield chunk

    # requests reads bodies through raw.stream(); wrapping it bounds every consumer.
    response.raw.stream = bounded  # type: ignore[method-assign]


class Http:
    """The shared client. Thread-safe; one per run, injected into every checker."""

    def __init__(self, settings: HttpSettings | None = None) -> None:
        self.settings = settings or HttpSettings()
        self.stats = HttpStats()
        self._host_slots: defaultdict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(self.settings.per_host)
        )
        self._slots_lock = threading.Lock()
        self._blocked: dict[str, float] = {}  # host -> epoch seconds it is rate-limited until
        self._limits = threading.local()
        self._session = self._make_session()
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
        with self._slot(host):
            response = self._send(
                self._session, url, request_headers, limit, deadline, stream=False
            )
        status = response.status_code
        if status == 304 and stored is not None:
            # The 304's own headers (GitHub's rate-limit counters, say) are the fresh ones.
            merged = CaseInsensitiveDict(stored.headers)
            merged.update(response.headers)
            memo = PageMemo(self._pages, url, stored, self.stats)
            return Page(stored.url, 200, merged, stored.content, True, _links(merged), memo)
        if status not in allow_status:
            self._raise_for_status(url, response)
        page = Page(
            url=response.url,
            status=status,
            headers=CaseInsensitiveDict(response.headers),
            content=response.content,
            links={rel: link["url"] for rel, link in response.links.items()},
        )
        if status == 200 and _has_validators(response):
            fresh = _StoredPage.of(page)
            self._pages.put(url, fresh.dump())
            page = replace(page, memo=PageMemo(self._pages, url, fresh, self.stats))
        return page

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
        with self._slot(host):
            response = self._send(
                self._session, url, None, self.settings.max_download_bytes, deadline, stream=True
            )
            with response:
                self._raise_for_status(url, response)
                try:
                    for chunk in response.iter_content(chunk_size=MiB):
                        digest.update(chunk)
                except requests.RequestException as exc:
                    raise UpstreamUnavailable(f"{url}: download failed: {_reason(exc)}") from None
        value = digest.hexdigest()
        self.hashes.put(url, value.encode())
        return value

    def block_host(self, host: str, until: float) -> None:
        """Treat `host` as rate-limited until `until` (epoch seconds): requests fail at once."""
        with self._slots_lock:
            self._blocked[host] = max(until, self._blocked.get(host, 0.0))

    def close(self) -> None:
        self._session.close()
        self.store.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ---------------------------------------------------------------------------

    def _make_session(self) -> requests.Session:
        settings = self.settings
        session = _Session()
        retry = retry_policy(
            settings.retries, settings.backoff, settings.max_retry_after, methods=("GET", "HEAD")
        )
        adapter = _BoundedAdapter(self.stats, self._limits, retry, max(settings.per_host, 4))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = settings.user_agent
        session.max_redirects = settings.max_redirects
        if settings.ca_bundle:
            session.verify = settings.ca_bundle
        return session

    def _send(
        self,
        session: requests.Session,
        url: str,
        headers: Mapping[str, str] | None,
        max_bytes: int,
        deadline: float,
        *,
        stream: bool,
    ) -> requests.Response:
        request_headers = dict(headers or {})
        token = self.settings.tokens.get(urlsplit(url).hostname or "")
        if token:
            # requests drops Authorization on a redirect to another host, so it cannot leak.
            request_headers.setdefault("Authorization", token)
        self._limits.current = (max_bytes, deadline)
        try:
            return session.get(
                url, headers=request_headers, timeout=self.settings.timeout, stream=stream
            )
        except HostRateLimited as exc:
            until = time.time() + exc.retry_after
            self.block_host(urlsplit(url).hostname or "", until)
            raise RateLimited(
                f"{url}: rate-limited for {exc.retry_after:.0f}s", reset_at=until
            ) from None
        except requests.TooManyRedirects:
            raise BadUpstreamResponse(f"{url}: too many redirects (a redirect loop?)") from None
        except requests.exceptions.InvalidURL as exc:
            raise BadUpstreamResponse(f"{url}: invalid URL ({exc})") from None
        except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
            raise BadUpstreamResponse(f"{url}: not an http(s) URL") from None
        except requests.exceptions.SSLError as exc:
            raise UpstreamUnavailable(f"{url}: TLS error: {_reason(exc)}") from None
        except requests.RequestException as exc:
            raise UpstreamUnavailable(f"{url}: {_reason(exc)}") from None

    def _raise_for_status(self, url: str, response: requests.Response) -> None:
        status = response.status_code
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

    def _slot(self, host: str) -> threading.BoundedSemaphore:
        with self._slots_lock:
            return self._host_slots[host]


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
        found = CaseInsensitiveDict(self.headers)
        conditions = {}
        if found.get("ETag"):
            conditions["If-None-Match"] = found["ETag"]
        if found.get("Last-Modified"):
            conditions["If-Modified-Since"] = found["Last-Modified"]
        return conditions

    @classmethod
    def of(cls, page: Page) -> _StoredPage:
        # Listings and JSON compress ~5-10x; level 1 costs well under a millisecond a page.
        return cls(page.url, dict(page.headers), page.content, {}, zlib.compress(page.content, 1))

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
        for link in requests.utils.parse_header_links(value)
        if "url" in link
    }


def _has_validators(response: requests.Response) -> bool:
    return bool(response.headers.get("ETag") or response.headers.get("Last-Modified"))


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"'")
    return None


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _reason(exc: BaseException) -> str:
    """The innermost, human-readable cause of a requests/urllib3 error chain."""
    message = str(exc)
    for _ in range(10):  # a chain is short; the bound only guards against a cycle
        inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        # Only network errors explain a network error: an exception that happened to be
        # handled when the request was made (a memo's KeyError, say) is not its cause.
        if not isinstance(
            inner, OSError | requests.RequestException | urllib3.exceptions.HTTPError
        ):
            break
        exc = inner
        message = str(exc) or message
    for marker in (
        "timed out",
        "Connection refused",
        "Name or service not known",
        "Connection reset",
    ):
        if marker in message:
            return marker.lower()
    return message[:300]
