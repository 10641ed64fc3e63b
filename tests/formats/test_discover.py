"""Finding recipe files in a recipes directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import RecipeError
from bot.formats import discover, read_recipe

RECIPE = "package: {name: x, version: '1'}\nsource: {url: 'https://example.org/x-1.tar.gz'}\n"


def _touch(root: Path, *paths: str) -> None:
    for relative in paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(RECIPE)


def _relative(root: Path, found: list[Path]) -> list[str]:
    return [path.relative_to(root).as_posix() for path in found]


def test_finds_recipes_at_any_depth_sorted(tmp_path: Path) -> None:
    """Recipe files in folders at any depth, plus constraints.txt; never root/meta.yaml."""
    _touch(
        tmp_path,
        "meta.yaml",
        "zlib/meta.yaml",
        "attrs/meta.yaml",
        "rust/ripgrep/recipe.yaml",
        "attrs/notes.yaml",
        "constraints.txt",
    )

    assert _relative(tmp_path, discover(tmp_path)) == [
        "attrs/meta.yaml",
        "constraints.txt",
        "rust/ripgrep/recipe.yaml",
        "zlib/meta.yaml",
    ]


def test_skips_hidden_git_and_node_modules(tmp_path: Path) -> None:
    """Hidden folders, .git and node_modules hold no recipes the bot should touch."""
    _touch(
        tmp_path,
        ".git/meta/meta.yaml",
        ".github/x/meta.yaml",
        "site/node_modules/pkg/meta.yaml",
        "real/meta.yaml",
    )

    assert _relative(tmp_path, discover(tmp_path)) == ["real/meta.yaml"]


def test_constraints_files_are_the_configured_ones(tmp_path: Path) -> None:
    """Only the named constraints files that exist are listed."""
    _touch(tmp_path, "constraints.txt", "pipeline/pins.txt")

    found = discover(tmp_path, constraints=["pipeline/pins.txt", "missing.txt"])

    assert _relative(tmp_path, found) == ["pipeline/pins.txt"]


def test_escaping_symlinks_are_listed_so_reading_fails(tmp_path: Path) -> None:
    """A symlink out of the root is listed (not silently followed or dropped) and cannot be read."""
    outside = tmp_path / "outside"
    _touch(outside, "meta.yaml", "pkg/meta.yaml")
    root = tmp_path / "recipes"
    _touch(root, "ok/meta.yaml")
    (root / "file-link").mkdir()
    (root / "file-link" / "meta.yaml").symlink_to(outside / "meta.yaml")
    (root / "dir-link").symlink_to(outside / "pkg", target_is_directory=True)
    (root / "inner-link").symlink_to(root / "ok", target_is_directory=True)

    found = discover(root)

    assert _relative(root, found) == ["dir-link/meta.yaml", "file-link/meta.yaml", "ok/meta.yaml"]
    for path in found[:2]:
        with pytest.raises(RecipeError, match=r"path escapes the recipes directory"):
            read_recipe(path, root=root)
    assert read_recipe(found[2], root=root).path == "ok/meta.yaml"
