"""Release files linked from somewhere on a website: a bounded breadth-first crawl.

    start page -> links matching `pattern` are releases (matched, never fetched)
               -> other links under an allowed prefix are pages to visit, each once,
                  within max_pages, max_depth and a byte budget, as robots.txt permits

Never auto-detected: crawling a site must be asked for. Websites hold endless link spaces
(calendars, `?page=` loops, autoindex sort links); the limits bound them, links without a query
string are visited first, and autoindex sort links (`?C=N;O=D`) never.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urlsplit
from urllib.robotparser import RobotFileParser

from bot.errors import (
    RateLimited,
    ResponseTooLarge,
    UpstreamError,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from bot.model import Recipe, Release
from bot.pages import Page
from checkers._links import file_name, page_links
from checkers._tags import ARCHIVE_EXTENSIONS, NamePattern, dedupe, match_version
from checkers.api import (
    URL,
    URL_PREFIXES,
    VERSION_REGEX,
    CheckContext,
    Option,
    Options,
    Values,
    count,
)

MAX_PAGES = 50
MAX_DEPTH = 3
MAX_BYTES = 20 * 1024 * 1024  # for the whole crawl

START = Option("url", URL, required=True)
PATTERN = Option("pattern", VERSION_REGEX, required=True)
PAGES = Option("max_pages", count(1), default=MAX_PAGES)
DEPTH = Option("max_depth", count(0), default=MAX_DEPTH)
ALLOW = Option("allow", URL_PREFIXES)  # default: the start page's directory
OPTIONS = Options(START, PATTERN, PAGES, DEPTH, ALLOW, checker="crawl")
SETTINGS = Options(checker="crawl", what="setting")

# Links that are no pages: fetching them would only spend the byte budget.
_NOT_PAGES = (
    *ARCHIVE_EXTENSIONS, ".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico",
    ".css", ".js", ".sig", ".asc", ".sign", ".sha1", ".sha256", ".sha512", ".md5", ".txt",
    ".iso", ".img", ".mp4", ".webm", ".woff", ".woff2", ".ttf", ".json", ".xml", ".rss",
)  # fmt: skip
# Apache's autoindex column-sort links: the same listing four ways, forever.
_SORT_QUERY = re.compile(r"(?:[CO]=[A-Za-z](?:[;&]|$))+")


@dataclass(frozen=True)
class _Limits:
    max_pages: int
    max_depth: int
    allow: tuple[str, ...]  # URL prefixes pages may be fetched under


def detect(url: str) -> dict[str, Any] | None:
    """Never: crawling a site must be asked for explicitly."""
    return None


def releases(recipe: Recipe, options: Mapping[str, Any], ctx: CheckContext) -> list[Release]:
    given = OPTIONS.read(options)
    start = _normal(given[START])
    crawl = _Crawl(ctx, given[PATTERN], _limits(given, start))
    found = crawl.run(start)
    ctx.log.debug("crawl_done", url=start, pages=crawl.pages, bytes=crawl.bytes, found=len(found))
    return dedupe(found)


class _Crawl:
    def __init__(self, ctx: CheckContext, pattern: NamePattern, limits: _Limits) -> None:
        self.ctx = ctx
        self.pattern = pattern
        self.limits = limits
        self.robots = _Robots(ctx)
        self.seen: set[str] = set()
        self.plain: deque[tuple[str, int]] = deque()  # breadth-first
        self.queried: deque[tuple[str, int]] = deque()  # visited only once `plain` runs dry
        self.found: list[Release] = []
        self.pages = 0
        self.bytes = 0

    def run(self, start: str) -> list[Release]:
        if not self.robots.allowed(start):
            raise UpstreamError(f"{start}: robots.txt does not allow crawling it")
        # The start page's failures are the check's; later pages may be dead links.
        self.seen.add(start)
        page = self._fetch(start)
        self._visit(page, 0)
        while self.pages < self.limits.max_pages and self.bytes < MAX_BYTES:
            queue = self.plain or self.queried
            if not queue:
                break
            url, depth = queue.popleft()
            if not self.robots.allowed(url):
                continue
            try:
                page = self._fetch(url)
                if self._new_and_allowed(page.url, url):
                    self._visit(page, depth)
            except (UpstreamUnavailable, RateLimited):
                raise  # the site is down: partial results would read as "no update"
            except UpstreamError as exc:  # a dead link, a PDF served as a page, ...
                self.ctx.log.info("crawl_page_skipped", url=url, error=str(exc))
        return self.found

    def _fetch(self, url: str) -> Page:
        budget = max(1, min(self.ctx.http.settings.max_page_bytes, MAX_BYTES - self.bytes))
        self.pages += 1  # attempts count: a site of dead links must not cost unbounded requests
        try:
            page = self.ctx.http.get(url, max_bytes=budget)
        except ResponseTooLarge:
            self.bytes += budget
            raise
        self.bytes += len(page.content)
        return page

    def _new_and_allowed(self, final: str, requested: str) -> bool:
        """Whether a page reached through redirects is still one to read."""
        final = _normal(final)
        if final == requested:
            return True
        if final in self.seen or not self._allowed(final):
            return False
        self.seen.add(final)
        return True

    def _visit(self, page: Page, depth: int) -> None:
        for link in page_links(page):
            version = match_version(self.pattern, file_name(link), link)
            if version is not None:
                self.found.append(Release(version=version, url=link))
            elif depth < self.limits.max_depth:
                self._enqueue(_normal(link), depth + 1)

    def _enqueue(self, url: str, depth: int) -> None:
        parts = urlsplit(url)
        if url in self.seen or not self._allowed(url) or _SORT_QUERY.fullmatch(parts.query):
            return
        if parts.path.lower().endswith(_NOT_PAGES):
            return
        self.seen.add(url)
        (self.queried if parts.query else self.plain).append((url, depth))

    def _allowed(self, url: str) -> bool:
        return url.startswith(self.limits.allow)


ROBOTS_KIND = "robots.1"  # the memo kind of a robots.txt page: its lines


class _Robots:
    """robots.txt per site (scheme, host, port), fetched through the shared HTTP layer.

    Kept in the run's memo (`ctx.memo`), so a site many recipes crawl is asked once per run.
    Only answers are kept: a site down is asked again.
    """

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.agent = ctx.http.settings.user_agent

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        # Two crawls of one site at once may both fetch it; the first answer stored wins.
        parser: RobotFileParser | None = self.ctx.memo.remember(
            ("crawl.robots", *_site(url)),
            lambda: self._load(f"{parts.scheme}://{parts.netloc}/robots.txt"),
        )
        # A parser is never changed once stored: can_fetch only reads it, so threads may share it.
        return parser is None or parser.can_fetch(self.agent, url)

    def _load(self, url: str) -> RobotFileParser | None:
        try:
            page = self.ctx.http.get(url, max_bytes=512 * 1024)
        except (UpstreamUnavailable, RateLimited):
            raise
        except UpstreamNotFound:
            return None  # no robots.txt: everything is allowed
        except UpstreamError as exc:  # 401/403, garbage, too large (RFC 9309: 4xx = allowed)
            self.ctx.log.info("robots_unreadable", url=url, error=str(exc))
            return None
        # Its lines are kept with the stored page: a 304 then decodes nothing again.
        lines = page.memo.get(ROBOTS_KIND) if page.memo is not None else None
        if lines is None:
            lines = page.text.splitlines()
            if page.memo is not None:
                page.memo.put(ROBOTS_KIND, lines)
        parser = RobotFileParser()
        parser.parse(lines)
        return parser


def _limits(given: Values, start: str) -> _Limits:
    allow = given.optional(ALLOW)
    if allow is None:
        parts = urlsplit(start)
        directory = parts.path.rpartition("/")[0]
        allow = (f"{parts.scheme}://{parts.netloc}{directory}/",)
    return _Limits(max_pages=given[PAGES], max_depth=given[DEPTH], allow=allow)


def _normal(url: str) -> str:
    """One spelling per page: fragments dropped (`#top` is the same page); nothing else touched."""
    return urldefrag(url).url


def _site(url: str) -> tuple[str, str | None, int | str | None]:
    """(scheme, host, port) of a URL; the port the scheme implies when none is written."""
    parts = urlsplit(url)
    port: int | str | None
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # `:99999`: kept as written; fetching it fails with a typed error
        port = parts.netloc.rpartition(":")[2]
    return parts.scheme, parts.hostname, port
