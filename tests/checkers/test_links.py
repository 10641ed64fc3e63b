"""Links out of HTML: the markup real listing pages and project sites send, tidy or not."""

from __future__ import annotations

import pytest
from requests.structures import CaseInsensitiveDict

from bot.errors import BadUpstreamResponse
from bot.http import Page
from checkers._links import page_links

URL = "https://example.org/pub/tool/"  # where the page landed, after redirects


def html_page(body: str | bytes, content_type: str = "text/html; charset=utf-8") -> Page:
    content = body.encode() if isinstance(body, str) else body
    headers = CaseInsensitiveDict({"Content-Type": content_type} if content_type else {})
    return Page(url=URL, status=200, headers=headers, content=content)


# (markup, the links found), each case one rule.
CASES = {
    "relative to the final URL": (
        '<a href="tool-1.0.tar.gz">x</a> <a href="../">up</a> <a href="/abs/">abs</a>',
        [URL + "tool-1.0.tar.gz", "https://example.org/pub/", "https://example.org/abs/"],
    ),
    "base href, relative to the page, for links before it too": (
        '<a href="a.tar.gz"></a><base href="../mirror/"><a href="b.tar.gz"></a>',
        ["https://example.org/pub/mirror/a.tar.gz", "https://example.org/pub/mirror/b.tar.gz"],
    ),
    "the first base with an href counts": (
        '<base target="_top"><base href="https://m1.invalid/"><base href="https://m2.invalid/">'
        '<a href="a.tar.gz"></a>',
        ["https://m1.invalid/a.tar.gz"],
    ),
    "a base that is no URL is ignored": (
        '<base href="http://[broken/"><a href="a.tar.gz"></a>',
        [URL + "a.tar.gz"],
    ),
    "entities in hrefs are decoded": (
        '<a href="get?f=tool-1.0.tar.gz&amp;mirror=1">x</a>'
        '<a href="tool&#x2B;extras-1.0.tgz">y</a> <a href="p?a=1&amp">z</a>',
        [URL + "get?f=tool-1.0.tar.gz&mirror=1", URL + "tool+extras-1.0.tgz", URL + "p?a=1&"],
    ),
    "any case, any quoting, whitespace around the value": (
        "<A HREF='a.tgz'>a</A> <a href=b.tgz>b</a> <a\nhref = \" c.tgz \n\">c</a>",
        [URL + "a.tgz", URL + "b.tgz", URL + "c.tgz"],
    ),
    "each once, fragments dropped, in page order": (
        '<a href="b.tgz"></a><a href="a.tgz#sha"></a><a href="b.tgz"></a><a href="a.tgz"></a>',
        [URL + "b.tgz", URL + "a.tgz"],
    ),
    "no page fragments, empty hrefs, or schemes that are not followed": (
        '<a href="#top"></a><a href=""></a><a href></a><a name="x"></a>'
        '<a href="mailto:dev@example.org"></a><a href="javascript:void(0)"></a>'
        '<a href="ftp://ftp.example.org/tool/"></a><a href="//cdn.example.org/t.tgz"></a>',
        ["ftp://ftp.example.org/tool/", "https://cdn.example.org/t.tgz"],
    ),
    "a repeated href: the first counts, as in browsers": (
        '<a href="first.tgz" href="second.tgz">x</a>',
        [URL + "first.tgz"],
    ),
    "an href that is no URL is skipped, the rest kept": (
        '<a href="http://[::1/x.tgz">bad</a><a href="good.tgz">good</a>',
        [URL + "good.tgz"],
    ),
    "nothing inside scripts, styles or comments": (
        '<script>document.write(\'<a href="s.tgz">\')</script><style>a[href="c.tgz"]{}</style>'
        '<!-- <a href="old.tgz"> --><a href="real.tgz"></a>',
        [URL + "real.tgz"],
    ),
    "unclosed and stray tags, self-closing anchors": (
        '<p><b><a href="a.tgz">a <a href="b.tgz">b</b></p></a></a></div><a href="c.tgz"/>',
        [URL + "a.tgz", URL + "b.tgz", URL + "c.tgz"],
    ),
    "a stray `&#` in text hides nothing after it": (
        '<p>Chat with us: irc.example.org &#tool</p><a href="tool-1.0.tar.gz">1.0</a>',
        [URL + "tool-1.0.tar.gz"],
    ),
    "an unknown `<![...[` section is skipped like a comment, not the page's end": (
        '<a href="a.tgz"></a><![foo[ nothing ]]><a href="b.tgz"></a>',
        [URL + "a.tgz", URL + "b.tgz"],
    ),
    "conditional comments and CDATA are not links": (
        '<!--[if IE]><a href="ie.tgz"></a><![endif]--><![if !IE]><a href="a.tgz"></a><![endif]>'
        '<![CDATA[ <a href="cdata.tgz"> ]]>',
        [URL + "a.tgz"],
    ),
    "a page cut off inside a tag keeps what came before": (
        '<a href="a.tgz">a</a><a href="b.tg',
        [URL + "a.tgz"],
    ),
}


@pytest.mark.parametrize(("markup", "expected"), CASES.values(), ids=CASES.keys())
def test_links(markup: str, expected: list[str]) -> None:
    """Each rule of link extraction, on the smallest markup that shows it."""
    assert page_links(html_page(markup)) == expected


def test_declared_charset() -> None:
    """The page is decoded with its declared charset before its links are read."""
    page = html_page(
        '<a href="caf\xe9-1.0.tgz">x</a>'.encode("latin-1"), "text/html; charset=latin-1"
    )
    assert page_links(page) == [URL + "caf\xe9-1.0.tgz"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "application/gzip"),
        (b"<html>\x00\x00\x00\x01binary", "text/html"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", ""),
        (b'{"links": ["a.tgz"]}', "application/json"),
    ],
    ids=["gzip", "NUL bytes in html", "binary, no type", "json"],
)
def test_not_html(content: bytes, content_type: str) -> None:
    """Binary or non-HTML answers are BadUpstreamResponse naming the URL, not an empty page."""
    with pytest.raises(BadUpstreamResponse, match=r"example\.org/pub/tool/"):
        page_links(html_page(content, content_type))


def test_no_content_type_is_read_as_html() -> None:
    """A text answer without a Content-Type (old FTP-to-HTTP gateways) is still read."""
    assert page_links(html_page('<a href="a.tgz">', "")) == [URL + "a.tgz"]
