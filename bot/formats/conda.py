"""The two conda formats as registry entries: `conda-v0` (meta.yaml) and `conda-v1` (recipe.yaml).

Both are read by their dialect's parser (bot.formats.conda_v0, conda_v1) in every variant
configuration, and rewritten by the one conda rewrite (bot.formats.rewrite), which also resets
`build: number:` to 0.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from bot.errors import RecipeError
from bot.formats import edits, lines
from bot.formats.base import FormatError, Parsed
from bot.formats.rewrite import Sha256Of, rewrite_conda
from bot.model import Recipe, RecipeFormat, Source


@dataclass(frozen=True)
class CondaFormat:
    """A conda recipe: one file per recipe folder, read per variant, build number reset."""

    name: RecipeFormat
    file_name: str
    dialect: edits.Dialect
    names_from_pins: bool = False
    reads_variants: bool = True
    changes: str = "The build number was reset to 0."

    @property
    def file_names(self) -> tuple[str, ...]:
        return (self.file_name,)

    def claims(self, file_name: str) -> bool:
        return file_name == self.file_name

    def read(self, text: str, *, path: str, variants: Mapping[str, Sequence[str]]) -> list[Recipe]:
        try:
            parsed: Parsed = self.dialect.parse(lines.normalized_text(text), variants)
        except (FormatError, ValueError) as error:
            raise RecipeError(path, str(error)) from None
        return [
            Recipe(
                name=parsed.name,
                path=path,
                format=self.name,
                version=parsed.version,
                sources=tuple(Source(s.url, s.sha256, s.selector) for s in parsed.sources),
                update_check=parsed.update_check,
            )
        ]

    def rewrite(
        self,
        text: str,
        version: str,
        sha256_of: Sha256Of,
        *,
        name: str | None = None,  # a conda recipe names itself
        published: Mapping[str, str] | None = None,
        published_at: Collection[str] | None = None,
        variants: Mapping[str, Sequence[str]] | None = None,
        record: Callable[[str, str], None] | None = None,
    ) -> str:
        return rewrite_conda(
            text,
            version,
            sha256_of,
            self.dialect,
            published=published,
            published_at=published_at,
            variants=variants,
            record=record,
        )


CONDA_V0 = CondaFormat("conda-v0", "meta.yaml", edits.CONDA_V0)
CONDA_V1 = CondaFormat("conda-v1", "recipe.yaml", edits.CONDA_V1)
