"""Plain autoindex pages take the regular-expression fast path and give html.parser's links.

The samples are real listings (Apache, nginx, lighttpd); each is read both
ways and the results compared, so the fast path can never find other links than the parser.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from requests.structures import CaseInsensitiveDict

from bot.http import Page
from checkers import _links

LISTINGS = Path(__file__).parent / "data" / "listings"
URL = "https://ftp.example.org/gnu/readline/"


def page(body: str, url: str = URL) -> Page:
    headers = CaseInsensitiveDict({"Content-Type": "text/html; charset=utf-8"})
    return Page(url=url, status=200, headers=headers, content=body.encode())


def by_html_parser(target: Page, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The links html.parser alone finds, the fast path switched off."""
    with monkeypatch.context() as patched:
        patched.setattr(_links, "_plain_hrefs", lambda text: None)
        return _links.page_links(target)


@pytest.mark.parametrize("sample", ["apache.html", "nginx.html", "lighttpd.html"])
def test_real_listings_take_the_fast_path_with_the_same_links(
    sample: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each server's autoindex is plain: the fast path reads it, and finds the parser's links."""
    listing = page((LISTINGS / sample).read_text())
    assert _links._plain_hrefs(listing.text) is not None
    found = _links.page_links(listing)
    assert found and found == by_html_parser(listing, monkeypatch)


NOT_PLAIN = {
    "a commented-out link": '<!-- <a href="old.tar.gz">x</a> --><a href="new.tar.gz">y</a>',
    "a base href": '<base href="https://mirror.invalid/"><a href="a.tar.gz">a</a>',
    "an entity in an href": '<a href="a.tar.gz?x=1&amp;y=2">a</a>',
    "a single-quoted href": "<a href='a.tar.gz'>a</a>",
    "an unquoted href": "<a href=a.tar.gz>a</a>",
    "another attribute first": '<a class="file" href="a.tar.gz">a</a>',
    "a link inside an attribute": '<img alt=\'<a href="ghost.tar.gz">\'><a href="a.tar.gz">a</a>',
    "a link inside a script": '<script>s = \'<a href="ghost.tar.gz">\'</script><a href="a">a</a>',
    "an anchor without href": '<a name="top"></a><a href="a.tar.gz">a</a>',
    "an unclosed style": '<style>a {color: red}<a href="a.tar.gz">a</a>',
    "a project page with a base and odd quoting": (LISTINGS / "plain.html").read_text(),
}


@pytest.mark.parametrize("markup", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_anything_unusual_goes_to_html_parser(
    markup: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Markup whose meaning the regular expression cannot be sure of is left to html.parser."""
    assert _links._plain_hrefs(markup) is None
    assert _links.page_links(page(markup)) == by_html_parser(page(markup), monkeypatch)


JOINS = {
    "a directory URL": URL,
    "a page, not a directory": "https://ftp.example.org/gnu/index.html",
    "a query": "https://ftp.example.org/gnu/?C=N;O=D",
    "dot segments": "https://ftp.example.org/gnu/../pub/./readline/",
    "an FTP-style mirror over http": "http://mirror.example.org/pub/",
}


@pytest.mark.parametrize("url", JOINS.values(), ids=JOINS.keys())
def test_names_join_as_urljoin_joins_them(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simple names appended to the base give what urljoin gives, for every kind of base."""
    names = ["a-1.0.tar.gz", "sub/", ".", "..", "../up/", "c+d~e_1.zip", "?C=M", "#top", "/abs/"]
    markup = "".join(f'<a href="{name}">{name}</a>\n' for name in names)
    listing = page(markup, url)
    assert _links._plain_hrefs(markup) is not None
    assert _links.page_links(listing) == by_html_parser(listing, monkeypatch)
