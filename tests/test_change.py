"""make_change: the rewrite with the release's published hashes, and where each hash came from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.change import make_change
from bot.http import Http, HttpSettings
from bot.model import Recipe, Release, Update

PUBLISHED = "a" * 64
TEXT = (
    '{% set name = "dash-extensions" %}\n{% set version = "1.0.1" %}\n'
    "package:\n  name: {{ name|lower }}\n  version: {{ version }}\n"
    "source:\n  url: https://pypi.io/packages/source/{{ name[0] }}/{{ name }}/"
    "{{ name }}-{{ version }}.tar.gz\n"
    f"  sha256: {'b' * 64}\n"
)


@pytest.fixture
def http(tmp_path: Path) -> Iterator[Http]:
    with Http(HttpSettings(cache=str(tmp_path / "cache.sqlite"))) as client:
        yield client


def test_a_published_pep625_file_is_used_without_a_download(tmp_path: Path, http: Http) -> None:
    """The URL is respelled to the published sdist name; its hash is recorded as published."""
    (tmp_path / "dash-extensions").mkdir()
    (tmp_path / "dash-extensions" / "meta.yaml").write_text(TEXT)
    recipe = Recipe("dash-extensions", "dash-extensions/meta.yaml", "conda-v0", "1.0.1")
    release = Release("1.0.20", hashes={"dash_extensions-1.0.20.tar.gz": PUBLISHED})

    change = make_change(Update(recipe, release), tmp_path, http)

    (edit,) = change.edits
    assert "{{ name | replace('-', '_') }}-{{ version }}.tar.gz" in edit.after
    assert PUBLISHED in edit.after
    ((url, digest, origin),) = [(r.url, r.sha256, r.origin) for r in change.hashes]
    assert url.endswith("/dash-extensions/dash_extensions-1.0.20.tar.gz")
    assert (digest, origin) == (PUBLISHED, "published")
