"""What bot.transport does on the wire, against real local servers: redirects and the
credentials they may carry, proxies with credentials, encoded and broken bodies."""

from __future__ import annotations

import base64
import gzip
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.servers import LocalHttpServer, Reply

from bot.errors import BadUpstreamResponse, ResponseTooLarge, UpstreamUnavailable
from bot.http import Http, HttpSettings
from bot.transport import _credentials_allowed


@pytest.fixture
def other() -> Iterator[LocalHttpServer]:
    """A second server: another port, so another origin."""
    local = LocalHttpServer().start()
    yield local
    local.stop()


def client(tmp_path: Path, **overrides: object) -> Http:
    settings = {"cache": str(tmp_path / "c.sqlite"), "retries": 0, "timeout": 2, **overrides}
    return Http(HttpSettings(**settings))  # type: ignore[arg-type]


def test_a_callers_authorization_stays_with_its_origin(
    server: LocalHttpServer, other: LocalHttpServer, tmp_path: Path
) -> None:
    """The header a checker sets goes to the origin it asked; the redirect target on another
    origin gets that origin's own token instead."""
    server.routes["/start"] = Reply(302, "", {"Location": other.url("/landed")})
    other.routes["/landed"] = Reply(200, "here")
    tokens = {"localhost": "Bearer other-host-token"}
    with client(tmp_path, tokens=tokens) as http:
        start = server.url("/start")
        page = http.get(start, headers={"Authorization": "Bearer callers-own"})
        landed = other.url("/landed").replace("127.0.0.1", "localhost")
        server.routes["/start2"] = Reply(302, "", {"Location": landed})
        http.get(server.url("/start2"), headers={"Authorization": "Bearer callers-own"})
    assert (page.url, page.text) == (other.url("/landed"), "here")
    assert [r.headers.get("authorization") for r in server.requests] == ["Bearer callers-own"] * 2
    assert [r.headers.get("authorization") for r in other.requests] == [
        None,
        "Bearer other-host-token",
    ]


@pytest.mark.parametrize(
    ("first", "hop", "allowed"),
    [
        ("https://api.example", "https://api.example", "caller"),
        ("http://api.example", "https://api.example", "caller"),  # the same site, upgraded
        ("https://api.example", "http://api.example", "none"),  # downgraded: no secret at all
        ("https://api.example", "http://cdn.example", "none"),
        ("https://api.example", "https://cdn.example", "host"),
        ("https://api.example", "https://api.example:8443", "host"),
    ],
)
def test_what_a_redirect_hop_may_carry(first: str, hop: str, allowed: str) -> None:
    """Only the asked origin sees the caller's header; plain http after https sees none."""
    assert _credentials_allowed(first, hop) == allowed


def test_redirects_are_followed_up_to_the_bound(server: LocalHttpServer, tmp_path: Path) -> None:
    """Three redirects are followed with max_redirects 3, each hop counted; four are refused."""
    for hop in range(4):
        server.routes[f"/r{hop}"] = Reply(302, "", {"Location": f"/r{hop + 1}"})
    server.routes["/r4"] = Reply(200, "end")
    with client(tmp_path, max_redirects=3) as http:
        assert http.get(server.url("/r1")).text == "end"
        assert http.stats.snapshot()["requests"] == 4
        with pytest.raises(BadUpstreamResponse, match="too many redirects"):
            http.get(server.url("/r0"))


def test_a_redirect_out_of_http_is_refused(server: LocalHttpServer, tmp_path: Path) -> None:
    """A Location with another scheme is a named error, not a crash or a file read."""
    server.routes["/away"] = Reply(301, "", {"Location": "file:///etc/passwd"})
    with client(tmp_path) as http, pytest.raises(BadUpstreamResponse, match="not an http"):
        http.get(server.url("/away"))


def test_proxy_credentials_come_from_the_proxy_url(
    server: LocalHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`http_proxy=http://user:pass@host:port` is asked with Proxy-Authorization."""
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.base.replace("://", "://robot:pr0xy@"))
    server.routes["http://upstream.invalid/page"] = Reply(200, "proxied")
    with client(tmp_path) as http:
        assert http.get("http://upstream.invalid/page").text == "proxied"
    expected = "Basic " + base64.b64encode(b"robot:pr0xy").decode()
    assert server.requests[0].headers.get("proxy-authorization") == expected
    assert "pr0xy" not in server.requests[0].path


def test_gzip_bodies_are_decoded_and_capped_decoded(
    server: LocalHttpServer, tmp_path: Path
) -> None:
    """A gzip page reads as its text; a small gzip that inflates past the cap is refused."""
    server.routes["/small"] = Reply(
        200, gzip.compress(b"<a href='x-1.0.tar.gz'>x</a>"), {"Content-Encoding": "gzip"}
    )
    server.routes["/bomb"] = Reply(
        200, gzip.compress(b"a" * 5_000_000), {"Content-Encoding": "gzip"}
    )
    with client(tmp_path) as http:
        assert http.get(server.url("/small")).text == "<a href='x-1.0.tar.gz'>x</a>"
        with pytest.raises(ResponseTooLarge):
            http.get(server.url("/bomb"), max_bytes=1_000_000)
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


def raw_server(reply: bytes) -> tuple[str, Callable[[], None]]:
    """A one-shot server that sends `reply` as it is and hangs up; its URL and a stopper."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop() -> None:
        thread.join(timeout=5)
        listener.close()

    return f"http://127.0.0.1:{listener.getsockname()[1]}/", stop


def test_a_body_cut_short_is_unavailable_not_truncated(tmp_path: Path) -> None:
    """Fewer bytes than Content-Length announced is an error, never a shorter page."""
    url, stop = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<a href='x'>")
    try:
        with client(tmp_path) as http, pytest.raises(UpstreamUnavailable, match="reading failed"):
            http.get(url)
    finally:
        stop()


def test_a_garbled_status_line_is_unavailable(tmp_path: Path) -> None:
    """A server that answers something other than HTTP is a named network error."""
    url, stop = raw_server(b"SSH-2.0-OpenSSH_9.6\r\n")
    try:
        with client(tmp_path) as http, pytest.raises(UpstreamUnavailable):
            http.get(url)
    finally:
        stop()


def test_credentials_written_in_the_url_are_sent_as_basic_auth(
    server: LocalHttpServer, tmp_path: Path
) -> None:
    """A mirror configured as `http://user:token@host/` is asked with that user and token
    (percent-escapes decoded), and the URL's credentials are not in the request line."""
    server.routes["/simple/"] = Reply(200, "ok")
    url = server.url("/simple/").replace("://", "://robot:t%40ken@")
    with client(tmp_path, tokens={"127.0.0.1": "Bearer not-this-one"}) as http:
        assert http.get(url).text == "ok"
    expected = "Basic " + base64.b64encode(b"robot:t@ken").decode()
    assert server.requests[0].headers.get("authorization") == expected
    assert server.paths() == ["/simple/"]


def test_header_names_are_case_insensitive(
    server: LocalHttpServer, other: LocalHttpServer, tmp_path: Path
) -> None:
    """`authorization` spelled in lower case is held back from another origin like
    `Authorization`, and `accept` replaces the default Accept instead of adding a second."""
    server.routes["/start"] = Reply(302, "", {"Location": other.url("/landed")})
    other.routes["/landed"] = Reply(200, "here")
    with client(tmp_path) as http:
        http.get(server.url("/start"), headers={"authorization": "Bearer mine", "accept": "a/b"})
    assert server.requests[0].headers.get("authorization") == "Bearer mine"
    assert "authorization" not in other.requests[0].headers
    assert [r.headers.get("accept") for r in server.requests + other.requests] == ["a/b", "a/b"]
