"""Properties of the rewrite over every fixture recipe: it moves exactly what it should."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

from bot.formats import discover, read_recipe, rewrite
from bot.formats.base import Parsed
from bot.formats.conda_v0 import parse as parse_v0
from bot.formats.conda_v1 import parse as parse_v1

FIXTURES = Path(__file__).resolve().parents[2] / "recipes-fixtures"
RECIPES = [path for path in discover(FIXTURES) if path.suffix == ".yaml"]


def _bump(version: str) -> str:
    """A plausible next version: the last numeric part plus one (2018g -> 2019g, 9c -> 10c)."""
    head, _, last = version.rpartition(".")
    digits = "".join(char for char in last if char.isdigit())
    bumped = str(int(digits) + 1) + last[len(digits) :]
    return f"{head}.{bumped}" if head else bumped


def _parse(path: Path, text: str) -> Parsed:
    return (parse_v1 if path.name == "recipe.yaml" else parse_v0)(text)


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.parent.name)
def test_rewrite_then_read_gives_the_new_version(
    path: Path, hash_everything: Any, tmp_path: Path
) -> None:
    """After a rewrite the recipe reads as the new version, every URL moved, every hash is new."""
    before = read_recipe(path, root=FIXTURES)
    new = _bump(before.version)

    text = rewrite(path.read_text(), new, hash_everything, filename=path.name)
    (tmp_path / path.parent.name).mkdir()
    written = tmp_path / path.parent.name / path.name
    written.write_text(text)
    after = read_recipe(written, root=tmp_path)

    assert (after.name, after.version, after.path) == (before.name, new, before.path)
    assert len(after.sources) == len(before.sources)
    for old, moved in zip(before.sources, after.sources, strict=True):
        assert moved.url != old.url
        assert moved.selector == old.selector
        assert moved.sha256 == hash_everything(moved.url)
    assert sorted(set(hash_everything.requested)) == sorted({s.url for s in after.sources})


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.parent.name)
def test_rewrite_changes_only_version_hash_and_build_lines(
    path: Path, hash_everything: Any
) -> None:
    """Only lines holding the version, a hash, a literal URL or the build number change."""
    text = path.read_text()
    before = _parse(path, text)

    result = rewrite(text, _bump(before.version), hash_everything, filename=path.name)

    changed = [
        line[2:]
        for line in difflib.ndiff(text.splitlines(), result.splitlines())
        if line.startswith("- ")
    ]
    assert len(result.splitlines()) == len(text.splitlines())
    for line in changed:
        assert (
            before.version in line
            or any(site.sha256 and site.sha256 in line for site in before.sources)
            or "number" in line
        ), line
    assert len(changed) <= 2 + len(before.sources) + 1


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.parent.name)
def test_rewrite_is_pure_and_repeatable(path: Path, hash_everything: Any) -> None:
    """The same inputs give the same text; the file on disk is not touched."""
    text = path.read_text()
    version = _bump(_parse(path, text).version)

    first = rewrite(text, version, hash_everything, filename=path.name)
    second = rewrite(text, version, hash_everything, filename=path.name)

    assert first == second
    assert path.read_text() == text
