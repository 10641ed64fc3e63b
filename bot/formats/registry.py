"""The formats registry: name -> Format, one entry per `Recipe.format` (design.md's table).

A format says how its files are found, read and rewritten, and what an update changes:

    file_names / claims(file name)   found by name in any recipe folder (meta.yaml), or listed
                                     in recipe-bot.yaml (`constraints:`) and claimed by suffix
    read(text, path=, variants=)     -> [Recipe]   (one for a recipe file, one per pin)
    rewrite(text, version, ...)      -> the text moved to the version, or RewriteRefused
    changes                          the merge request's sentence on what an update changed

The rest of the bot asks the format (`names_from_pins`, `reads_variants`) instead of comparing
its name, so a new format is one module (its parser and rewrite, with a Format object) plus its
entry in BUILTIN. tests/formats/test_registry.py keeps BUILTIN, `RecipeFormat` and the parser
modules on disk in step, as tests/checkers/test_detection.py does for the checkers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Protocol

from bot.formats.conda import CONDA_V0, CONDA_V1
from bot.formats.pip_constraints import CONSTRAINTS
from bot.formats.rewrite import Sha256Of
from bot.model import Recipe, RecipeFormat

__all__ = ["BUILTIN", "RECIPE_FILES", "Format", "for_file", "get"]


class Format(Protocol):
    """What the bot knows of one recipe format. Never the network: hashes come from `sha256_of`."""

    @property
    def name(self) -> RecipeFormat:
        """The `format` of its recipes (`list --json`), and its key in BUILTIN."""

    @property
    def file_names(self) -> tuple[str, ...]:
        """File names found in any folder below the recipes directory; () when configured."""

    @property
    def names_from_pins(self) -> bool:
        """A file holds many recipes, each a pin named by its (PyPI) package: the rewrite
        needs that name to pick the pin, and the checker is PyPI."""

    @property
    def reads_variants(self) -> bool:
        """Whether conda_build_config.yaml values change what the file reads as."""

    @property
    def changes(self) -> str:
        """What an update changes besides the files listed, in words for the merge request."""

    def claims(self, file_name: str) -> bool:
        """Whether a file of this name (no folder) is of this format."""

    def read(self, text: str, *, path: str, variants: Mapping[str, Sequence[str]]) -> list[Recipe]:
        """The recipes of the text; RecipeError naming `path` when it cannot be read."""

    def rewrite(
        self,
        text: str,
        version: str,
        sha256_of: Sha256Of,
        *,
        name: str | None = None,
        published: Mapping[str, str] | None = None,
        published_at: Collection[str] | None = None,
        variants: Mapping[str, Sequence[str]] | None = None,
        record: Callable[[str, str], None] | None = None,
    ) -> str:
        """The text moved to `version` (see bot.formats.rewrite); RewriteRefused when unsafe."""


BUILTIN: Mapping[str, Format] = MappingProxyType(
    {fmt.name: fmt for fmt in (CONDA_V0, CONDA_V1, CONSTRAINTS)}
)

# Every file name recipes are discovered by, in registry order (bot.formats.discover).
RECIPE_FILES: tuple[str, ...] = tuple(name for fmt in BUILTIN.values() for name in fmt.file_names)


def get(name: str) -> Format:
    """The format of a `Recipe.format`; KeyError for a name the registry does not know."""
    return BUILTIN[name]


def for_file(path: str) -> Format | None:
    """The format a file name picks (`meta.yaml`, `x/recipe.yaml`, `constraints.txt`), if any."""
    file_name = PurePosixPath(path.replace("\\", "/")).name
    return next((fmt for fmt in BUILTIN.values() if fmt.claims(file_name)), None)
