"""The PyPI checker against recorded JSON API documents, served from 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.servers import LocalHttpServer, Reply, json_reply

from bot.config import Config
from bot.errors import BadUpstreamResponse, UpstreamNotFound, UpstreamUnavailable
from bot.http import Http, HttpSettings
from bot.model import Recipe, Source
from bot.sweep import check_recipe
from checkers import BUILTIN, pypi
from checkers.api import CheckContext

DATA = Path(__file__).parent.parent / "data" / "pypi"
ATTRS = json.loads((DATA / "attrs.json").read_text())
ATTRS_URL = "https://pypi.io/packages/source/a/attrs/attrs-18.2.0.tar.gz"


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(HttpSettings(cache=None, retries=0, backoff=0, timeout=0.5)) as client:
        yield client


def serving(server: LocalHttpServer, path: str = "/pypi/attrs/json") -> str:
    """`server` answering `path` with the attrs document; its base URL, the index to use."""
    server.routes[path] = json_reply(json.dumps(ATTRS))
    return server.base


def index(base: str) -> Config:
    return Config(checkers={"pypi": {"url": base}})


def attrs_recipe() -> Recipe:
    return Recipe(
        "attrs", "python-attrs/meta.yaml", "conda-v0", "18.2.0", (Source(ATTRS_URL, "1" * 64),)
    )


@pytest.mark.parametrize(
    ("url", "package"),
    [
        (ATTRS_URL, "attrs"),
        ("https://pypi.org/packages/source/r/requests/requests-2.31.0.tar.gz", "requests"),
        (
            "https://files.pythonhosted.org/packages/ab/cd/0123456789/certifi-2024.2.2.tar.gz",
            "certifi",
        ),
        (
            "https://files.pythonhosted.org/packages/ab/cd/0123/ruamel.yaml-0.18.6.tar.gz",
            "ruamel.yaml",
        ),
        ("https://github.com/python-attrs/attrs/archive/18.2.0.tar.gz", None),
        ("https://example.org/packages/source/a/attrs/attrs-1.0.tar.gz", None),
    ],
)
def test_detect(url: str, package: str | None) -> None:
    """PyPI source URLs are claimed with their package name; other hosts are not."""
    claimed = pypi.detect(url)
    assert (claimed or {}).get("package") == package


def test_releases_are_parsed_at_the_edge(http: Http, server: LocalHttpServer) -> None:
    """Every version with files becomes a Release: yanked flagged, hashes and dates kept."""
    context = CheckContext(http=http, settings={"url": serving(server)})
    found = {r.version: r for r in pypi.releases(attrs_recipe(), {"package": "attrs"}, context)}
    assert set(found) == {"18.2.0", "19.1.0", "19.2.0", "20.1.0rc1"}  # 0.1.0 has no files
    assert found["19.2.0"].yanked and not found["19.1.0"].yanked
    assert found["19.1.0"].hashes["attrs-19.1.0.tar.gz"] == "3" * 64
    assert found["19.1.0"].published == datetime(2019, 3, 3, 13, 0, tzinfo=UTC)
    assert found["19.1.0"].changelog == "https://www.attrs.org/en/stable/changelog.html"
    assert found["19.1.0"].url == "https://pypi.org/project/attrs/19.1.0/"
    assert server.paths() == ["/pypi/attrs/json"]


def test_the_default_index_is_pypi_org() -> None:
    """Without `checkers.pypi.url`, the JSON API of pypi.org is asked."""
    assert pypi.SETTINGS.read({})[pypi.INDEX_URL] == "https://pypi.org"


def test_mirror_base_url(http: Http, server: LocalHttpServer) -> None:
    """`checkers.pypi.url` points the checker at a mirror with the same JSON API."""
    base = serving(server, "/mirror/pypi/attrs/json") + "/mirror/"
    assert pypi.releases(attrs_recipe(), {}, CheckContext(http=http, settings={"url": base}))
    assert server.paths() == ["/mirror/pypi/attrs/json"]


def test_url_template(http: Http, server: LocalHttpServer) -> None:
    """A base URL with {package} is used as the whole document URL (devpi-style paths)."""
    base = serving(server, "/root/pypi/attrs/json") + "/root/pypi/{package}/json"
    assert pypi.releases(attrs_recipe(), {}, CheckContext(http=http, settings={"url": base}))
    assert server.paths() == ["/root/pypi/attrs/json"]


def test_sweep_chooses_newest_stable_unyanked(http: Http, server: LocalHttpServer) -> None:
    """attrs 18.2.0 is outdated by 19.1.0: 19.2.0 is yanked and 20.1.0rc1 is a prerelease."""
    result = check_recipe(attrs_recipe(), index(serving(server)), http, BUILTIN)
    assert result.as_json() == {
        "recipe": "attrs",
        "path": "python-attrs/meta.yaml",
        "checker": "pypi",
        "current": "18.2.0",
        "latest": "19.1.0",
        "status": "outdated",
        "changelog": "https://www.attrs.org/en/stable/changelog.html",
        "error": None,
    }


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (json_reply('{"message": "Not Found"}', status=404), UpstreamNotFound),
        (Reply(500, "oops"), UpstreamUnavailable),
        (Reply(200, "<html>captive portal</html>"), BadUpstreamResponse),
        (json_reply('{"info": {}}'), BadUpstreamResponse),
        (json_reply(json.dumps(ATTRS), delay=2), UpstreamUnavailable),  # over the 0.5 s timeout
        (Reply(drop=True), UpstreamUnavailable),
    ],
)
def test_bad_upstream_answers_are_typed(
    http: Http, server: LocalHttpServer, reply: Reply, error: type[Exception]
) -> None:
    """404, 500, garbage, a non-project document, a timeout and a hang-up each raise a named
    error."""
    server.routes["/pypi/attrs/json"] = reply
    context = CheckContext(http=http, settings={"url": server.base})
    with pytest.raises(error):
        pypi.releases(attrs_recipe(), {"package": "attrs"}, context)


def test_sweep_reports_errors_and_goes_on(http: Http, server: LocalHttpServer) -> None:
    """A broken package is an error result naming the cause; the next recipe is still checked."""
    server.routes["/pypi/broken/json"] = Reply(404)
    broken = Recipe(
        "broken",
        "broken/meta.yaml",
        "conda-v0",
        "1.0",
        (Source("https://pypi.io/packages/source/b/broken/broken-1.0.tar.gz"),),
    )
    config = index(serving(server))
    first = check_recipe(broken, config, http, BUILTIN)
    second = check_recipe(attrs_recipe(), config, http, BUILTIN)
    assert (first.status, first.reason) == ("error", "not-found")
    assert "404" in (first.error or "")
    assert second.status == "outdated"


def test_published_files_are_located_where_they_are_served() -> None:
    """On pypi.org its file hosts count whole; on a mirror, only the folders files are in."""
    from checkers.pypi import _file_locations

    hosted = _file_locations(
        [{"url": "https://files.pythonhosted.org/packages/ab/cd/attrs-19.1.0.tar.gz"}],
        "https://pypi.org",
    )
    mirrored = _file_locations(
        [{"url": "https://artifacts.example.com/pypi/local/attrs/attrs-19.1.0.tar.gz"}],
        "https://artifacts.example.com/pypi/local",
    )

    assert {"https://pypi.io/", "https://files.pythonhosted.org/"} <= hosted
    assert mirrored == {"https://artifacts.example.com/pypi/local/attrs/"}
