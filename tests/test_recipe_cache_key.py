"""The parsed-recipe cache key: what makes a cached recipe stale, and what is never opened."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from bot.recipes import _cache_key


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    folder = tmp_path / "zlib"
    folder.mkdir()
    path = folder / "meta.yaml"
    path.write_text("package: {name: zlib, version: '1.3'}\n")
    return path


def test_the_key_follows_the_recipe_and_the_variant_file_beside_it(recipe: Path) -> None:
    """Editing the recipe, adding or editing its variant file, or other variants change the key."""
    first = _cache_key(recipe, "zlib/meta.yaml", b"{}")
    assert first is not None and first == _cache_key(recipe, "zlib/meta.yaml", b"{}")
    beside = recipe.parent / "conda_build_config.yaml"
    beside.write_text("python: ['3.11']\n")
    with_variants = _cache_key(recipe, "zlib/meta.yaml", b"{}")
    beside.write_text("python: ['3.12']\n")
    edited_variants = _cache_key(recipe, "zlib/meta.yaml", b"{}")
    recipe.write_text("package: {name: zlib, version: '1.3.1'}\n")
    edited_recipe = _cache_key(recipe, "zlib/meta.yaml", b"{}")
    other_repository_variants = _cache_key(recipe, "zlib/meta.yaml", b'{"c": ["gcc"]}')
    keys = [first, with_variants, edited_variants, edited_recipe, other_repository_variants]
    assert len(set(keys)) == len(keys)


def test_links_and_special_files_get_no_key(recipe: Path, tmp_path: Path) -> None:
    """A symlinked recipe is never cached by its bytes; a directory of that name is no file."""
    link = tmp_path / "link.yaml"
    link.symlink_to(recipe)
    assert _cache_key(link, "link.yaml", b"") is None
    assert _cache_key(tmp_path / "zlib", "zlib", b"") is None


def test_a_fifo_named_like_the_variant_file_is_not_opened(recipe: Path) -> None:
    """Opening a FIFO would block the whole sweep; it is skipped, as no variant file."""
    os.mkfifo(recipe.parent / "conda_build_config.yaml")
    keys: list[str | None] = []
    reader = threading.Thread(
        target=lambda: keys.append(_cache_key(recipe, "zlib/meta.yaml", b"")), daemon=True
    )
    reader.start()
    reader.join(timeout=10)
    assert len(keys) == 1 and keys[0] is not None
