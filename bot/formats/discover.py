"""Finding the recipe files of a recipes directory.

Recipes are the files the registry's formats are found by (`<dir>/meta.yaml`,
`<dir>/recipe.yaml`) at any depth, never in the root itself; constraints files are the
configured names that exist. Hidden directories, `.git` and
`node_modules` are skipped. A symlink that leads outside the root is listed, not followed:
reading it then fails with "path escapes the recipes directory", so the user sees it instead
of the bot silently reading (or silently ignoring) files elsewhere on the machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.formats.registry import RECIPE_FILES

__all__ = ["RECIPE_FILES", "discover"]

_SKIPPED = frozenset({"node_modules", "__pycache__"})


def discover(
    root: str | os.PathLike[str], *, constraints: Sequence[str] = ("constraints.txt",)
) -> list[Path]:
    """Recipe files under `root` plus the constraints files that exist, sorted by path."""
    base = Path(root)
    real_root = Path(os.path.realpath(base))
    found = set(_recipes(base, real_root))
    for name in constraints:
        candidate = base / name
        if candidate.is_file() or candidate.is_symlink():
            found.add(candidate)
    return sorted(found, key=lambda path: path.relative_to(base).as_posix())


def _recipes(base: Path, real_root: Path) -> Iterator[Path]:
    for directory, subdirectories, files in os.walk(base):
        here = Path(directory)
        if here != base:
            yield from (here / name for name in RECIPE_FILES if name in files)
        for name in list(subdirectories):
            path = here / name
            if name.startswith(".") or name in _SKIPPED:
                subdirectories.remove(name)
            elif path.is_symlink():
                # os.walk does not descend into symlinked directories. One that stays inside
                # the root is walked through its real path anyway; one that leaves the root
                # has its recipe files listed, so that reading them reports the escape.
                subdirectories.remove(name)
                if not Path(os.path.realpath(path)).is_relative_to(real_root):
                    yield from (path / file for file in RECIPE_FILES if (path / file).exists())
