"""The crawl checker over a small local website with the traps real sites have."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.servers import LocalHttpServer, Reply, Request, html_reply

from bot.errors import CheckerConfigError, UpstreamError, UpstreamNotFound, UpstreamUnavailable
from bot.http import Http, HttpSettings
from bot.model import Recipe
from checkers import crawl
from checkers.api import CheckContext, RunMemo

PATTERN = r"foo-(?P<version>[\d.]+)\.tar\.gz"
ROBOTS = """\
User-agent: BadBot
Disallow: /

User-agent: recipe-bot
Disallow: /site/private/

User-agent: *
Disallow: /site/
"""


def page(*hrefs: str) -> Reply:
    links = "\n".join(f'<li><a href="{href}">{href}</a></li>' for href in hrefs)
    return html_reply(f"<!doctype html><html><body><ul>\n{links}\n</ul></body></html>", etag=True)


def calendar(request: Request) -> Reply:
    """An endless calendar: every month links the months around it, and a week view."""
    match = re.search(r"/(\d{4})-(\d{2})/", request.path)
    year, month = (int(match[1]), int(match[2])) if match else (2024, 1)
    before = f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"
    after = f"{year + (month == 12)}-{month % 12 + 1:02d}"
    return page(f"/site/calendar/{before}/", f"/site/calendar/{after}/", "?view=week")


def archive(request: Request) -> Reply:
    """A query-string loop: `?page=N` links `?page=N+1`, for ever."""
    number = int(request.path.rsplit("=", 1)[-1]) if "page=" in request.path else 1
    return page(f"?page={number + 1}", "foo-0.5.tar.gz" if number == 2 else "index.html")


def build_site(server: LocalHttpServer) -> None:
    server.routes.update(
        {
            "/robots.txt": Reply(body=ROBOTS, headers={"Content-Type": "text/plain"}),
            "/site/index.html": page(
                "news/",
                "download.html",
                "calendar/2024-01/",
                "private/secret.html",
                "list/",
                "list/?C=N;O=D",
                "archive/?page=1",
                "index.html#top",
                "manual.pdf",
                "files/foo-1.0.tar.gz",
                "/outside/page.html",
                "https://elsewhere.invalid/foo.html",
            ),
            "/site/download.html": page(
                "files/foo-1.1.tar.gz",
                "../site/files/foo-1.2.tar.gz",
                "files/foo-1.2.tar.gz.sig",
                "https://mirror.invalid/foo-1.2.tar.gz",
                "docs/",
                "index.html",
            ),
            "/site/news/": page("../index.html", "../index.html#top", "2024/"),
            "/site/news/2024/": page("/site/files/foo-1.3.tar.gz", "dead-link.html"),
            "/site/docs/": page("old/"),
            "/site/docs/old/": page("older/", "foo-0.8.tar.gz"),
            "/site/docs/old/older/": page("foo-0.7.tar.gz"),  # depth 4: beyond max_depth 3
            "/site/private/secret.html": page("foo-9.9.tar.gz"),
            "/site/list/": page("?C=M;O=A", "?C=S;O=A", "../index.html"),
            "/site/calendar/*": calendar,
            "/site/archive/*": archive,
            "/outside/page.html": page("foo-8.0.tar.gz"),
        }
    )


@pytest.fixture
def site(server: LocalHttpServer) -> LocalHttpServer:
    build_site(server)
    return server


def run(ctx: CheckContext, site: LocalHttpServer, **options: object) -> dict[str, str]:
    recipe = Recipe("foo", "foo/meta.yaml", "conda-v0", "1.0")
    options = {"url": site.url("/site/index.html"), "pattern": PATTERN, **options}
    return {release.version: str(release.url) for release in crawl.releases(recipe, options, ctx)}


def pages_fetched(site: LocalHttpServer) -> list[str]:
    return [path for path in site.paths() if path != "/robots.txt"]


def test_finds_releases_within_the_limits(ctx: CheckContext, site: LocalHttpServer) -> None:
    """Every matching link within max_depth is found; private, outside and too-deep ones are not."""
    found = run(ctx, site)
    assert set(found) == {"1.0", "1.1", "1.2", "1.3", "0.8", "0.5"}
    assert found["1.2"] == site.url("/site/files/foo-1.2.tar.gz")  # the first link seen wins


def test_each_page_once_and_only_under_the_prefix(ctx: CheckContext, site: LocalHttpServer) -> None:
    """No URL is fetched twice, nothing outside /site/ is fetched, files and sort links are not."""
    run(ctx, site)
    fetched = pages_fetched(site)
    assert len(fetched) == len(set(fetched))
    assert all(path.startswith("/site/") for path in fetched)
    assert not any("?C=" in path or path.endswith((".pdf", ".tar.gz")) for path in fetched)
    assert site.hits("/robots.txt") == 1


def test_robots_txt_is_respected(ctx: CheckContext, site: LocalHttpServer) -> None:
    """The group for the bot's User-Agent applies: /site/private/ is never requested."""
    run(ctx, site)
    assert not any(path.startswith("/site/private/") for path in site.paths())


def test_robots_txt_disallowing_the_start(site: LocalHttpServer, tmp_path: Path) -> None:
    """Another User-Agent is disallowed /site/ by the `*` group: nothing is crawled."""
    settings = HttpSettings(cache=str(tmp_path / "c.sqlite"), retries=0, user_agent="OtherBot/2.0")
    with Http(settings) as http, pytest.raises(UpstreamError, match=r"robots\.txt"):
        run(CheckContext(http), site)
    assert site.paths() == ["/robots.txt"]


def test_no_robots_txt_means_allowed(ctx: CheckContext, site: LocalHttpServer) -> None:
    """A site without robots.txt (404) may be crawled."""
    del site.routes["/robots.txt"]
    assert "9.9" in run(ctx, site)


def test_query_strings_wait_for_plain_links(ctx: CheckContext, site: LocalHttpServer) -> None:
    """Pages with a query string are visited only after every plain page is done."""
    run(ctx, site)
    fetched = pages_fetched(site)
    first_query = next(i for i, path in enumerate(fetched) if "?" in path)
    assert "/site/docs/old/" in fetched[:first_query]  # the deepest plain page
    # After that, plain pages only when a query page links one (archive/?page=1 -> index.html).
    assert {path for path in fetched[first_query:] if "?" not in path} == {
        "/site/archive/index.html"
    }


def test_max_pages(ctx: CheckContext, site: LocalHttpServer) -> None:
    """The crawl stops after max_pages pages, even in an endless link space."""
    start = site.url("/site/calendar/2024-01/")
    run(ctx, site, url=start, allow=site.url("/site/calendar/"), max_pages=7, max_depth=100)
    assert len(pages_fetched(site)) == 7


def test_max_depth(ctx: CheckContext, site: LocalHttpServer) -> None:
    """max_depth 1 reads the start page and the pages it links, no further."""
    assert set(run(ctx, site, max_depth=1)) == {"1.0", "1.1", "1.2"}


def test_allow_prefixes(ctx: CheckContext, site: LocalHttpServer) -> None:
    """`allow` widens where pages may be fetched from."""
    found = run(ctx, site, allow=[site.url("/site/"), site.url("/outside/")])
    assert "8.0" in found


def test_redirect_out_of_the_prefix_is_not_read(ctx: CheckContext, site: LocalHttpServer) -> None:
    """A page that redirects outside the allowed prefixes contributes no links."""
    site.routes["/site/index.html"] = page("moved.html")
    site.routes["/site/moved.html"] = Reply(302, headers={"Location": "/outside/page.html"})
    assert run(ctx, site) == {}


def test_revisits_are_conditional(ctx: CheckContext, site: LocalHttpServer) -> None:
    """A second crawl of an unchanged site is answered with 304s."""
    first = run(ctx, site, max_depth=1)
    assert run(ctx, site, max_depth=1) == first
    assert ctx.http.stats.not_modified >= 4


def test_start_page_errors_are_the_checks(ctx: CheckContext, site: LocalHttpServer) -> None:
    """A missing start page is UpstreamNotFound; a dead link further in is skipped."""
    with pytest.raises(UpstreamNotFound):
        run(ctx, site, url=site.url("/site/nothing.html"))
    assert "1.3" in run(ctx, site)  # news/2024/ links dead-link.html


def test_site_down_midway_is_an_error(ctx: CheckContext, site: LocalHttpServer) -> None:
    """A 5xx on a later page fails the check: partial results would look like 'no update'."""
    site.routes["/site/news/"] = Reply(503, "maintenance")
    with pytest.raises(UpstreamUnavailable):
        run(ctx, site)


def test_never_detected() -> None:
    """Crawling is never chosen automatically."""
    assert crawl.detect("https://example.org/downloads/foo-1.0.tar.gz") is None


@pytest.mark.parametrize(
    "options",
    [
        {"url": None},
        {"pattern": None},
        {"pattern": r"foo-([\d.]+)\.tar\.gz"},
        {"max_pages": 0},
        {"max_depth": "3"},
        {"max_pages": True},
        {"allow": 5},
        {"allow": ["ok", ""]},
    ],
)
def test_misconfigured(
    ctx: CheckContext, site: LocalHttpServer, options: dict[str, object]
) -> None:
    """Missing url or pattern, no version group, bad limits or prefixes: CheckerConfigError."""
    with pytest.raises(CheckerConfigError):
        run(ctx, site, **options)
    assert site.requests == []


# --- robots.txt: once per site per run ----------------------------------------------------


@pytest.mark.parametrize(
    "robots",
    [
        Reply(body=ROBOTS, headers={"Content-Type": "text/plain"}),
        Reply(404, "not found"),
        Reply(403, "forbidden"),
    ],
    ids=["rules", "none (404)", "unreadable (403)"],
)
def test_robots_txt_once_per_site_per_run(
    ctx: CheckContext, site: LocalHttpServer, robots: Reply
) -> None:
    """Crawls of one site through one Http (one run) ask for robots.txt once, whatever it said."""
    site.routes["/robots.txt"] = robots
    first = run(ctx, site)
    assert run(ctx, site, url=site.url("/site/download.html")) != {}
    assert run(ctx, site) == first
    assert site.hits("/robots.txt") == 1


def test_robots_txt_rules_are_kept_for_the_run(site: LocalHttpServer, tmp_path: Path) -> None:
    """A robots.txt that forbids the crawl forbids the next one too, without being asked again."""
    settings = HttpSettings(cache=str(tmp_path / "c.sqlite"), retries=0, user_agent="OtherBot/2.0")
    with Http(settings) as http:
        for _ in range(2):
            with pytest.raises(UpstreamError, match=r"robots\.txt"):
                run(CheckContext(http), site)
    assert site.paths() == ["/robots.txt"]


def test_robots_txt_again_in_the_next_run(site: LocalHttpServer, tmp_path: Path) -> None:
    """Each run (a new Http) reads robots.txt again: a site's rules may change between runs."""
    for _ in range(2):
        with Http(HttpSettings(cache=str(tmp_path / "c.sqlite"), retries=0)) as http:
            run(CheckContext(http), site, max_depth=0)
    assert site.hits("/robots.txt") == 2


def test_robots_txt_per_port(ctx: CheckContext, site: LocalHttpServer) -> None:
    """Another port of the same host is another site, with a robots.txt of its own."""
    other = LocalHttpServer().start()
    try:
        build_site(other)
        other.routes["/robots.txt"] = Reply(404, "not found")
        run(ctx, site)
        assert "9.9" in run(ctx, other)  # its /site/private/ is not forbidden
        run(ctx, other)
        assert (site.hits("/robots.txt"), other.hits("/robots.txt")) == (1, 1)
    finally:
        other.stop()


def test_robots_txt_of_a_site_down_is_asked_again(ctx: CheckContext, site: LocalHttpServer) -> None:
    """A robots.txt answered with a 5xx fails the crawl and is not remembered."""
    rules = site.routes["/robots.txt"]
    site.routes["/robots.txt"] = Reply(503, "maintenance")
    with pytest.raises(UpstreamUnavailable):
        run(ctx, site)
    asked = site.hits("/robots.txt")
    site.routes["/robots.txt"] = rules
    assert "9.9" not in run(ctx, site)
    assert site.hits("/robots.txt") == asked + 1


def test_robots_txt_per_memo(ctx: CheckContext, site: LocalHttpServer) -> None:
    """A context given a memo of its own asks again: the memo, not the client, is what is shared."""
    for _ in range(2):
        assert "9.9" not in run(CheckContext(ctx.http, memo=RunMemo()), site)
    assert site.hits("/robots.txt") == 2
    assert not any(path.startswith("/site/private/") for path in site.paths())


def test_concurrent_crawls_share_the_rules(ctx: CheckContext, site: LocalHttpServer) -> None:
    """Crawls of one site on many threads at once all obey the one robots.txt they share."""
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: run(ctx, site), range(16)))
    assert all(found == results[0] for found in results)
    assert "9.9" not in results[0]
    assert not any(path.startswith("/site/private/") for path in site.paths())
    assert 1 <= site.hits("/robots.txt") <= 8  # at most one per thread racing for the first


def test_a_second_run_reads_no_page_again(site: LocalHttpServer, tmp_path: Path) -> None:
    """Two runs on one cache file, as two hourly sweeps: robots.txt and every page answer 304,
    and none of their bodies is decoded or parsed again (their lines and links are kept)."""
    site.routes["/robots.txt"] = Reply(
        body=ROBOTS, headers={"Content-Type": "text/plain", "ETag": '"robots-1"'}
    )
    settings = HttpSettings(cache=str(tmp_path / "cache.sqlite"), retries=0, timeout=5)
    found = []
    for _ in range(2):
        with Http(settings) as http:
            found.append(run(CheckContext(http=http), site, max_depth=1))
            stats = http.stats.snapshot()
    assert found[0] == found[1] != {}
    assert stats["not_modified"] == stats["requests"] >= 4
    assert stats["reparsed"] == 0
