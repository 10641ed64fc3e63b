"""One GET over urllib3: redirects, credentials by host, the environment's proxies, body caps.

bot.http sent its requests through requests until a profile of a sweep of 2,000 listings put
requests' own layers (preparing and merging settings, cookies, hooks, adapters) at a sixth of
the run's CPU, about 0.7 ms a request, where urllib3 alone costs a quarter of that. What of
requests a checker relied on is kept here, deliberately:

- redirects (301, 302, 303, 307, 308) are followed up to a bound; an Authorization the caller
  set goes only to the origin it was set for, and each hop gets the credentials written in its
  URL, else the token of its own host, else its netrc entry;
- proxies come from the environment (`*_proxy`, `no_proxy`) and credentials from netrc, both
  through requests' own functions, so they mean exactly what they mean to requests and to
  GitLab's client, but looked up once per origin (a run's environment does not change);
- certificates are checked against the configured bundle, else `REQUESTS_CA_BUNDLE` or
  `CURL_CA_BUNDLE`, else certifi's, as requests does;
- retries on connection errors, 5xx and 429 with backoff and `Retry-After` are urllib3's,
  with a cap on how long a `Retry-After` is waited for (`retry_policy`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urljoin, urlsplit

import certifi
import urllib3
import urllib3.exceptions
from requests.utils import get_environ_proxies, get_netrc_auth, select_proxy
from urllib3.util import Retry, Timeout, make_headers

from bot.errors import BadUpstreamResponse, ResponseTooLarge, UpstreamUnavailable

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK_BYTES = 64 * 1024
# What requests sends unless told otherwise; some servers answer differently without them.
DEFAULT_HEADERS = {"Accept-Encoding": "gzip, deflate", "Accept": "*/*"}


class Counts(Protocol):
    """Where the transport reports what went over the wire (bot.http.HttpStats)."""

    def add(self, *, requests: int = 0, not_modified: int = 0, bytes: int = 0) -> None: ...


class HostRateLimited(Exception):
    """Raised from inside urllib3 when a Retry-After is longer than we are willing to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


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
    with HostRateLimited (bot.http makes it RateLimited, GitLab's client a ForgeError), so one
    busy host cannot stall a whole run. `methods=None` retries every verb (GitLab writes are
    made idempotent by their callers).
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


class Response:
    """A response whose headers are in and whose body is read on demand, within its budgets.

    Close it (or use it as a context manager) so that its connection goes back to the pool.
    """

    def __init__(
        self,
        url: str,
        raw: urllib3.BaseHTTPResponse,
        max_bytes: int,
        deadline: float,
        counts: Counts,
    ) -> None:
        self.url = url  # where the redirects, if any, led
        self.status = raw.status
        self.headers = raw.headers  # case-insensitive
        self._raw = raw
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._counts = counts
        self._read = False  # the whole body: the connection can go back as it is

    def chunks(self, size: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The decoded body, chunk by chunk; past its size or time budget, an error."""
        received = 0
        try:
            for chunk in self._raw.stream(size, decode_content=True):
                received += len(chunk)
                self._counts.add(bytes=len(chunk))
                if received > self._max_bytes:
                    raise ResponseTooLarge(f"{self.url}: more than {self._max_bytes} bytes")
                if time.monotonic() > self._deadline:
                    raise UpstreamUnavailable(f"{self.url}: response not complete in time")
                yield chunk
        except BaseException as exc:
            self._raw.close()  # a connection left mid-body cannot be reused
            if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
                raise UpstreamUnavailable(f"{self.url}: reading failed: {reason(exc)}") from None
            raise
        self._read = True

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        """Give the connection back to the pool, unless a large unread body is left on it."""
        if not self._read:
            length = self.headers.get("Content-Length", "")
            if self.status == 304 or (length.isdigit() and int(length) <= CHUNK_BYTES):
                try:
                    self._raw.drain_conn()
                except (urllib3.exceptions.HTTPError, OSError):
                    self._raw.close()
            else:
                self._raw.close()
        self._raw.release_conn()

    def refuse_announced_size(self) -> None:
        """ResponseTooLarge now if the headers announce a body over the cap."""
        length = self.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self._max_bytes:
            self._raw.close()
            self._raw.release_conn()
            raise ResponseTooLarge(
                f"{self.url}: {int(length)} bytes is over the {self._max_bytes}-byte cap"
            )

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Transport:
    """GETs over pooled connections; thread-safe, one per Http."""

    def __init__(
        self,
        *,
        timeout: float,
        retry: Retry,
        max_redirects: int,
        user_agent: str,
        ca_bundle: str | None,
        tokens: Mapping[str, str],
        pool_size: int,
        counts: Counts,
    ) -> None:
        self._timeout = Timeout(connect=timeout, read=timeout)
        self._retry = retry
        self._max_redirects = max_redirects
        self._headers = {"User-Agent": user_agent, **DEFAULT_HEADERS}
        self._tokens = tokens
        self._counts = counts
        bundle = (
            ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        )
        bundle = bundle or certifi.where()
        self._pool_options: dict[str, Any] = {
            "num_pools": 64,  # hosts whose connections are kept; a sweep has many
            "maxsize": pool_size,
            "cert_reqs": "CERT_REQUIRED",
            **({"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}),
        }
        self._direct = urllib3.PoolManager(**self._pool_options)
        self._proxied: dict[str, urllib3.PoolManager] = {}
        # Per origin (scheme, host and port): its proxy and its netrc credentials.
        self._origins: dict[str, tuple[str | None, str | None]] = {}
        self._lock = threading.Lock()

    def get(
        self, url: str, headers: Mapping[str, str], *, max_bytes: int, deadline: float
    ) -> Response:
        """GET `url`, following redirects; the response of the last hop, body unread.

        Raises BadUpstreamResponse (a bad URL, a redirect loop), ResponseTooLarge (a body
        announced over `max_bytes`), UpstreamUnavailable (the network), HostRateLimited.
        """
        first = _origin(url)
        # Header names are case-insensitive: the caller's spelling replaces a default's, and
        # its Authorization, however spelled, is held back for the hops to its own origin.
        asked = {name: value for name, value in headers.items() if name.lower() != "authorization"}
        authorization = next(
            (value for name, value in headers.items() if name.lower() == "authorization"), None
        )
        named = {name.lower() for name in asked}
        sent = {name: v for name, v in self._headers.items() if name.lower() not in named}
        sent.update(asked)
        for _ in range(self._max_redirects + 1):
            allowed = _credentials_allowed(first, _origin(url))
            credentials = self._credentials(url) if allowed != "none" else None
            if allowed == "caller" and authorization:
                credentials = authorization
            raw = self._send(url, dict(sent), credentials)
            hops = 1 + len(raw.retries.history) if raw.retries is not None else 1
            self._counts.add(requests=hops, not_modified=int(raw.status == 304))
            location = raw.headers.get("Location")
            if raw.status not in REDIRECT_STATUSES or not location:
                response = Response(url, raw, max_bytes, deadline, self._counts)
                response.refuse_announced_size()
                return response
            Response(url, raw, max_bytes, deadline, self._counts).close()
            url = urljoin(url, location)
        raise BadUpstreamResponse(f"{url}: too many redirects (a redirect loop?)")

    def close(self) -> None:
        self._direct.clear()
        with self._lock:
            for manager in self._proxied.values():
                manager.clear()

    def _send(
        self, url: str, headers: dict[str, str], authorization: str | None
    ) -> urllib3.BaseHTTPResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise BadUpstreamResponse(f"{url}: not an http(s) URL")
        proxy, _ = self._origin_settings(url)
        if authorization:
            headers["Authorization"] = authorization
        manager = self._proxy_manager(proxy) if proxy else self._direct
        try:
            return manager.urlopen(
                "GET",
                url,
                headers=headers,
                redirect=False,
                retries=self._retry,
                timeout=self._timeout,
                preload_content=False,
                decode_content=True,
            )
        except HostRateLimited:
            raise
        except urllib3.exceptions.URLSchemeUnknown:
            raise BadUpstreamResponse(f"{url}: not an http(s) URL") from None
        except urllib3.exceptions.LocationValueError as exc:
            raise BadUpstreamResponse(f"{url}: invalid URL ({exc})") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
            if isinstance(cause, urllib3.exceptions.SSLError):
                raise UpstreamUnavailable(f"{url}: TLS error: {reason(cause)}") from None
            raise UpstreamUnavailable(f"{url}: {reason(cause or exc)}") from None

    def _credentials(self, url: str) -> str | None:
        """The Authorization for `url`: the user and password written in it (a mirror's
        `https://user:token@host/`), else its host's token, else its netrc entry."""
        parts = urlsplit(url)
        if parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
            return make_headers(basic_auth=f"{user}:{password}")["authorization"]
        token = self._tokens.get(parts.hostname or "")
        return token or self._origin_settings(url)[1]

    def _origin_settings(self, url: str) -> tuple[str | None, str | None]:
        origin = _origin(url)
        found = self._origins.get(origin)
        if found is None:
            proxy = select_proxy(url, get_environ_proxies(url))
            auth = get_netrc_auth(url)
            netrc = (
                make_headers(basic_auth=f"{auth[0]}:{auth[1]}")["authorization"] if auth else None
            )
            found = self._origins[origin] = (proxy, netrc)
        return found

    def _proxy_manager(self, proxy: str) -> urllib3.PoolManager:
        with self._lock:
            manager = self._proxied.get(proxy)
            if manager is None:
                manager = self._proxied[proxy] = _proxy_manager(proxy, self._pool_options)
            return manager


def _proxy_manager(proxy: str, options: dict[str, Any]) -> urllib3.PoolManager:
    if "://" not in proxy:
        proxy = "http://" + proxy  # what requests assumes of a bare host:port
    if proxy.startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError:
            raise UpstreamUnavailable(f"a SOCKS proxy needs PySocks installed: {proxy}") from None
        return SOCKSProxyManager(proxy, **options)
    parts = urlsplit(proxy)
    headers = {}
    if parts.username:
        headers = make_headers(proxy_basic_auth=f"{parts.username}:{parts.password or ''}")
    return urllib3.ProxyManager(proxy, proxy_headers=headers, **options)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"


def _credentials_allowed(first: str, hop: str) -> Literal["caller", "host", "none"]:
    """What Authorization a hop to origin `hop` of a request made to `first` may carry.

    The caller's own header goes to its origin only (or to that origin's https); any other hop
    gets the credentials in its URL, its host's token or its netrc entry, but a redirect from
    https to plain http gets nothing, as requests does.
    """
    if hop == first or (first.startswith("http://") and hop == "https://" + first[7:]):
        return "caller"
    if first.startswith("https://") and hop.startswith("http://"):
        return "none"
    return "host"


def reason(exc: BaseException) -> str:
    """The innermost, human-readable cause of a network error chain."""
    message = str(exc)
    for _ in range(10):  # a chain is short; the bound only guards against a cycle
        inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        # Only network errors explain a network error: an exception that happened to be
        # handled when the request was made (a memo's KeyError, say) is not its cause.
        if not isinstance(inner, OSError | urllib3.exceptions.HTTPError):
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
