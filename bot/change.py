"""From an Update to its edits: the recipe rewritten, hashes found, YAML copies regenerated.

Used by `recipe-bot update` (writes the edits to disk) and `recipe-bot run` (commits them).
A hash the upstream publishes for the exact file (PyPI does) is used as is; any other file is
downloaded and hashed through the HTTP layer.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bot import formats
from bot.config import ConstraintsFile
from bot.errors import RecipeError
from bot.http import Http
from bot.model import FileEdit, HashRecord, RecipeChange, Update

Hasher = Callable[[str], str]


def make_change(
    update: Update,
    root: Path,
    http: Http,
    constraints: Sequence[ConstraintsFile] = (),
    variants: Mapping[str, Sequence[str]] | None = None,
) -> RecipeChange:
    """Rewrite `update.recipe` for `update.new`; raises RewriteRefused (nothing is written here).

    `variants` are the repository's (`recipes.repository_variants`); the recipe's own
    conda_build_config.yaml is added here. The release's published hashes (PyPI's, GitHub
    release assets') are handed to the rewrite, which prefers a URL that names one of them.
    """
    recipe = update.recipe
    before = read_text(root, recipe.path)
    records: list[HashRecord] = []

    def sha256_of(url: str) -> str:
        cached = http.hashes.get(url)
        value = cached.decode() if cached else http.sha256(url)
        records.append(HashRecord(url, value, "cached" if cached else "downloaded"))
        return value

    def published(url: str, digest: str) -> None:
        records.append(HashRecord(url, digest, "published"))

    fmt = formats.get_format(recipe.format)
    recipe_variants = None
    if fmt.reads_variants:
        recipe_variants = formats.recipe_variants(root / recipe.path, root, variants)
    after = fmt.rewrite(
        before,
        update.new,
        sha256_of,
        name=recipe.name if fmt.names_from_pins else None,
        published=update.release.hashes,
        published_at=update.release.locations or None,
        variants=recipe_variants,
        record=published,
    )
    edits = [FileEdit(recipe.path, before, after)]
    for file in constraints:
        if file.path == recipe.path and file.yaml:
            exists = (root / file.yaml).is_file()
            old_copy = read_text(root, file.yaml) if exists else ""
            edits.append(
                FileEdit(
                    file.yaml, old_copy, formats.render_constraints_yaml(after), created=not exists
                )
            )
    # The rewrite may have tried other forms of a URL; keep only the hashes it kept.
    kept = tuple(record for record in records if record.sha256 in after)
    return RecipeChange(update, tuple(edits), kept)


def read_text(root: Path, relative: str) -> str:
    """A file's text exactly as stored (CRLF kept), refusing paths that leave `root`."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise RecipeError(relative, "path escapes the recipes directory")
    if path.exists() and not path.is_file():  # a FIFO would block the read forever
        raise RecipeError(relative, "not a regular file")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise RecipeError(relative, "not UTF-8 text") from None
    except OSError as error:
        raise RecipeError(relative, f"cannot read the file: {error.strerror or error}") from None


def write_edits(root: Path, edits: Sequence[FileEdit]) -> None:
    """Write each changed file atomically: a reader sees the old file or the new, never half."""
    for edit in edits:
        if edit.changed:
            atomic_write(root / edit.path, edit.after)


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
