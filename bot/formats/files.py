"""Reading a recipe file safely: inside the recipes directory, small, and text.

Recipes come from a repository anyone can send merge requests to: a symlink to `/etc/shadow`
or a 2 GiB blob named meta.yaml must give a clear error, not a read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot.errors import RecipeError

MAX_BYTES = 1024 * 1024


def relative(path: Path, root: Path) -> str:
    """`path` relative to `root`, with forward slashes (as Recipe.path and errors show it)."""
    # os.path, not pathlib: this runs twice for every recipe read.
    return os.path.relpath(os.path.abspath(path), os.path.abspath(root)).replace(os.sep, "/")


def read_text(path: Path, root: Path) -> str:
    """The file's text; RecipeError (naming the relative path) for anything unreadable."""
    shown = relative(path, root)
    real = _real_inside(path, root)
    if shown.startswith("../") or shown == ".." or real is None:
        raise RecipeError(shown, "path escapes the recipes directory")
    try:
        data = regular_file_bytes(real, limit=MAX_BYTES + 1)
    except OSError as error:
        raise RecipeError(shown, f"cannot read the file: {error.strerror or error}") from None
    if data is None:
        raise RecipeError(shown, "not a regular file")
    if len(data) > MAX_BYTES:
        raise RecipeError(shown, "file is too large (the limit is 1 MiB)")
    if b"\x00" in data:
        raise RecipeError(shown, "binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecipeError(shown, f"not UTF-8 text (byte {error.start})") from None
    return text.removeprefix("\ufeff")


def _real_inside(path: Path, root: Path) -> str | None:
    """`path` with its links resolved, when that is `root` or under it; else None.

    Path.is_relative_to on the real paths, done on the strings (both absolute and normalized)
    for want of pathlib's cost per recipe."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    inside = real == real_root or real.startswith(os.path.join(real_root, ""))
    return real if inside else None


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


def regular_file_bytes(
    path: str | os.PathLike[str], *, flags: int = 0, limit: int | None = None
) -> bytes | None:
    """The bytes of a regular file (the first `limit` of them); None for anything else (a
    FIFO, a directory, a device). OSError when it cannot be opened (`flags=NO_FOLLOW`: a link).

    Opened without blocking and checked on the open file, so a FIFO (or a file swapped for
    one meanwhile) never blocks the read. os calls, not open(): this reads every recipe, and
    open() costs a buffered reader and more system calls for each of 10,000 small files.
    """
    descriptor = os.open(path, _OPEN_FLAGS | flags)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return None
        # Reads of the size the file says it has (and one byte more, to see the end), not of
        # the limit: os.read allocates what it is asked for.
        step = max(info.st_size + 1, 4096)
        chunks: list[bytes] = []
        size = 0
        while (limit is None or size < limit) and (
            chunk := os.read(descriptor, step if limit is None else min(step, limit - size))
        ):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)
