"""The listing checker against real local HTTP and FTP servers: every style, every failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.servers import LocalFtpServer, LocalHttpServer, Reply, html_reply, nginx_index

from bot.errors import (
    BadUpstreamResponse,
    CheckerConfigError,
    RateLimited,
    ResponseTooLarge,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from bot.http import Http, HttpSettings
from bot.model import Recipe, Release
from checkers import listing
from checkers.api import CheckContext

LISTINGS = Path(__file__).parent / "data" / "listings"


def sample(name: str, **kwargs: Any) -> Reply:
    return html_reply((LISTINGS / name).read_text(), **kwargs)


def versions(found: list[Release]) -> set[str]:
    return {release.version for release in found}


def detected(source_url: str) -> dict[str, Any]:
    options = listing.detect(source_url)
    assert options is not None, source_url
    return options


@pytest.mark.parametrize(
    ("sample_name", "directory", "source", "expected"),
    [
        (
            "apache.html",
            "/gnu/readline/",
            "readline-8.0.tar.gz",
            {"6.3", "8.0", "8.1", "8.2", "8.3-rc1"},
        ),
        ("nginx.html", "/pub/zlib/", "zlib-1.3.tar.gz", {"1.2.13", "1.3", "1.3.1"}),
        ("lighttpd.html", "/ftp/", "lua-5.4.5.tar.gz", {"5.4.5", "5.4.6"}),
    ],
)
def test_autoindex_styles(
    server: LocalHttpServer,
    ctx: CheckContext,
    recipe: Recipe,
    sample_name: str,
    directory: str,
    source: str,
    expected: set[str],
) -> None:
    """Apache, nginx and lighttpd listings give every release of the detected file pattern only."""
    server.routes[directory] = sample(sample_name)
    options = detected(server.url(directory + source))
    assert options["url"] == server.url(directory)
    found = listing.releases(recipe, options, ctx)
    # Not readline-doc-8.4, readline-8.4-patches, signatures, nor zlib's long-named variant.
    assert versions(found) == expected
    assert server.url(directory + source) in {release.url for release in found}
    assert all(release.changelog is None for release in found)


def test_sort_links_and_parents_are_not_releases(
    server: LocalHttpServer, ctx: CheckContext, recipe: Recipe
) -> None:
    """Apache's `?C=N;O=D` column links and the parent link are neither files nor series."""
    server.routes["/gnu/readline/"] = sample("apache.html")
    found = listing.releases(
        recipe, {"url": server.url("/gnu/readline/"), "pattern": "(?P<version>.*)"}, ctx
    )
    assert all("?" not in str(release.url) for release in found)
    assert server.url("/gnu/") not in {release.url for release in found}
    assert server.paths() == ["/gnu/readline/"]


def test_percent_encoded_names(server: LocalHttpServer, ctx: CheckContext, recipe: Recipe) -> None:
    """Patterns match the unquoted file name; the release URL stays as linked."""
    server.routes["/pub/zlib/"] = sample("nginx.html")
    options = {
        "url": server.url("/pub/zlib/"),
        "pattern": r"zlib\+extras-(?P<version>[\d.]+)\.tar\.gz",
    }
    [release] = listing.releases(recipe, options, ctx)
    assert (release.version, release.url) == (
        "2.0",
        server.url("/pub/zlib/zlib%2Bextras-2.0.tar.gz"),
    )


def test_plain_page_of_links(server: LocalHttpServer, ctx: CheckContext, recipe: Recipe) -> None:
    """Any page of links works; relative links resolve against `<base href>`, fragments dropped."""
    server.routes["/download.html"] = sample("plain.html")
    options = {"url": server.url("/download.html"), "pattern": r"tool-(?P<version>[\d.]+)\.tar\.xz"}
    found = {release.version: release.url for release in listing.releases(recipe, options, ctx)}
    assert found == {
        "3.1.0": "https://mirror.invalid/releases/tool-3.1.0.tar.xz",
        "3.0.2": "https://mirror.invalid/releases/tool-3.0.2.tar.xz",
        "2.9": "https://mirror.invalid/releases/tool-2.9.tar.xz",
        "1.0": "https://archive.invalid/old/tool-1.0.tar.xz",
    }


def test_links_resolve_against_the_final_url(
    server: LocalHttpServer, ctx: CheckContext, recipe: Recipe
) -> None:
    """A directory URL without its slash is redirected; links resolve against where it landed."""
    server.routes["/gnu/readline"] = Reply(301, headers={"Location": "/gnu/readline/"})
    server.routes["/gnu/readline/"] = sample("apache.html")
    options = {
        "url": server.url("/gnu/readline"),
        "pattern": detected("https://h/readline-8.0.tar.gz")["pattern"],
    }
    found = listing.releases(recipe, options, ctx)
    assert server.url("/gnu/readline/readline-8.2.tar.gz") in {release.url for release in found}


def glib_site(server: LocalHttpServer) -> None:
    series = ["2.74/", "2.76/", "2.78/", "2.79/", "2.80/", "2.81/", "extras/"]
    server.routes["/sources/glib/"] = html_reply(
        nginx_index("/sources/glib/", [*series, "cache.json"])
    )
    for name, files in {
        "2.74": ["glib-2.74.0.tar.xz"],
        "2.76": ["glib-2.76.6.tar.xz"],
        "2.78": ["glib-2.78.4.tar.xz"],
        "2.80": [
            "glib-2.80.0.tar.xz",
            "glib-2.80.0.sha256sum",
            "glib-2.80.1.tar.xz",
            "glib-2.80.1.news",
        ],
        "2.81": ["glib-2.81.0.tar.xz"],
    }.items():  # 2.79/ is a dangling link
        path = f"/sources/glib/{name}/"
        server.routes[path] = html_reply(nginx_index(path, files))


def test_versioned_subdirectories(
    server: LocalHttpServer, ctx: CheckContext, recipe: Recipe
) -> None:
    """A file under `…/glib/2.80/` lists `…/glib/` and the newest few series directories only."""
    glib_site(server)
    options = detected(server.url("/sources/glib/2.80/glib-2.80.0.tar.xz"))
    assert options["url"] == server.url("/sources/glib/")
    found = listing.releases(recipe, options, ctx)
    assert versions(found) == {"2.81.0", "2.80.0", "2.80.1"}
    assert server.url("/sources/glib/2.80/glib-2.80.1.tar.xz") in {r.url for r in found}
    assert server.paths() == [
        "/sources/glib/",
        "/sources/glib/2.81/",
        "/sources/glib/2.80/",
        "/sources/glib/2.79/",
    ]


@pytest.mark.parametrize("variant", ["standard", "no-mlsd", "nlst-only"])
def test_ftp_listing(
    ftp_server: Callable[..., LocalFtpServer], ctx: CheckContext, recipe: Recipe, variant: str
) -> None:
    """FTP directories are listed through the HTTP layer, series sub-directories included."""
    server = ftp_server(variant)
    readline = listing.releases(
        recipe, detected(server.url("/gnu/readline/readline-8.0.tar.gz")), ctx
    )
    assert versions(readline) == {"8.0", "8.1", "8.2"}
    assert server.url("/gnu/readline/readline-8.2.tar.gz") in {r.url for r in readline}
    glib = listing.releases(recipe, detected(server.url("/glib/2.80/glib-2.80.0.tar.xz")), ctx)
    assert versions(glib) == {"2.78.1", "2.80.0", "2.80.2"}


@pytest.mark.parametrize(
    "validator", [{"etag": True}, {"last_modified": "Mon, 22 Jan 2024 19:42:00 GMT"}]
)
def test_unchanged_listing_is_revalidated(
    server: LocalHttpServer, ctx: CheckContext, recipe: Recipe, validator: dict[str, Any]
) -> None:
    """The second check of an unchanged listing costs a 304 (ETag or Last-Modified)."""
    server.routes["/pub/zlib/"] = sample("nginx.html", **validator)
    options = detected(server.url("/pub/zlib/zlib-1.3.tar.gz"))
    first = listing.releases(recipe, options, ctx)
    assert listing.releases(recipe, options, ctx) == first
    assert ctx.http.stats.not_modified == 1
    assert server.paths() == ["/pub/zlib/", "/pub/zlib/"]


def test_thousands_of_entries(server: LocalHttpServer, ctx: CheckContext, recipe: Recipe) -> None:
    """A listing of 6000 entries is read whole and quickly."""
    names = [
        f"pkg-{major}.{minor}.{patch}.tar.gz"
        for major in range(3)
        for minor in range(40)
        for patch in range(50)
    ]
    server.routes["/big/"] = html_reply(nginx_index("/big/", names))
    started = time.monotonic()
    found = listing.releases(recipe, detected(server.url("/big/pkg-1.0.0.tar.gz")), ctx)
    assert len(found) == len(names) == 6000
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(404, "gone"), UpstreamNotFound),
        (Reply(500, "oops"), UpstreamUnavailable),
        (Reply(drop=True), UpstreamUnavailable),
        (Reply(429, "slow down", headers={"Retry-After": "120"}), RateLimited),
        (
            Reply(
                body=b"\x1f\x8b\x08\x00\x00\x00\x00\x00",
                headers={"Content-Type": "application/gzip"},
            ),
            BadUpstreamResponse,
        ),
        (
            html_reply("<html><body><h1>Service unavailable</h1>try later</body></html>"),
            BadUpstreamResponse,
        ),
        (
            Reply(body=b"<html>\x00\x00\x00\x01binary", headers={"Content-Type": "text/html"}),
            BadUpstreamResponse,
        ),
        (Reply(302, headers={"Location": "/loop/b"}), BadUpstreamResponse),
    ],
)
def test_upstream_failures(
    server: LocalHttpServer, ctx: CheckContext, recipe: Recipe, reply: Reply, error: type[Exception]
) -> None:
    """Each broken upstream gives its typed error naming the URL, in bounded time."""
    server.routes["/loop/a"] = reply
    server.routes["/loop/b"] = Reply(302, headers={"Location": "/loop/a"})
    started = time.monotonic()
    with pytest.raises(error, match=r"127\.0\.0\.1"):
        listing.releases(recipe, {"url": server.url("/loop/a"), "pattern": "(?P<version>.*)"}, ctx)
    assert time.monotonic() - started < 5


def test_server_errors_are_retried(
    server: LocalHttpServer, ctx: CheckContext, recipe: Recipe
) -> None:
    """A 500 is retried (once, as configured) before it becomes UpstreamUnavailable."""
    server.routes["/flaky/"] = Reply(500, "oops")
    with pytest.raises(UpstreamUnavailable):
        listing.releases(recipe, {"url": server.url("/flaky/"), "pattern": "(?P<version>.*)"}, ctx)
    assert server.hits("/flaky/") == 2


def test_rate_limited_host_fails_fast(
    server: LocalHttpServer, ctx: CheckContext, recipe: Recipe
) -> None:
    """After a 429 with a long Retry-After, the next check of that host sends nothing."""
    server.routes["/busy/"] = Reply(429, headers={"Retry-After": "120"})
    options = {"url": server.url("/busy/"), "pattern": "(?P<version>.*)"}
    with pytest.raises(RateLimited):
        listing.releases(recipe, options, ctx)
    sent = len(server.requests)
    with pytest.raises(RateLimited):
        listing.releases(recipe, {**options, "url": server.url("/gnu/")}, ctx)
    assert len(server.requests) == sent


def test_slow_server_times_out(server: LocalHttpServer, recipe: Recipe, tmp_path: Path) -> None:
    """An answer slower than the timeout is UpstreamUnavailable, well before the server replies."""
    server.routes["/slow/"] = sample("nginx.html", delay=10)
    settings = HttpSettings(cache=str(tmp_path / "c.sqlite"), retries=0, timeout=0.3)
    started = time.monotonic()
    with Http(settings) as http, pytest.raises(UpstreamUnavailable, match="timed out"):
        listing.releases(
            recipe, {"url": server.url("/slow/"), "pattern": "(?P<version>.*)"}, CheckContext(http)
        )
    assert time.monotonic() - started < 3


def test_oversized_listing(server: LocalHttpServer, recipe: Recipe, tmp_path: Path) -> None:
    """A listing over the page cap is abandoned with ResponseTooLarge."""
    server.routes["/pub/zlib/"] = sample("nginx.html")
    settings = HttpSettings(cache=str(tmp_path / "c.sqlite"), retries=0, max_page_bytes=1000)
    with Http(settings) as http, pytest.raises(ResponseTooLarge):
        listing.releases(
            recipe, detected(server.url("/pub/zlib/zlib-1.3.tar.gz")), CheckContext(http)
        )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"url": "https://example.invalid/"},
        {"url": "https://example.invalid/", "pattern": "x-(.*)"},
        {"url": "https://example.invalid/", "pattern": "(?P<version>"},
    ],
)
def test_misconfigured(ctx: CheckContext, recipe: Recipe, options: dict[str, str]) -> None:
    """No url, no pattern, a pattern without a version group or not a regex at all."""
    with pytest.raises(CheckerConfigError):
        listing.releases(recipe, options, ctx)
