"""The github checker against a local server answering with recorded GitHub API responses."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.servers import LocalHttpServer, Reply, Request, json_reply

from bot.errors import (
    BadUpstreamResponse,
    CheckerConfigError,
    RateLimited,
    UpstreamError,
    UpstreamNotFound,
)
from bot.http import Http, HttpSettings
from bot.model import Recipe
from checkers import github
from checkers._tags import version_from_tag
from checkers.api import CheckContext

DATA = Path(__file__).parent / "data" / "github"
RESET = int(time.time()) + 3600


def recorded(name: str) -> str:
    return (DATA / name).read_text()


def budget(remaining: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(RESET),
        "X-RateLimit-Resource": "core",
    }


def install(server: LocalHttpServer, prefix: str = "") -> None:
    """GitHub's API under `prefix` ("" like api.github.com, "/api/v3" like GitHub Enterprise)."""
    repos = f"{prefix}/repos/octo"
    # GitHub's pagination links use the numeric /repositories/<id>/ form, not the name.
    page2 = f"{{base}}{prefix}/repositories/1300192/releases?per_page=100&page=2"
    first = f"{{base}}{repos}/widget/releases?per_page=100"
    server.routes.update(
        {
            f"{repos}/widget/releases?per_page=100": json_reply(
                recorded("releases_page1.json"),
                etag=True,
                headers={**budget(55), "Link": f'<{page2}>; rel="next", <{page2}>; rel="last"'},
            ),
            f"{prefix}/repositories/1300192/releases?per_page=100&page=2": json_reply(
                recorded("releases_page2.json"),
                etag=True,
                headers={**budget(54), "Link": f'<{first}>; rel="prev", <{first}>; rel="first"'},
            ),
            f"{repos}/widget/tags?per_page=100": json_reply(recorded("tags.json"), etag=True),
            f"{repos}/bare/releases?per_page=100": json_reply("[]", headers=budget(53)),
            f"{repos}/bare/tags?per_page=100": json_reply(
                recorded("tags.json"), headers=budget(52)
            ),
            f"{repos}/missing/releases?per_page=100": json_reply(
                recorded("not_found.json"), status=404, headers=budget(51)
            ),
            f"{repos}/limited/releases?per_page=100": json_reply(
                recorded("rate_limited.json"), status=403, headers=budget(0)
            ),
            f"{repos}/lastcall/releases?per_page=100": json_reply(
                recorded("releases_page2.json"), headers=budget(0)
            ),
        }
    )


@pytest.fixture
def api(server: LocalHttpServer) -> LocalHttpServer:
    install(server)
    return server


def check(ctx: CheckContext, api: LocalHttpServer, **options: object) -> dict[str, github.Release]:
    context = CheckContext(http=ctx.http, settings={"api_url": api.base})
    recipe = Recipe("widget", "widget/meta.yaml", "conda-v0", "1.0")
    return {release.version: release for release in github.releases(recipe, options, context)}


def test_releases_across_pages(ctx: CheckContext, api: LocalHttpServer) -> None:
    """Both pages are read; drafts and version-less tags are dropped; flags and dates kept."""
    found = check(ctx, api, repo="octo/widget")
    assert set(found) == {"2.1.0-rc1", "2.0.0", "1.9.0", "1.8.0"}
    assert found["2.1.0-rc1"].prerelease and not found["2.0.0"].prerelease
    assert found["2.0.0"].published == datetime(2024, 3, 1, 8, 30, 45, tzinfo=UTC)
    page = "https://github.com/octo/widget/releases/tag/v2.0.0"
    assert found["2.0.0"].url == found["2.0.0"].changelog == page
    assert api.hits("/repositories/1300192/releases?per_page=100&page=2") == 1
    assert api.requests[0].headers["accept"] == "application/vnd.github+json"


def test_second_check_revalidates(ctx: CheckContext, api: LocalHttpServer) -> None:
    """A repeated check sends If-None-Match and is answered 304 for both pages, same result,
    rebuilt from what the pages' memos kept: nothing is parsed again."""
    first = check(ctx, api, repo="octo/widget")
    second = check(ctx, api, repo="octo/widget")
    assert second == first
    fields = [(r.hashes, r.locations, r.notes, r.published) for r in first.values()]
    assert [(r.hashes, r.locations, r.notes, r.published) for r in second.values()] == fields
    assert ctx.http.stats.not_modified == 2
    assert ctx.http.stats.reparsed == 0
    assert all("if-none-match" in request.headers for request in api.requests[2:])


def test_tags_when_there_are_no_releases(ctx: CheckContext, api: LocalHttpServer) -> None:
    """A repository without releases is checked by its tags, linking each tag's page."""
    found = check(ctx, api, repo="octo/bare")
    assert set(found) == {"0.3.0", "0.2.0", "0.1.0"}
    assert found["0.3.0"].url == f"{api.base}/octo/bare/releases/tag/v0.3.0"
    assert found["0.1.0"].published is None and found["0.1.0"].changelog is None


def test_tags_option(ctx: CheckContext, api: LocalHttpServer) -> None:
    """`tags: true` reads tags even when the repository has releases."""
    assert set(check(ctx, api, repo="octo/widget", tags=True)) == {"0.3.0", "0.2.0", "0.1.0"}
    assert not any("/releases" in path for path in api.paths())


def test_tag_pattern(ctx: CheckContext, api: LocalHttpServer) -> None:
    """`tag_pattern` decides which tags are versions, and what part of them."""
    assert set(check(ctx, api, repo="octo/widget", tag_pattern=r"widget-(?P<version>[\d.]+)")) == {
        "1.9.0"
    }


def test_enterprise_api_url(http: Http, server: LocalHttpServer) -> None:
    """An `api_url` of https://host/api/v3 works, and tag pages point at https://host/."""
    install(server, prefix="/api/v3")
    context = CheckContext(http=http, settings={"api_url": server.url("/api/v3/")})
    recipe = Recipe("bare", "bare/meta.yaml", "conda-v0", "0.1")
    found = {r.version: r for r in github.releases(recipe, {"repo": "octo/bare"}, context)}
    assert found["0.3.0"].url == f"{server.base}/octo/bare/releases/tag/v0.3.0"


def test_token_is_sent_by_the_http_layer(tmp_path: Path, api: LocalHttpServer) -> None:
    """The checker never handles the token; the HTTP layer adds it for the API host."""
    settings = HttpSettings(cache=None, retries=0, tokens={"127.0.0.1": "Bearer t0ken"})
    with Http(settings) as http:
        check(CheckContext(http=http), api, repo="octo/bare")
    assert {request.headers.get("authorization") for request in api.requests} == {"Bearer t0ken"}


def test_missing_repository(ctx: CheckContext, api: LocalHttpServer) -> None:
    """A 404 is UpstreamNotFound naming the repository."""
    with pytest.raises(UpstreamNotFound, match="octo/missing"):
        check(ctx, api, repo="octo/missing")


def test_rate_limit_blocks_the_host(ctx: CheckContext, api: LocalHttpServer) -> None:
    """A 403 with no budget left is RateLimited until the reset; later checks send nothing."""
    with pytest.raises(RateLimited) as raised:
        check(ctx, api, repo="octo/limited")
    assert raised.value.reset_at == RESET
    sent = len(api.requests)
    with pytest.raises(RateLimited):
        check(ctx, api, repo="octo/widget")
    assert len(api.requests) == sent


def test_last_request_of_the_budget(ctx: CheckContext, api: LocalHttpServer) -> None:
    """An answer that spends the budget is used, and the host is blocked for the next check."""
    with capture_logs() as logs:
        assert set(check(ctx, api, repo="octo/lastcall")) == {"1.9.0", "1.8.0"}
    assert any(log["event"] == "github_rate_limit_spent" for log in logs)
    sent = len(api.requests)
    with pytest.raises(RateLimited):
        check(ctx, api, repo="octo/widget")
    assert len(api.requests) == sent


def test_secondary_rate_limit(ctx: CheckContext, api: LocalHttpServer) -> None:
    """A 403 with Retry-After, or saying "secondary rate limit", is RateLimited too."""
    api.routes["/repos/octo/abuse/releases"] = json_reply(
        '{"message": "You have exceeded a secondary rate limit."}',
        status=403,
        headers={"Retry-After": "120"},
    )
    with pytest.raises(RateLimited) as raised:
        check(ctx, api, repo="octo/abuse")
    assert raised.value.reset_at == pytest.approx(time.time() + 120, abs=5)
    api.routes["/repos/octo/quiet-abuse/releases"] = json_reply(
        '{"message": "You have exceeded a secondary rate limit. Please wait."}',
        status=403,
        headers=budget(4000),
    )
    with Http(HttpSettings(cache=None, retries=0)) as http, pytest.raises(RateLimited):
        check(CheckContext(http), api, repo="octo/quiet-abuse")


def test_plain_forbidden_is_not_a_rate_limit(ctx: CheckContext, api: LocalHttpServer) -> None:
    """A 403 with budget left (a permissions problem) is an UpstreamError, not RateLimited."""
    api.routes["/repos/octo/private/releases"] = json_reply(
        '{"message": "Must have admin rights to Repository."}', status=403, headers=budget(40)
    )
    with pytest.raises(UpstreamError, match="403") as raised:
        check(ctx, api, repo="octo/private")
    assert not isinstance(raised.value, RateLimited)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body="<html><body>Unicorn!</body></html>", headers={"Content-Type": "text/html"}),
        json_reply('{"message": "not a list"}'),
        json_reply('[{"tag_name": "v1.0", "draft": fal'),
    ],
)
def test_garbage(ctx: CheckContext, api: LocalHttpServer, reply: Reply) -> None:
    """HTML, a JSON object or truncated JSON where a list was expected: BadUpstreamResponse."""
    api.routes["/repos/octo/garbage/releases"] = reply
    with pytest.raises(BadUpstreamResponse):
        check(ctx, api, repo="octo/garbage")


def test_pagination_is_capped(ctx: CheckContext, api: LocalHttpServer) -> None:
    """A `next` link that never ends is followed for MAX_PAGES pages, with a warning."""

    def endless(request: Request) -> Reply:
        page = int(request.path.rsplit("page=", 1)[-1]) if "page=" in request.path else 1
        link = f'<{{base}}/repos/octo/endless/releases?per_page=100&page={page + 1}>; rel="next"'
        return json_reply(f'[{{"tag_name": "v{page}.0", "html_url": "x"}}]', headers={"Link": link})

    api.routes["/repos/octo/endless/releases"] = endless
    with capture_logs() as logs:
        found = check(ctx, api, repo="octo/endless")
    assert len(found) == github.MAX_PAGES == len(api.requests)
    assert [log["event"] for log in logs] == ["github_pages_capped"]


@pytest.mark.parametrize(
    "options",
    [{}, {"repo": "just-a-name"}, {"repo": "octo/widget", "tag_pattern": r"v(\d+)"}],
)
def test_misconfigured(ctx: CheckContext, api: LocalHttpServer, options: dict[str, str]) -> None:
    """No repo, a repo that is not owner/name, a tag_pattern without a version group."""
    with pytest.raises(CheckerConfigError):
        check(ctx, api, **options)
    assert api.requests == []


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v1.2.3", "1.2.3"),
        ("1.2.3", "1.2.3"),
        ("V2.0", "2.0"),
        ("release-1_2_3", "1.2.3"),
        ("curl-8_5_0", "8.5.0"),
        ("R_4_3_1", "4.3.1"),
        ("pcre2-10.42", "10.42"),
        ("my_project_1_2", "1.2"),
        ("llvmorg-17.0.6", "17.0.6"),
        ("go1.21.0", "1.21.0"),
        ("v2.0.0-beta.1", "2.0.0-beta.1"),
        ("refs/tags/v3.1", "3.1"),
        ("latest", None),
        ("nightly", None),
        ("pcre2", None),
    ],
)
def test_tag_to_version(tag: str, version: str | None) -> None:
    """Common tag spellings give the plain version; tags without one give None."""
    assert version_from_tag(tag) == version


def test_release_assets_publish_their_sha256() -> None:
    """A release's asset digests (`sha256:...`) become the release's published hashes."""
    item = {
        "tag_name": "v2.0.0",
        "html_url": "https://github.com/octo/widget/releases/tag/v2.0.0",
        "assets": [
            {"name": "widget-2.0.0.tar.gz", "digest": "sha256:" + "AB" * 32},
            {"name": "widget-2.0.0.zip", "digest": None},  # uploaded before GitHub hashed assets
            {"name": "notes.txt", "digest": "sha512:" + "cd" * 64},
            {"name": "odd.bin", "digest": "sha256:not-hex"},
            "not an asset",
        ],
    }

    release = github._from_release(item, None)

    assert release is not None
    assert release.hashes == {"widget-2.0.0.tar.gz": "ab" * 32}


def test_release_notes_come_with_the_release_capped() -> None:
    """The release body becomes the release's notes, cut at NOTES_CHARS; none when absent."""
    item = {"tag_name": "v2.0.0", "body": "Fixed things.\n" * 10_000}
    release = github._from_release(item, None)
    assert release is not None and release.notes is not None
    assert release.notes.startswith("Fixed things.")
    assert len(release.notes) == github.NOTES_CHARS
    bare = github._from_release({"tag_name": "v2.0.0", "body": None}, None)
    assert bare is not None and bare.notes is None
