"""A PyPI project document that answers 304 is not parsed again: its releases are kept."""

from __future__ import annotations

import json
from pathlib import Path

from support.servers import LocalHttpServer, json_reply

from bot.http import Http, HttpSettings
from bot.model import Recipe, Release
from checkers import pypi
from checkers.api import CheckContext

RECIPE = Recipe(name="attrs", path="attrs/meta.yaml", format="conda-v0", version="18.2.0")
DOCUMENT = {
    "info": {"name": "attrs", "project_urls": {"Changelog": "https://example.org/changes"}},
    "releases": {
        "19.1.0": [
            {
                "filename": "attrs-19.1.0.tar.gz",
                "url": "https://files.pythonhosted.org/packages/ab/cd/attrs-19.1.0.tar.gz",
                "digests": {"sha256": "ab" * 32},
                "upload_time_iso_8601": "2019-03-03T00:00:00Z",
                "yanked": False,
            }
        ],
        "19.2.0": [{"filename": "attrs-19.2.0.tar.gz", "yanked": True}],
    },
}


def run(cache: Path, base: str) -> tuple[list[Release], dict[str, int]]:
    with Http(HttpSettings(cache=str(cache), retries=0, timeout=5)) as http:
        context = CheckContext(http=http, settings={"url": base})
        found = pypi.releases(RECIPE, {}, context)
        return found, http.stats.snapshot()


def test_a_304_gives_the_same_releases_without_parsing(
    server: LocalHttpServer, tmp_path: Path
) -> None:
    """The warm run is answered 304 and rebuilds every field from the memo, parsing nothing."""
    server.routes["/pypi/attrs/json"] = json_reply(json.dumps(DOCUMENT), etag=True)
    cache = tmp_path / "cache.sqlite"
    cold, _ = run(cache, server.base)
    warm, stats = run(cache, server.base)
    assert stats["not_modified"] == 1
    assert stats["reparsed"] == 0
    assert warm == cold
    assert [(r.hashes, r.locations, r.published, r.changelog) for r in warm] == [
        (r.hashes, r.locations, r.published, r.changelog) for r in cold
    ]
    assert {r.version: r.yanked for r in warm} == {"19.1.0": False, "19.2.0": True}
