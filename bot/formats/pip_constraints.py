"""The `constraints` format as a registry entry: a pip constraints file, one recipe per pin.

The files are those `constraints:` in recipe-bot.yaml lists (constraints.txt at the root by
default), not found by name; any `*.txt` given to `bot.rewrite` is read as one. Each pin is a
PyPI package by name, and an update moves only the pin (bot.formats.constraints): there is no
build number, and no source to hash.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from bot.errors import RecipeError
from bot.formats import constraints, lines
from bot.formats.base import FormatError
from bot.formats.rewrite import Sha256Of
from bot.model import Recipe, RecipeFormat


@dataclass(frozen=True)
class ConstraintsFormat:
    """pip `name==1.2.3` pins: many recipes per file, each named by its package."""

    name: RecipeFormat = "constraints"
    file_names: tuple[str, ...] = ()
    suffix: str = ".txt"
    names_from_pins: bool = True
    reads_variants: bool = False
    changes: str = "Only the pin changed."

    def claims(self, file_name: str) -> bool:
        return file_name.endswith(self.suffix)

    def read(self, text: str, *, path: str, variants: Mapping[str, Sequence[str]]) -> list[Recipe]:
        try:
            pins = constraints.pins(lines.normalized_text(text))
        except (FormatError, ValueError) as error:
            raise RecipeError(path, str(error)) from None
        # A pin has no source URL to detect its upstream from: it is a PyPI package by name.
        return [
            Recipe(
                name=name,
                path=path,
                format=self.name,
                version=version,
                update_check={"checker": "pypi"},
            )
            for name, version in pins
        ]

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
        return constraints.rewrite(text, version, name)


CONSTRAINTS = ConstraintsFormat()
