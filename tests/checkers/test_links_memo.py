"""A page that answers 304 is not parsed again: its links are kept with its validators.

Each test counts the pages parsed for links, across two runs sharing one cache file, as an
hourly sweep does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import LocalHttpServer, html_reply, nginx_index

from bot.http import Http, HttpSettings, Page
from bot.model import Recipe
from checkers import _links, listing
from checkers.api import CheckContext

RECIPE = Recipe(name="readline", path="readline/meta.yaml", format="conda-v0", version="8.0")
OPTIONS = {"url": "", "pattern": r"readline-(?P<version>[0-9.]+)\.tar\.gz"}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per page body parsed for links (by either parser)."""
    calls: list[int] = []
    parse = _links._parse_links

    def counted(page: Page) -> list[str]:
        calls.append(1)
        return parse(page)

    monkeypatch.setattr(_links, "_parse_links", counted)
    return calls


def run(cache: Path, url: str) -> tuple[set[str], dict[str, int]]:
    """One sweep's check of the listing: the versions found and the HTTP layer's counters."""
    with Http(HttpSettings(cache=str(cache), retries=0, timeout=5)) as http:
        found = listing.releases(RECIPE, {**OPTIONS, "url": url}, CheckContext(http=http))
        return {release.version for release in found}, http.stats.snapshot()


def readline_index(*versions: str) -> str:
    return nginx_index("/gnu/readline/", [f"readline-{v}.tar.gz" for v in versions])


@pytest.fixture
def served(server: LocalHttpServer) -> Iterator[str]:
    server.routes["/gnu/readline/"] = html_reply(readline_index("8.0", "8.1"), etag=True)
    yield server.url("/gnu/readline/")


def test_a_304_reuses_the_links_without_parsing(
    served: str, tmp_path: Path, parses: list[int]
) -> None:
    """The second run gets a 304 and the same releases, and the parser is not called again."""
    cache = tmp_path / "cache.sqlite"
    cold, _ = run(cache, served)
    warm, stats = run(cache, served)
    assert cold == warm == {"8.0", "8.1"}
    assert stats["not_modified"] == 1
    assert len(parses) == 1
    assert stats["reparsed"] == 0


def test_a_changed_page_is_parsed_again(
    served: str, server: LocalHttpServer, tmp_path: Path, parses: list[int]
) -> None:
    """A new body (a new ETag, a 200) is parsed, and its links replace the kept ones."""
    cache = tmp_path / "cache.sqlite"
    run(cache, served)
    server.routes["/gnu/readline/"] = html_reply(readline_index("8.0", "8.1", "8.2"), etag=True)
    changed, _ = run(cache, served)
    again, stats = run(cache, served)
    assert changed == again == {"8.0", "8.1", "8.2"}
    assert len(parses) == 2
    assert stats["not_modified"] == 1


def test_last_modified_alone_is_enough_to_keep_links(
    server: LocalHttpServer, tmp_path: Path, parses: list[int]
) -> None:
    """A server sending only Last-Modified gets the same treatment as one sending an ETag."""
    stamp = "Wed, 01 May 2024 10:00:00 GMT"
    server.routes["/d/"] = html_reply(readline_index("8.1"), last_modified=stamp)
    cache = tmp_path / "cache.sqlite"
    run(cache, server.url("/d/"))
    found, stats = run(cache, server.url("/d/"))
    assert found == {"8.1"} and stats["not_modified"] == 1
    assert len(parses) == 1


def test_links_of_another_parser_generation_are_not_trusted(
    served: str, tmp_path: Path, parses: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Links kept by an older parser are parsed again on a 304, then kept under the new kind."""
    cache = tmp_path / "cache.sqlite"
    monkeypatch.setattr(_links, "LINKS_KIND", "links.0")
    run(cache, served)
    monkeypatch.setattr(_links, "LINKS_KIND", "links.1")
    found, stats = run(cache, served)
    run(cache, served)
    assert found == {"8.0", "8.1"}
    assert len(parses) == 2  # once per generation
    assert stats["reparsed"] == 1  # the 304 body had to be read for the new generation


def test_pages_without_validators_are_parsed_every_time(
    server: LocalHttpServer, tmp_path: Path, parses: list[int]
) -> None:
    """Nothing is kept for a page that cannot be revalidated: it is fetched and parsed afresh."""
    server.routes["/d/"] = html_reply(readline_index("8.1"))
    cache = tmp_path / "cache.sqlite"
    run(cache, server.url("/d/"))
    run(cache, server.url("/d/"))
    assert len(parses) == 2
