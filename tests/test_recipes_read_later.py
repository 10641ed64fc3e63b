"""`Recipes.read_later`: what a sweep's checking processes are left to parse, and what not."""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.model import Recipe
from bot.recipes import Unread, Unreadable, stream_recipes
from bot.store import Store, Table


def write(root: Path, name: str, text: str) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    folder.joinpath("meta.yaml").write_text(text)


def meta(name: str, version: str) -> str:
    return (
        f"package:\n  name: {name}\n  version: '{version}'\n"
        f"source:\n  url: https://example.org/{name}-{version}.tar.gz\n  sha256: {'0' * 64}\n"
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    recipes = tmp_path / "recipes"
    write(recipes, "alpha", meta("alpha", "1.0"))
    write(recipes, "broken", "package: [unclosed\n")
    write(recipes, "gamma", meta("gamma", "2.0"))
    recipes.joinpath("constraints.txt").write_text("delta==3.0\nepsilon==4.0\n")
    return recipes


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Table]:
    with contextlib.closing(Store(str(tmp_path / "cache.sqlite"))) as store:
        yield store.table("recipes")


def test_recipes_not_cached_are_left_unread_and_read_as_iteration_reads_them(
    root: Path, cache: Table
) -> None:
    recipes = stream_recipes(root, Config(), cache=cache)
    handed = list(recipes.read_later())
    # The constraints file is read at once (one file, many entries); each recipe file is not.
    unread = [entry for entry in handed if isinstance(entry, Unread)]
    assert [entry.relative for entry in unread] == ["alpha/meta.yaml", "broken/meta.yaml",
                                                   "gamma/meta.yaml"]  # fmt: skip
    assert sorted(e.name for e in handed if not isinstance(e, Unread)) == ["delta", "epsilon"]
    # Another process reads them: an Unread travels as a small pickle, with no variants.
    travelled = [pickle.loads(pickle.dumps(entry)) for entry in unread]
    read = [recipes.read(entry, cache) for entry in travelled]
    assert read == [entry for entry in recipes if entry.path.endswith("meta.yaml")]
    assert isinstance(read[0], Recipe) and read[0].version == "1.0"
    assert isinstance(read[1], Unreadable) and read[1].path == "broken/meta.yaml"


def test_what_was_read_later_is_cached_for_the_next_sweep(root: Path, cache: Table) -> None:
    recipes = stream_recipes(root, Config(), cache=cache)
    for entry in recipes.read_later():
        if isinstance(entry, Unread):
            recipes.read(entry, cache)
    again = list(stream_recipes(root, Config(), cache=cache).read_later())
    assert not any(isinstance(entry, Unread) for entry in again)
    assert [entry.name for entry in again] == ["alpha", "broken", "delta", "epsilon", "gamma"]


def test_named_recipes_are_read_here_since_a_name_is_known_only_once_read(
    root: Path, cache: Table
) -> None:
    recipes = stream_recipes(root, Config(), ["gamma"], cache=cache)
    assert [entry.name for entry in recipes.read_later()] == ["gamma"]


def test_without_variants_nothing_is_left_unread(root: Path, cache: Table) -> None:
    """A broken variant file makes every recipe unreadable at once: nothing to parse later."""
    root.joinpath("conda_build_config.yaml").write_text("python: [unclosed\n")
    handed = list(stream_recipes(root, Config(), cache=cache).read_later())
    assert not any(isinstance(entry, Unread) for entry in handed)
    assert {type(entry) for entry in handed if entry.path.endswith("meta.yaml")} == {Unreadable}
