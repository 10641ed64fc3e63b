"""Find and read every recipe under a directory; one bad recipe never stops the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bot import formats
from bot.config import Config
from bot.errors import RecipeError
from bot.model import Recipe


@dataclass(frozen=True)
class Unreadable:
    """A recipe file that could not be read, and why."""

    path: str
    error: str

    @property
    def name(self) -> str:
        # The recipe's folder is the best name we have for it.
        return PurePosixPath(self.path).parent.name or self.path


Entry = Recipe | Unreadable


def load_recipes(root: Path, config: Config, names: Sequence[str] = ()) -> list[Entry]:
    """Every recipe under `root` (or those named: a recipe name or its folder), in path order."""
    constraints = [file.path for file in config.constraints]
    entries: list[Entry] = []
    for path in formats.discover(root, constraints=constraints):
        relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        try:
            if relative in constraints:
                entries.extend(formats.read_constraints(path, root=root))
            else:
                entries.append(formats.read_recipe(path, root=root))
        except RecipeError as exc:
            entries.append(Unreadable(relative, exc.message))
    return select(entries, names)


def select(entries: Sequence[Entry], names: Sequence[str]) -> list[Entry]:
    if not names:
        return list(entries)
    wanted = set(names)
    return [entry for entry in entries if wanted & _names_of(entry)]


def _names_of(entry: Entry) -> set[str]:
    folder = PurePosixPath(entry.path).parent.name
    return {entry.name, folder} if folder else {entry.name}


def unknown_names(entries: Sequence[Entry], names: Sequence[str]) -> list[str]:
    """Names asked for that match no recipe, so the CLI can say so instead of doing nothing."""
    known = set().union(*(_names_of(entry) for entry in entries)) if entries else set()
    return [name for name in names if name not in known]
