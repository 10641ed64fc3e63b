"""Links out of HTML pages: directory listings (Apache, nginx, lighttpd) and plain pages alike.

Every autoindex flavour is, in the end, a page of `<a href>` elements with relative hrefs, so
one parser serves them all: the standard library's html.parser (tolerant of the broken markup
real servers emit), reading only `<a href>` and `<base href>`, resolving against the page's
final URL.

A page's links depend only on its body and its URL, so they are kept with the page
(`Page.memo`): when the page answers 304 they are reused and nothing is parsed again.

Most listings are plain autoindex pages (`<a href="name">` and nothing tricky), which a regular
expression reads in a fifth of html.parser's time. `_plain_hrefs` takes them only when every
anchor of the page matches its strict shape and nothing could change what an href means
(comments, `<base>`, scripts, entities, unquoted or single-quoted values); any other page goes
to html.parser, so both give the same links.
"""

from __future__ import annotations

import posixpath
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from bot.errors import BadUpstreamResponse
from bot.pages import Page

_FOLLOWED_SCHEMES = ("http", "https", "ftp")
# The memo kind of page_links: bump it whenever the same page would give other links.
LINKS_KIND = "links.1"


def page_links(page: Page) -> list[str]:
    """The absolute URLs a page links to, fragments dropped, in page order, each once."""
    _require_html(page)
    if page.memo is not None:
        kept = page.memo.get(LINKS_KIND)
        if isinstance(kept, list) and all(isinstance(link, str) for link in kept):
            return kept
    links = _parse_links(page)
    if page.memo is not None:
        page.memo.put(LINKS_KIND, links)
    return links


def _parse_links(page: Page) -> list[str]:
    text = page.text
    hrefs = _plain_hrefs(text)
    base = page.url
    if hrefs is None:
        parser = _LinkParser()
        parser.feed(text)
        parser.close()
        hrefs = parser.hrefs
        # The first <base href> applies to the whole document, links before it included.
        if parser.base is not None and (resolved := _join(page.url, parser.base)) is not None:
            base = resolved
    links: dict[str, None] = {}
    simple_base = _simple_base(base)
    for href in hrefs:
        if simple_base and _SIMPLE_NAME.fullmatch(href) and href not in (".", ".."):
            links.setdefault(base + href)  # what urljoin gives, without its cost
            continue
        url = _join(base, href)
        if url is not None and urlsplit(url).scheme in _FOLLOWED_SCHEMES:
            links.setdefault(urldefrag(url).url)
    return list(links)


# An anchor as autoindex pages write it: `<a href="...">`, the value quoted, nothing to decode.
_PLAIN_ANCHOR = re.compile(r'<a\s+href="([^"&<>\n]*)"(?:\s[^<>"\']*)?/?>', re.IGNORECASE)
_ANY_ANCHOR = re.compile(r"<a[\s>/]", re.IGNORECASE)
# What could make html.parser read an anchor otherwise, or not at all.
_NOT_PLAIN = re.compile(r"<!--|<!\[|<base[\s>/]|<a\s*>|=\s*[\"'][^\"'>]*<", re.IGNORECASE)
# Script and style content is not markup; lighttpd's listings carry a style sheet, for one.
_RAW_OPEN = re.compile(r"<(?:script|style)\b", re.IGNORECASE)
_RAW_BLOCK = re.compile(r"<(script|style)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
# A relative name whose join is a plain concatenation: no scheme, path, query or dot segment.
_SIMPLE_NAME = re.compile(r"[A-Za-z0-9_+~-][A-Za-z0-9._+~-]*/?")


def _plain_hrefs(text: str) -> list[str] | None:
    """The stripped, non-`#` hrefs of a plain page, in order; None when the page is not plain."""
    if _NOT_PLAIN.search(text):
        return None
    if _RAW_OPEN.search(text):
        blocks = _RAW_BLOCK.findall(text)
        if len(blocks) != len(_RAW_OPEN.findall(text)) or any("<" in raw for _, raw in blocks):
            return None  # an unclosed block, or one holding what looks like markup
    hrefs = _PLAIN_ANCHOR.findall(text)
    if len(hrefs) != len(_ANY_ANCHOR.findall(text)):
        return None  # an anchor of another shape: html.parser decides what it means
    stripped = (href.strip() for href in hrefs)
    return [href for href in stripped if href and not href.startswith("#")]


def _simple_base(base: str) -> bool:
    """A base a simple name is appended to: a directory of a followed scheme, nothing after."""
    parts = urlsplit(base)
    return (
        parts.scheme in _FOLLOWED_SCHEMES
        and base.startswith(parts.scheme + "://")
        and parts.path.endswith("/")
        and "/." not in parts.path  # urljoin would remove dot segments
        and not parts.query
        and not parts.fragment
        and "#" not in base
        and "?" not in base
    )


def file_name(url: str) -> str:
    """The last path segment of a URL, unquoted (`foo%2B1.0.tar.gz` -> `foo+1.0.tar.gz`)."""
    return unquote(posixpath.basename(urlsplit(url).path.rstrip("/")))


def child_directory(url: str, parent: str) -> str | None:
    """The name of `url` when it is a sub-directory directly under `parent`, else None."""
    parts = urlsplit(url)
    if parts.query or not url.startswith(parent) or not parts.path.endswith("/"):
        return None
    rest = url[len(parent) :].strip("/")
    return unquote(rest) if rest and "/" not in rest else None


class _LinkParser(HTMLParser):
    """The `<a href>` values of a page in order (entities decoded), and its first `<base href>`."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = _first_href(attrs)
            if href and not href.startswith("#"):  # `#top`: this page again
                self.hrefs.append(href)
        elif tag == "base" and self.base is None:
            self.base = _first_href(attrs) or None

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            # html.parser gives up on the whole page at `<![foo[`; HTML reads a bogus comment
            # up to the next `>` (as newer Pythons do).
            end = self.rawdata.find(">", i + 3)
            return end + 1 if end >= 0 else -1


def _first_href(attrs: list[tuple[str, str | None]]) -> str:
    """The stripped href, or "": the first one counts when it is repeated, as in browsers."""
    for name, value in attrs:
        if name == "href":
            return value.strip() if value else ""
    return ""


def _join(base: str, href: str) -> str | None:
    try:
        return urljoin(base, href)
    except ValueError:  # `http://[::1/`: no URL, so no link (a browser would not follow it)
        return None


def _require_html(page: Page) -> None:
    content_type = page.headers.get("Content-Type", "").split(";")[0].strip().lower()
    textual = not content_type or "html" in content_type or content_type.startswith("text/")
    if not textual or b"\x00" in page.content[:4096]:
        raise BadUpstreamResponse(
            f"{page.url}: not an HTML page (Content-Type {content_type or 'unknown'})"
        )
