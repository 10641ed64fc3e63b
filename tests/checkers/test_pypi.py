"""The PyPI checker against recorded JSON API responses (no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import responses

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
    with Http(HttpSettings(cache=None, retries=0, backoff=0)) as client:
        yield client


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


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


def test_releases_are_parsed_at_the_edge(http: Http, mocked: responses.RequestsMock) -> None:
    """Every version with files becomes a Release: yanked flagged, hashes and dates kept."""
    mocked.get("https://pypi.org/pypi/attrs/json", json=ATTRS)
    found = {
        r.version: r
        for r in pypi.releases(attrs_recipe(), {"package": "attrs"}, CheckContext(http=http))
    }
    assert set(found) == {"18.2.0", "19.1.0", "19.2.0", "20.1.0rc1"}  # 0.1.0 has no files
    assert found["19.2.0"].yanked and not found["19.1.0"].yanked
    assert found["19.1.0"].hashes["attrs-19.1.0.tar.gz"] == "3" * 64
    assert found["19.1.0"].published == datetime(2019, 3, 3, 13, 0, tzinfo=UTC)
    assert found["19.1.0"].changelog == "https://www.attrs.org/en/stable/changelog.html"
    assert found["19.1.0"].url == "https://pypi.org/project/attrs/19.1.0/"


def test_mirror_base_url(http: Http, mocked: responses.RequestsMock) -> None:
    """`checkers.pypi.url` points the checker at a mirror with the same JSON API."""
    mocked.get("https://mirror.example/pypi/attrs/json", json=ATTRS)
    context = CheckContext(http=http, settings={"url": "https://mirror.example/"})
    assert pypi.releases(attrs_recipe(), {}, context)


def test_url_template(http: Http, mocked: responses.RequestsMock) -> None:
    """A base URL with {package} is used as the whole document URL (devpi-style paths)."""
    mocked.get("https://devpi.example/root/pypi/attrs/json", json=ATTRS)
    context = CheckContext(
        http=http, settings={"url": "https://devpi.example/root/pypi/{package}/json"}
    )
    assert pypi.releases(attrs_recipe(), {}, context)


def test_sweep_chooses_newest_stable_unyanked(http: Http, mocked: responses.RequestsMock) -> None:
    """attrs 18.2.0 is outdated by 19.1.0: 19.2.0 is yanked and 20.1.0rc1 is a prerelease."""
    mocked.get("https://pypi.org/pypi/attrs/json", json=ATTRS)
    result = check_recipe(attrs_recipe(), Config(), http, BUILTIN)
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
        ({"status": 404, "json": {"message": "Not Found"}}, UpstreamNotFound),
        ({"status": 500, "body": "oops"}, UpstreamUnavailable),
        ({"status": 200, "body": "<html>captive portal</html>"}, BadUpstreamResponse),
        ({"status": 200, "json": {"info": {}}}, BadUpstreamResponse),
        ({"body": requests.exceptions.ConnectTimeout("timed out")}, UpstreamUnavailable),
    ],
)
def test_bad_upstream_answers_are_typed(
    http: Http, mocked: responses.RequestsMock, reply: dict[str, object], error: type[Exception]
) -> None:
    """404, 500, garbage, a non-project document and a timeout each raise a named error."""
    mocked.get("https://pypi.org/pypi/attrs/json", **reply)  # type: ignore[arg-type]
    with pytest.raises(error):
        pypi.releases(attrs_recipe(), {"package": "attrs"}, CheckContext(http=http))


def test_sweep_reports_errors_and_goes_on(http: Http, mocked: responses.RequestsMock) -> None:
    """A broken package is an error result naming the cause; the next recipe is still checked."""
    mocked.get("https://pypi.org/pypi/broken/json", status=404)
    mocked.get("https://pypi.org/pypi/attrs/json", json=ATTRS)
    broken = Recipe(
        "broken",
        "broken/meta.yaml",
        "conda-v0",
        "1.0",
        (Source("https://pypi.io/packages/source/b/broken/broken-1.0.tar.gz"),),
    )
    first = check_recipe(broken, Config(), http, BUILTIN)
    second = check_recipe(attrs_recipe(), Config(), http, BUILTIN)
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
