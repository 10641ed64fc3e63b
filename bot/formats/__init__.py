"""Recipe formats: read a recipe file, rewrite it for one update. Never the network.

    discover(root)            -> the recipe and constraints files of a recipes directory
    read_recipe(path)         -> Recipe       meta.yaml (conda-v0) or recipe.yaml (conda-v1)
    read_constraints(path)    -> [Recipe]     one per pinned name of a pip constraints file
    rewrite(text, version, sha256_of, filename=...) -> the new text, or RewriteRefused
    render_constraints_yaml(text)             -> the generated YAML copy of a constraints file
    get_format(name), format_for(file name)   -> the Format (bot.formats.registry)

Every format is an entry of the registry (`registry.BUILTIN`): the functions above find the
format by file name and ask it to read or rewrite. Modules: `registry` with its entries `conda`
and `pip_constraints`; `conda_v0`, `conda_v1`, `constraints` (one parser per format); `jinja`
(the sandbox), `linewise` (rendering a meta.yaml line by line), `selectors`, `variants` (the
configurations a recipe is read in), `yamlio`, `lines` (reading helpers); `edits`, `urls`,
`hashing`, `audit`, `rewrite` (the rewrite).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from bot.errors import RecipeError, RewriteRefused
from bot.formats import constraints, files, lines, registry
from bot.formats import variants as variants_
from bot.formats.base import FormatError
from bot.formats.discover import discover
from bot.formats.registry import RECIPE_FILES, Format
from bot.formats.rewrite import Sha256Of
from bot.model import Recipe

VARIANT_FILE = "conda_build_config.yaml"

__all__ = [
    "RECIPE_FILES",
    "Format",
    "RewriteRefused",
    "Sha256Of",
    "discover",
    "format_for",
    "get_format",
    "read_constraints",
    "read_recipe",
    "read_variants",
    "render_constraints_yaml",
    "rewrite",
]


def read_recipe(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    variants: Mapping[str, Sequence[str]] | None = None,
) -> Recipe:
    """Read a meta.yaml or recipe.yaml. `root` defaults to the folder holding the recipe folder.

    `variants` (repository-wide, see `read_variants`) are merged with the
    conda_build_config.yaml beside the recipe, when there is one.
    """
    file = Path(path)
    base = Path(root) if root is not None else Path(os.path.abspath(file)).parent.parent
    shown = files.relative(file, base)
    fmt = format_for(file.name)
    if fmt is None:
        expected = " or ".join(RECIPE_FILES)
        raise RecipeError(shown, f"unknown recipe file name (expected {expected})")
    if fmt.names_from_pins:
        many = f"a {fmt.name} file holds many pins: read it with read_constraints"
        raise RecipeError(shown, many)
    found = recipe_variants(file, base, variants) if fmt.reads_variants else {}
    (recipe,) = fmt.read(files.read_text(file, base), path=shown, variants=found)
    return recipe


def read_variants(
    path: str | os.PathLike[str], *, root: str | os.PathLike[str]
) -> dict[str, list[str]]:
    """The keys and values of a conda_build_config.yaml; RecipeError when it cannot be read."""
    file, base = Path(path), Path(root)
    shown = files.relative(file, base)
    try:
        return variants_.read_variant_file(files.read_text(file, base), path=shown)
    except FormatError as error:
        raise RecipeError(shown, str(error)) from None


def recipe_variants(
    recipe_file: Path, root: Path, repository: Mapping[str, Sequence[str]] | None
) -> dict[str, list[str]]:
    """The repository's variants merged with the conda_build_config.yaml beside a recipe."""
    beside = recipe_file.parent / VARIANT_FILE
    local = read_variants(beside, root=root) if os.path.isfile(beside) else {}
    return variants_.merge(repository, local)


def read_constraints(
    path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> list[Recipe]:
    """One Recipe per `name==version` pin (format "constraints"); other lines are ignored.

    `root` defaults to the folder holding the file. Each pin is checked on PyPI
    (`update_check = {"checker": "pypi"}`), as it has no source URL to detect that from.
    """
    file = Path(path)
    base = Path(root) if root is not None else Path(os.path.abspath(file)).parent
    shown = files.relative(file, base)
    return get_format("constraints").read(files.read_text(file, base), path=shown, variants={})


def rewrite(
    text: str,
    version: str,
    sha256_of: Sha256Of,
    *,
    filename: str = "meta.yaml",
    name: str | None = None,
    published: Mapping[str, str] | None = None,
    published_at: Collection[str] | None = None,
    variants: Mapping[str, Sequence[str]] | None = None,
    record: Callable[[str, str], None] | None = None,
) -> str:
    """The recipe text moved to `version`. Pure: `sha256_of(url)` is the only way out.

    `filename` picks the format: meta.yaml, recipe.yaml, or any *.txt (a constraints file,
    where `name` picks the pin). `published` maps the release's file names to the sha256 the
    upstream publishes: a URL form that renders to one of them is preferred, and its hash used
    without calling `sha256_of`; with `published_at` (URL prefixes), only for URLs under one
    of them (a file of the same name elsewhere is another file). `record(url, sha256)`
    hears of each published hash the result uses. `variants` are the values of
    conda_build_config.yaml keys (`read_variants`), for recipes whose sources or hashes
    differ by variant.
    Raises RewriteRefused, with the reason, when it will not edit.
    """
    fmt = format_for(filename)
    if fmt is None:
        raise RewriteRefused(f"unknown recipe file name {filename!r}")
    return fmt.rewrite(
        text,
        version,
        sha256_of,
        name=name,
        published=published,
        published_at=published_at,
        variants=variants,
        record=record,
    )


def render_constraints_yaml(constraints_text: str, *, source_name: str = "constraints.txt") -> str:
    """The YAML copy of a constraints file, regenerated; same text in, same YAML out."""
    try:
        return constraints.render_yaml(lines.normalized_text(constraints_text), source_name)
    except (FormatError, ValueError) as error:
        raise RecipeError(source_name, str(error)) from None


def get_format(name: str) -> Format:
    """The format of a `Recipe.format` ("conda-v0", "conda-v1", "constraints")."""
    return registry.get(name)


def format_for(filename: str) -> Format | None:
    """The format a file name picks (meta.yaml, recipe.yaml, any *.txt), None for no format."""
    return registry.for_file(filename)
