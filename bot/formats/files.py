"""Reading a recipe file safely: inside the recipes directory, small, and text.

Recipes come from a repository anyone can send merge requests to: a symlink to `/etc/shadow`
or a 2 GiB blob named meta.yaml must give a clear error, not a read.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.errors import RecipeError

MAX_BYTES = 1024 * 1024


def relative(path: Path, root: Path) -> str:
    """`path` relative to `root`, with forward slashes (as Recipe.path and errors show it)."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(root))).as_posix()


def read_text(path: Path, root: Path) -> str:
    """The file's text; RecipeError (naming the relative path) for anything unreadable."""
    shown = relative(path, root)
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if shown.startswith("../") or shown == ".." or not real.is_relative_to(real_root):
        raise RecipeError(shown, "path escapes the recipes directory")
    try:
        if real.exists() and not real.is_file():  # a FIFO would block the read forever
            raise RecipeError(shown, "not a regular file")
        with real.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as error:
        raise RecipeError(shown, f"cannot read the file: {error.strerror or error}") from None
    if len(data) > MAX_BYTES:
        raise RecipeError(shown, "file is too large (the limit is 1 MiB)")
    if b"\x00" in data:
        raise RecipeError(shown, "binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecipeError(shown, f"not UTF-8 text (byte {error.start})") from None
    return text.removeprefix("\ufeff")
