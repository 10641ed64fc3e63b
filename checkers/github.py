"""GitHub releases (or tags) of one repository, through the REST API.

    GET {api_url}/repos/{repo}/releases?per_page=100   (Link: rel="next" pages, capped)
    -> no published release, or `tags: true`: GET {api_url}/repos/{repo}/tags

Options: `repo` (owner/name), `tags` (list tags, not releases), `tag_pattern` (a regex with a
`version` group). Settings: `api_url` (GitHub Enterprise: https://host/api/v3) and `token_env`,
the environment variable whose token the HTTP layer sends to the API host. A spent rate limit
blocks the API host in the HTTP layer until its reset, so every other GitHub recipe of the run
fails fast without a request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from bot.errors import BadUpstreamResponse, RateLimited, UpstreamError, UpstreamNotFound
from bot.model import Recipe, Release
from bot.pages import Page
from checkers._tags import NamePattern, dedupe, version_from_tag
from checkers.api import (
    ENV_NAME,
    FLAG,
    OWNER_NAME,
    URL,
    VERSION_REGEX,
    CheckContext,
    Option,
    Options,
)

DEFAULT_API = "https://api.github.com"
REPO = Option("repo", OWNER_NAME, required=True)
TAGS = Option("tags", FLAG, default=False)
TAG_PATTERN = Option("tag_pattern", VERSION_REGEX)
OPTIONS = Options(REPO, TAGS, TAG_PATTERN, checker="github")
API_URL = Option("api_url", URL, default=DEFAULT_API)
TOKEN_ENV = Option("token_env", ENV_NAME, default="GITHUB_TOKEN", token_for="api_url")
SETTINGS = Options(API_URL, TOKEN_ENV, checker="github", what="setting")

MAX_PAGES = 10
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
_DOWNLOAD_URL = re.compile(
    r"https?://(?:www\.)?github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+)/"
    r"(?:archive|releases/download)/"
)


def detect(url: str) -> dict[str, Any] | None:
    """`https://github.com/o/r/archive/…` and `…/releases/download/…` -> {"repo": "o/r"}."""
    match = _DOWNLOAD_URL.match(url)
    if match is None:
        return None
    return {"repo": f"{match['owner']}/{match['name'].removesuffix('.git')}"}


def releases(recipe: Recipe, options: Mapping[str, Any], ctx: CheckContext) -> list[Release]:
    given = OPTIONS.read(options)
    repo, pattern = given[REPO], given.optional(TAG_PATTERN)
    api = SETTINGS.read(ctx.settings)[API_URL].rstrip("/")
    base = f"{api}/repos/{quote(repo)}"
    if not given[TAGS]:
        # Drafts are only visible with push access, and are not releases yet.
        listed = _items(ctx, f"{base}/releases?per_page=100", repo)
        published = [item for item in listed if not item.get("draft")]
        if published:
            return dedupe(r for r in (_from_release(item, pattern) for item in published) if r)
    web = _web_url(api, repo)
    tags = _items(ctx, f"{base}/tags?per_page=100", repo)
    return dedupe(r for r in (_from_tag(item, pattern, web) for item in tags) if r)


def _from_release(item: Mapping[str, Any], pattern: NamePattern | None) -> Release | None:
    tag = item.get("tag_name")
    version = version_from_tag(tag, pattern) if isinstance(tag, str) else None
    if version is None:
        return None
    page = item.get("html_url") if isinstance(item.get("html_url"), str) else None
    return Release(
        version=version,
        url=page,
        published=_timestamp(item.get("published_at")),
        prerelease=bool(item.get("prerelease")),
        changelog=page,
        hashes=_asset_digests(item.get("assets")),
        locations=_asset_folders(item.get("assets")),
        # The release notes, for the merge request; capped, a release body can be huge.
        notes=item["body"][:NOTES_CHARS] if isinstance(item.get("body"), str) else None,
    )


NOTES_CHARS = 20_000


def _asset_folders(assets: Any) -> frozenset[str]:
    """The release's download folders (`https://github.com/o/r/releases/download/v1/`): an
    asset's digest is for that file, not for a tag archive or another repository's file."""
    folders = set()
    for asset in assets if isinstance(assets, list) else ():
        url = asset.get("browser_download_url") if isinstance(asset, dict) else None
        if isinstance(url, str) and "/" in url:
            folders.add(url.rsplit("/", 1)[0] + "/")
    return frozenset(folders)


def _asset_digests(assets: Any) -> dict[str, str]:
    """{file name: sha256} of a release's assets; GitHub computes `digest` for each upload."""
    found: dict[str, str] = {}
    for asset in assets if isinstance(assets, list) else ():
        name = asset.get("name") if isinstance(asset, dict) else None
        digest = asset.get("digest") if isinstance(asset, dict) else None
        if isinstance(name, str) and isinstance(digest, str) and digest.startswith("sha256:"):
            value = digest.removeprefix("sha256:").lower()
            if re.fullmatch(r"[0-9a-f]{64}", value):
                found[name] = value
    return found


def _from_tag(item: Mapping[str, Any], pattern: NamePattern | None, web: str) -> Release | None:
    name = item.get("name")
    if not isinstance(name, str) or (version := version_from_tag(name, pattern)) is None:
        return None
    return Release(version=version, url=f"{web}/releases/tag/{quote(name)}")


def _items(ctx: CheckContext, url: str, repo: str) -> Iterator[Mapping[str, Any]]:
    """Every object of a paginated list endpoint, following Link rel="next" up to MAX_PAGES."""
    next_url: str | None = url
    for _ in range(MAX_PAGES):
        if next_url is None:
            return
        page = _get(ctx, next_url, repo)
        yield from _page_items(page, repo)
        next_url = page.links.get("next")
    if next_url is not None:
        ctx.log.warning("github_pages_capped", repo=repo, pages=MAX_PAGES, url=url)


# The page memo's kind for the fields a list page gives: bump it when _slim keeps others.
MEMO_KIND = "github.items.1"
_KEPT = ("tag_name", "name", "html_url", "published_at", "prerelease", "draft")
_KEPT_ASSET = ("name", "digest", "browser_download_url")


def _page_items(page: Page, repo: str) -> Sequence[Mapping[str, Any]]:
    """The page's objects, slimmed to the fields read here; on a 304, those kept last time."""
    kept = page.memo.get(MEMO_KIND) if page.memo is not None else None
    if isinstance(kept, list):
        return [item for item in kept if isinstance(item, Mapping)]
    data = page.json()
    if not isinstance(data, list):
        raise BadUpstreamResponse(f"{page.url}: expected a JSON list for {repo}")
    items = [_slim(item) for item in data if isinstance(item, Mapping)]
    if page.memo is not None:
        page.memo.put(MEMO_KIND, items)
    return items


def _slim(item: Mapping[str, Any]) -> dict[str, Any]:
    slim = {key: item[key] for key in _KEPT if key in item}
    if isinstance(item.get("body"), str):
        slim["body"] = item["body"][:NOTES_CHARS]
    assets = item.get("assets")
    if isinstance(assets, list):
        slim["assets"] = [
            {key: asset.get(key) for key in _KEPT_ASSET}
            for asset in assets
            if isinstance(asset, Mapping)
        ]
    return slim


def _get(ctx: CheckContext, url: str, repo: str) -> Page:
    host = urlsplit(url).hostname or ""
    try:
        page = ctx.http.get(url, headers=HEADERS, allow_status=(403, 429))
    except UpstreamNotFound:
        raise UpstreamNotFound(f"GitHub repository {repo} not found ({url})") from None
    remaining = page.headers.get("X-RateLimit-Remaining")
    reset = _number(page.headers.get("X-RateLimit-Reset"))
    if page.status in (403, 429):
        if remaining == "0" or page.status == 429 or _secondary_limit(page):
            until = _blocked_until(page, remaining, reset)
            ctx.http.block_host(host, until)
            raise RateLimited(
                f"{host}: GitHub API rate limit reached checking {repo}; resets at "
                f"{datetime.fromtimestamp(until).astimezone().isoformat(timespec='seconds')}",
                reset_at=until,
            )
        # Any other 403 is a permission problem (a private repository, say), not a limit.
        raise UpstreamError(f"{url}: 403 forbidden for {repo}")
    if remaining == "0" and reset:
        # This answer is good, but the next one would be refused: fail the rest fast.
        ctx.http.block_host(host, reset)
        ctx.log.warning("github_rate_limit_spent", host=host, reset=reset)
    return page


def _secondary_limit(page: Page) -> bool:
    # GitHub's secondary (abuse) limits answer 403 with budget left: a Retry-After, or only a
    # message saying so.
    return "Retry-After" in page.headers or b"secondary rate limit" in page.content.lower()


def _blocked_until(page: Page, remaining: str | None, reset: float | None) -> float:
    """As GitHub documents: after Retry-After, else the reset if the budget is spent, else 60 s."""
    retry_after = _number(page.headers.get("Retry-After"))
    if retry_after is not None:
        return time.time() + retry_after
    if remaining == "0" and reset:
        return reset
    return time.time() + 60.0


def _web_url(api: str, repo: str) -> str:
    """The web address matching an API root: api.github.com -> github.com, host/api/v3 -> host."""
    parts = urlsplit(api)
    if parts.hostname == "api.github.com":
        return f"https://github.com/{repo}"
    return f"{parts.scheme}://{parts.netloc}{parts.path.removesuffix('/api/v3')}/{repo}"


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
