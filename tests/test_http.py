"""The shared HTTP layer against a real local server: retries, caps, caching, tokens, hashing."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time
from pathlib import Path

import pytest
from support.servers import LocalHttpServer, Reply, Request

from bot.errors import (
    BadUpstreamResponse,
    RateLimited,
    ResponseTooLarge,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from bot.http import Http, HttpSettings


def client(tmp_path: Path, **overrides: object) -> Http:
    settings = {
        "cache": str(tmp_path / "cache.sqlite"),
        "retries": 2,
        "backoff": 0,
        "timeout": 2,
        **overrides,
    }
    return Http(HttpSettings(**settings))  # type: ignore[arg-type]


def failing_first(times: int, status: int, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """A route that fails `times` times, then answers 200 'ok'."""
    seen = []

    def route(_request: Request) -> Reply:
        seen.append(1)
        return Reply(status, "busy", headers or {}) if len(seen) <= times else Reply(200, "ok")

    return route


def test_retries_server_errors_then_succeeds(server: LocalHttpServer, tmp_path: Path) -> None:
    """Two 503s and then a 200 is a success after three requests."""
    server.routes["/flaky"] = failing_first(2, 503)
    with client(tmp_path) as http:
        assert http.get(server.url("/flaky")).text == "ok"
    assert server.hits("/flaky") == 3


def test_gives_up_after_the_retries(server: LocalHttpServer, tmp_path: Path) -> None:
    """A server that keeps failing is UpstreamUnavailable after 1 + retries requests."""
    server.routes["/down"] = Reply(500, "down")
    with client(tmp_path) as http, pytest.raises(UpstreamUnavailable, match="500"):
        http.get(server.url("/down"))
    assert server.hits("/down") == 3


def test_short_retry_after_is_honoured(server: LocalHttpServer, tmp_path: Path) -> None:
    """A 429 with Retry-After: 1 is waited for, then retried."""
    server.routes["/limited"] = failing_first(1, 429, {"Retry-After": "1"})
    with client(tmp_path) as http:
        started = time.monotonic()
        assert http.get(server.url("/limited")).text == "ok"
    assert time.monotonic() - started >= 0.9


def test_long_retry_after_rate_limits_the_host(server: LocalHttpServer, tmp_path: Path) -> None:
    """A Retry-After beyond the cap fails at once, and later requests to the host send nothing."""
    server.routes["/limited"] = Reply(429, "slow down", {"Retry-After": "3600"})
    with client(tmp_path) as http:
        started = time.monotonic()
        with pytest.raises(RateLimited) as caught:
            http.get(server.url("/limited"))
        assert caught.value.reset_at is not None and caught.value.reset_at > time.time() + 3000
        with pytest.raises(RateLimited):
            http.get(server.url("/other"))
        assert time.monotonic() - started < 2
    assert server.paths() == ["/limited"]


def test_the_retry_after_cap_holds_on_every_attempt(
    server: LocalHttpServer, tmp_path: Path
) -> None:
    """The configured cap holds on the second retry too, not only on the first.

    urllib3 makes a new Retry for each attempt; one that fell back to the default cap (30 s)
    would wait out this Retry-After and succeed."""
    replies = iter([Reply(503, "busy"), Reply(503, "busy", {"Retry-After": "2"})])
    server.routes["/limited"] = lambda _request: next(replies, Reply(200, "ok"))
    with client(tmp_path, max_retry_after=1) as http:
        started = time.monotonic()
        with pytest.raises(RateLimited):
            http.get(server.url("/limited"))
        assert time.monotonic() - started < 1.5
    assert server.hits("/limited") == 2


def test_not_found_is_typed(server: LocalHttpServer, tmp_path: Path) -> None:
    """404 is UpstreamNotFound, without retries."""
    with client(tmp_path) as http, pytest.raises(UpstreamNotFound):
        http.get(server.url("/missing"))
    assert server.hits("/missing") == 1


def test_size_cap_by_content_length(server: LocalHttpServer, tmp_path: Path) -> None:
    """A body announced larger than the cap is refused before it is read."""
    server.routes["/big"] = Reply(200, b"x" * 5000)
    with client(tmp_path) as http, pytest.raises(ResponseTooLarge):
        http.get(server.url("/big"), max_bytes=1000)


def test_size_cap_without_content_length(tmp_path: Path) -> None:
    """An endless body without Content-Length is cut at the cap, in bounded memory."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def endless() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n")
            try:
                for _ in range(10_000):
                    connection.sendall(b"<a href='x'>x</a>" * 1000)
            except OSError:
                pass  # the client hung up: what we wanted

    thread = threading.Thread(target=endless, daemon=True)
    thread.start()
    with client(tmp_path, cache=None) as http, pytest.raises(ResponseTooLarge):
        http.get(f"http://127.0.0.1:{port}/", max_bytes=100_000)
    thread.join(timeout=5)
    listener.close()


def test_redirect_loop(server: LocalHttpServer, tmp_path: Path) -> None:
    """A redirect loop ends with a named error, not a hang."""
    server.routes["/a"] = Reply(302, "", {"Location": "{base}/b"})
    server.routes["/b"] = Reply(302, "", {"Location": "{base}/a"})
    with client(tmp_path) as http, pytest.raises(BadUpstreamResponse, match="redirect"):
        http.get(server.url("/a"))


def test_timeout(server: LocalHttpServer, tmp_path: Path) -> None:
    """A server slower than the timeout is UpstreamUnavailable within a bounded time."""
    server.routes["/slow"] = Reply(200, "late", delay=3)
    with client(tmp_path, timeout=0.5, retries=0) as http:
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable):
            http.get(server.url("/slow"))
        assert time.monotonic() - started < 2.5


def test_conditional_requests_revalidate(server: LocalHttpServer, tmp_path: Path) -> None:
    """A response with an ETag is revalidated: the second fetch is a 304 served from the cache."""
    server.routes["/listing"] = Reply(200, "<a href='x-1.0.tar.gz'>x</a>", etag=True)
    with client(tmp_path) as http:
        first = http.get(server.url("/listing"))
    with client(tmp_path) as http:  # a new run, the same cache file
        second = http.get(server.url("/listing"))
        assert http.stats.snapshot()["not_modified"] == 1
    assert first.text == second.text and second.from_cache
    assert server.requests[1].headers.get("if-none-match")


def test_responses_without_validators_are_not_cached(
    server: LocalHttpServer, tmp_path: Path
) -> None:
    """Without ETag or Last-Modified every fetch goes to the server (no stale listings)."""
    server.routes["/plain"] = Reply(200, "v1")
    with client(tmp_path) as http:
        http.get(server.url("/plain"))
        server.routes["/plain"] = Reply(200, "v2")
        assert http.get(server.url("/plain")).text == "v2"


def test_token_only_for_its_host(server: LocalHttpServer, tmp_path: Path) -> None:
    """A token configured for one host is sent there and nowhere else, redirects included."""
    server.routes["/api"] = Reply(302, "", {"Location": "http://localhost:1/elsewhere"})
    other = LocalHttpServer().start()
    try:
        other.routes["/page"] = Reply(200, "ok")
        tokens = {"127.0.0.1": "Bearer s3cret-token"}
        with client(tmp_path, tokens=tokens, retries=0) as http:
            with pytest.raises(UpstreamUnavailable):
                http.get(server.url("/api"))  # the redirect target refuses connections
            http.get(other.url("/page").replace("127.0.0.1", "localhost"))
        assert server.requests[0].headers["authorization"] == "Bearer s3cret-token"
        assert "authorization" not in other.requests[0].headers
        assert "s3cret" not in repr(HttpSettings(tokens=tokens))
    finally:
        other.stop()


def test_sha256_streams_and_caches_by_url(server: LocalHttpServer, tmp_path: Path) -> None:
    """A download's digest equals hashlib's, and the next run takes it from the hash cache."""
    payload = bytes(range(256)) * 40_000  # 10 MB
    server.routes["/pkg-1.0.tar.gz"] = Reply(200, payload)
    with client(tmp_path) as http:
        assert http.sha256(server.url("/pkg-1.0.tar.gz")) == hashlib.sha256(payload).hexdigest()
    with client(tmp_path) as http:
        assert http.sha256(server.url("/pkg-1.0.tar.gz")) == hashlib.sha256(payload).hexdigest()
        assert http.stats.snapshot()["hashed_from_cache"] == 1
    assert server.hits("/pkg-1.0.tar.gz") == 1


def test_sha256_of_a_missing_file(server: LocalHttpServer, tmp_path: Path) -> None:
    """Hashing a 404 raises, so the rewrite can try another form of the URL."""
    with client(tmp_path) as http, pytest.raises(UpstreamNotFound):
        http.sha256(server.url("/pkg-2.0.tar.gz"))


def test_sha256_download_cap(server: LocalHttpServer, tmp_path: Path) -> None:
    """A download over the cap is abandoned with a named error and nothing is cached."""
    server.routes["/huge.tar.gz"] = Reply(200, b"x" * 10_000)
    with client(tmp_path, max_download_bytes=1000) as http:
        with pytest.raises(ResponseTooLarge):
            http.sha256(server.url("/huge.tar.gz"))
        assert http.hashes.get(server.url("/huge.tar.gz")) is None


def test_per_host_concurrency(server: LocalHttpServer, tmp_path: Path) -> None:
    """No more than http.per_host requests are in flight to one host."""
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def slow(_request: Request) -> Reply:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.1)
        with lock:
            in_flight[0] -= 1
        return Reply(200, "ok")

    server.routes["/slow*"] = slow
    with client(tmp_path, per_host=2, cache=None) as http:
        threads = [
            threading.Thread(target=http.get, args=(server.url(f"/slow{i}"),)) for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert peak[0] == 2


def _counting(server: LocalHttpServer, seconds: float) -> dict[str, int]:
    """Routes /slow* answer after `seconds`; the returned counts say what was in flight."""
    counts = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def slow(request: Request) -> Reply:
        with lock:
            counts["now"] += 1
            counts["peak"] = max(counts["peak"], counts["now"])
        time.sleep(seconds)
        with lock:
            counts["now"] -= 1
        return Reply(200, "ok")

    server.routes["/slow*"] = slow
    return counts


def _get_all(http: Http, urls: list[str]) -> None:
    """GET every URL, each on a thread of its own."""
    threads = [threading.Thread(target=http.get, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrency_bounds_the_requests_in_flight_to_all_hosts(
    server: LocalHttpServer, tmp_path: Path
) -> None:
    """`concurrency` is what is in flight in all: two host names, four a host, two at once."""
    counts = _counting(server, 0.3)
    other = server.url("/").replace("127.0.0.1", "localhost")
    urls = [server.url(f"/slow{i}") for i in range(4)] + [f"{other}slow{i}" for i in range(4)]
    with client(tmp_path, per_host=4, concurrency=2, cache=None) as http:
        _get_all(http, urls)
    assert counts["peak"] == 2
    counts["peak"] = 0
    with client(tmp_path, per_host=4, concurrency=8, cache=None) as http:
        _get_all(http, urls)
    assert counts["peak"] > 4  # both hosts at once: the limit above was the one holding them


def test_a_request_waiting_for_its_busy_host_holds_no_place_of_the_others(
    server: LocalHttpServer, tmp_path: Path
) -> None:
    """One place a host, two in all: the second request to a busy host waits for its host
    without taking the place a request to another host needs, so that one goes out at once:
    the first request is answered only once that one has arrived (or after 10 s)."""
    arrived = threading.Event()
    answered_after_it: list[bool] = []

    def first(_request: Request) -> Reply:
        answered_after_it.append(arrived.wait(timeout=10))
        return Reply(200, "ok")

    def other_host(_request: Request) -> Reply:
        arrived.set()
        return Reply(200, "ok")

    server.routes["/first"] = first
    server.routes["/second"] = Reply(200, "ok")
    server.routes["/other"] = other_host
    other = server.url("/other").replace("127.0.0.1", "localhost")
    with client(tmp_path, per_host=1, concurrency=2, cache=None) as http:
        busy = [threading.Thread(target=http.get, args=(server.url(path),))
                for path in ("/first", "/second")]  # fmt: skip
        for thread in busy:
            thread.start()
            time.sleep(0.2)  # in this order: the second finds its host busy
        http.get(other)
        for thread in busy:
            thread.join()
    assert answered_after_it == [True]


def test_error_names_the_network_cause_not_an_unrelated_exception(tmp_path: Path) -> None:
    """A request made while another exception is handled reports its own cause, not that one."""
    with client(tmp_path, retries=0) as http:
        try:
            raise KeyError("unrelated-memo-key")
        except KeyError:
            with pytest.raises(UpstreamUnavailable) as caught:
                http.get("http://127.0.0.1:1/")  # nothing listens on port 1
    assert "unrelated-memo-key" not in str(caught.value)
    assert "refused" in str(caught.value)


def test_reading_a_304_body_again_is_counted(server: LocalHttpServer, tmp_path: Path) -> None:
    """Reading the body of a page served from the cache counts in `reparsed`."""
    server.routes["/api"] = Reply(200, '{"a": 1}', {"Content-Type": "application/json"}, etag=True)
    with client(tmp_path) as http:
        assert http.json(server.url("/api")) == {"a": 1}
        assert http.stats.snapshot()["reparsed"] == 0  # a fresh body is parsed once, by rights
    with client(tmp_path) as http:
        assert http.json(server.url("/api")) == {"a": 1}
        assert http.stats.snapshot() | {"bytes": 0} == {
            "requests": 1,
            "not_modified": 1,
            "bytes": 0,
            "hashed_from_cache": 0,
            "reparsed": 1,
        }


def test_derived_values_survive_in_the_cache(server: LocalHttpServer, tmp_path: Path) -> None:
    """What is put in a page's memo comes back with the page's 304, in the next run."""
    server.routes["/p"] = Reply(200, "<p>x</p>", {"Content-Type": "text/html"}, etag=True)
    with client(tmp_path) as http:
        page = http.get(server.url("/p"))
        assert page.memo is not None and page.memo.get("kind.1") is None
        page.memo.put("kind.1", ["derived"])
    with client(tmp_path) as http:
        again = http.get(server.url("/p"))
        assert again.from_cache and again.memo is not None
        assert again.memo.get("kind.1") == ["derived"]
        assert again.content == b"<p>x</p>"


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch, server: LocalHttpServer) -> LocalHttpServer:
    """The local server as the environment's HTTP proxy, with 127.0.0.1 exempt from it."""
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.base)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return server


def test_environment_proxies_are_honoured_per_origin(
    proxy_env: LocalHttpServer, tmp_path: Path
) -> None:
    """Settings read once per origin still send each origin the way the environment says."""
    proxy_env.routes["/page"] = Reply(200, "ok")
    with client(tmp_path) as http:
        for _ in range(2):  # the second time from what was read the first time
            assert http.get("http://upstream.invalid/page").text == "ok"
            assert http.get(proxy_env.url("/page")).text == "ok"
    # Through the proxy, the request line holds the whole URL; NO_PROXY hosts are asked directly.
    assert proxy_env.paths() == ["http://upstream.invalid/page", "/page"] * 2


def test_netrc_credentials_are_sent_to_their_host_only(
    server: LocalHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As requests does: a netrc entry for a host is sent as Basic auth there, on every request
    (the file is read once per origin), and a host without one gets no Authorization."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login robot password n3trc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    server.routes["/a"] = Reply(200, "a")
    with client(tmp_path) as http:
        http.get(server.url("/a"))
        netrc.write_text("")  # read once: a run's environment does not change under it
        http.get(server.url("/a"))
        http.get(server.url("/a").replace("127.0.0.1", "localhost"))
    basic = "Basic " + base64.b64encode(b"robot:n3trc-secret").decode()
    assert [r.headers.get("authorization") for r in server.requests] == [basic, basic, None]
