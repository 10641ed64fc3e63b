"""Links out of HTML pages: directory listings (Apache, nginx, lighttpd) and plain pages alike.

Every autoindex flavour is, in the end, a page of `<a href>` elements with relative hrefs, so
one parser serves them all: BeautifulSoup's html.parser (tolerant of the broken markup real
servers emit), reading only `<a>` and `<base>`, resolving against the page's final URL.
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from bs4 import BeautifulSoup, SoupStrainer

from bot.errors import BadUpstreamResponse
from bot.http import Page

_FOLLOWED_SCHEMES = ("http", "https", "ftp")


def page_links(page: Page) -> list[str]:
    """The absolute URLs a page links to, fragments dropped, in page order, each once."""
    _require_html(page)
    soup = BeautifulSoup(page.text, "html.parser", parse_only=SoupStrainer(["a", "base"]))
    base = page.url
    base_tag = soup.find("base")
    if base_tag is not None and isinstance(href := base_tag.get("href"), str):
        base = urljoin(page.url, href.strip())
    links: dict[str, None] = {}
    for anchor in soup.find_all("a"):
        href = anchor.get("href")
        if not isinstance(href, str) or not href.strip() or href.startswith("#"):
            continue
        url = urldefrag(urljoin(base, href.strip())).url
        if urlsplit(url).scheme in _FOLLOWED_SCHEMES:
            links.setdefault(url)
    return list(links)


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


def _require_html(page: Page) -> None:
    content_type = page.headers.get("Content-Type", "").split(";")[0].strip().lower()
    textual = not content_type or "html" in content_type or content_type.startswith("text/")
    if not textual or b"\x00" in page.content[:4096]:
        raise BadUpstreamResponse(
            f"{page.url}: not an HTML page (Content-Type {content_type or 'unknown'})"
        )
