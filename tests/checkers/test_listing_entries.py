"""The listing's shortcut for plain names finds the same files and directories as URL parsing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from requests.structures import CaseInsensitiveDict

from bot.http import Page
from checkers import listing
from checkers._links import page_links

LISTINGS = Path(__file__).parent / "data" / "listings"
PARENT = "https://ftp.example.org/pub/tool/"
ODD = [
    PARENT + "tool-1.0.tar.gz",
    PARENT + "1.0/",
    PARENT + "../",
    PARENT + ".hidden",
    PARENT + "a%2Bb-1.0.tar.gz",  # quoted: unquoted by file_name
    PARENT + "x?C=N;O=D",
    PARENT + "x#frag",
    PARENT + "deeper/tool-2.0.tar.gz",
    PARENT + "deeper/more/",
    "https://elsewhere.example.org/pub/tool/tool-3.0.tar.gz",
    "https://ftp.example.org/pub/tool",
    PARENT,
]


def slow_entries(links: list[str], parent: str, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    with monkeypatch.context() as patched:
        patched.setattr(listing, "_SIMPLE_NAME", re.compile(r"(?!)"))
        return list(listing._entries(links, parent))


@pytest.mark.parametrize("sample", sorted(path.name for path in LISTINGS.iterdir()))
def test_real_listings_give_the_same_entries(sample: str, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = CaseInsensitiveDict({"Content-Type": "text/html; charset=utf-8"})
    body = (LISTINGS / sample).read_bytes()
    links = page_links(Page(url=PARENT, status=200, headers=headers, content=body))
    entries = listing._entries(links, PARENT)
    assert entries and entries == slow_entries(links, PARENT, monkeypatch)


@pytest.mark.parametrize("parent", [PARENT, PARENT + "?C=M", "https://ftp.example.org/pub/tool"])
def test_odd_links_give_the_same_entries(parent: str, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = listing._entries(ODD, parent)
    assert entries == slow_entries(ODD, parent, monkeypatch)
    if parent == PARENT:
        names = {(entry.name, entry.is_dir) for entry in entries}
        assert {("tool-1.0.tar.gz", False), ("1.0", True), ("a+b-1.0.tar.gz", False)} <= names
