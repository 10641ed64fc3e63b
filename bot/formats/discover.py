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
    base = os.fspath(root)
    real_root = Path(os.path.realpath(base))
    # By relative path with forward slashes: the order `list` prints and the key of the set.
    found = dict(_recipes(base, "", real_root))
    for name in constraints:
        candidate = os.path.join(base, name)
        if os.path.isfile(candidate) or os.path.islink(candidate):
            found.setdefault(Path(name).as_posix(), candidate)
    return [Path(found[relative]) for relative in sorted(found)]


def _recipes(directory: str, relative: str, real_root: Path) -> Iterator[tuple[str, str]]:
    """(relative path, path) of each recipe file below `directory`. os.scandir, not pathlib
    or os.walk: the entries already know whether they are links, with no call per entry, and
    a walk of 10,000 recipe folders is most of what a warm `list` does besides printing."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    names = {entry.name for entry in entries}
    if relative:  # never in the root itself
        for name in RECIPE_FILES:
            if name in names:
                yield f"{relative}/{name}", os.path.join(directory, name)
    for entry in entries:
        name = entry.name
        if name.startswith(".") or name in _SKIPPED:
            continue
        inner = f"{relative}/{name}" if relative else name
        if entry.is_symlink():
            # A symlinked directory is not walked. One that stays inside the root is walked
            # through its real path anyway; one that leaves the root has its recipe files
            # listed, so that reading them reports the escape.
            if entry.is_dir() and not Path(os.path.realpath(entry.path)).is_relative_to(
                real_root
            ):
                for file in RECIPE_FILES:
                    if os.path.exists(os.path.join(entry.path, file)):
                        yield f"{inner}/{file}", os.path.join(entry.path, file)
        elif entry.is_dir(follow_symlinks=False):
            yield from _recipes(entry.path, inner, real_root)
