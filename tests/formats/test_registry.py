"""The formats registry: kept honest against the modules, and the one way formats are used."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path
from typing import get_args

import pytest

import bot.formats
from bot.errors import RewriteRefused
from bot.formats import discover, format_for, get_format, read_constraints, read_recipe, rewrite
from bot.formats.registry import BUILTIN, RECIPE_FILES
from bot.model import Recipe, RecipeFormat

OLD_HASH = "a" * 64

# One small file of each format, where discovery finds it, with the pin or recipe `demo` at 1.0.
SAMPLES: dict[str, tuple[str, str]] = {
    "conda-v0": (
        "demo/meta.yaml",
        '{% set version = "1.0" %}\n'
        "package:\n  name: demo\n  version: {{ version }}\n"
        "source:\n  url: https://example.org/demo-{{ version }}.tar.gz\n"
        f"  sha256: {OLD_HASH}\n"
        "build:\n  number: 3\n",
    ),
    "conda-v1": (
        "tools/demo/recipe.yaml",
        'context:\n  version: "1.0"\n'
        "package:\n  name: demo\n  version: ${{ version }}\n"
        "source:\n  url: https://example.org/demo-${{ version }}.tar.gz\n"
        f"  sha256: {OLD_HASH}\n"
        "build:\n  number: 3\n",
    ),
    "constraints": ("constraints.txt", "# pins\ndemo==1.0\nother==3.1  # kept\n"),
}
NEW_URL = "https://example.org/demo-2.0.tar.gz"


def digest_of(url: str) -> str:
    """A stand-in sha256 for a URL: deterministic, different for every URL."""
    return hashlib.sha256(url.encode()).hexdigest()


def _parser_modules() -> set[str]:
    """The modules of bot/formats that define a top-level `parse`: the format parsers."""
    package = Path(bot.formats.__file__).parent
    found = set()
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.FunctionDef) and node.name == "parse" for node in tree.body):
            found.add(path.stem)
    return found


def _read(path: Path, root: Path) -> list[Recipe]:
    fmt = format_for(path.name)
    assert fmt is not None
    if fmt.names_from_pins:
        return read_constraints(path, root=root)
    return [read_recipe(path, root=root)]


def test_registry_names_are_the_recipe_formats() -> None:
    """BUILTIN holds exactly the `Recipe.format` names, each under its own name."""
    assert tuple(BUILTIN) == get_args(RecipeFormat)
    assert all(fmt.name == name for name, fmt in BUILTIN.items())


def test_registry_matches_the_parser_modules_on_disk() -> None:
    """Every format has its parser module bot/formats/<name>.py, and every parser a format."""
    assert _parser_modules() == {name.replace("-", "_") for name in BUILTIN}


def test_every_file_name_belongs_to_one_format() -> None:
    """A name discovery finds, or a rewrite is given, picks exactly one format."""
    assert RECIPE_FILES == ("meta.yaml", "recipe.yaml")
    for name in (*RECIPE_FILES, "constraints.txt", "pins.txt"):
        assert len([fmt for fmt in BUILTIN.values() if fmt.claims(name)]) == 1, name
    assert format_for("setup.cfg") is None and format_for("meta.yml") is None
    assert format_for("a\\b\\recipe.yaml") is get_format("conda-v1")


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_format_is_found_read_and_rewritten_through_the_registry(
    tmp_path: Path, name: str
) -> None:
    """Each format's sample is discovered, read as that format and moved to 2.0 by its entry."""
    relative, text = SAMPLES[name]
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    fmt = get_format(name)

    assert discover(tmp_path) == [path]
    assert format_for(relative) is fmt
    (recipe,) = [r for r in _read(path, tmp_path) if r.name == "demo"]
    assert (recipe.format, recipe.path, recipe.version) == (name, relative, "1.0")

    hashed: list[str] = []

    def sha256_of(url: str) -> str:
        hashed.append(url)
        return digest_of(url)

    after = fmt.rewrite(text, "2.0", sha256_of, name="demo")
    assert rewrite(text, "2.0", digest_of, filename=relative, name="demo") == after
    (moved,) = [r for r in fmt.read(after, path=relative, variants={}) if r.name == "demo"]
    assert moved.version == "2.0"
    if fmt.names_from_pins:
        assert hashed == [] and after == text.replace("demo==1.0", "demo==2.0")
    else:
        assert hashed == [NEW_URL] and moved.sources[0].sha256 == digest_of(NEW_URL)
        assert "number: 0" in after


def test_pins_are_rewritten_by_name_and_conda_recipes_name_themselves() -> None:
    """A constraints rewrite needs the pin's name; a conda one ignores the name it is given."""
    _, pins = SAMPLES["constraints"]
    with pytest.raises(RewriteRefused, match="needs the name of the pin"):
        get_format("constraints").rewrite(pins, "2.0", digest_of)

    _, meta = SAMPLES["conda-v0"]
    conda = get_format("conda-v0")
    assert conda.rewrite(meta, "2.0", digest_of, name="other") == conda.rewrite(
        meta, "2.0", digest_of
    )


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_what_an_update_changes_matches_the_rewrite(name: str) -> None:
    """A format claims a build-number reset in words exactly when its rewrite resets one."""
    _, text = SAMPLES[name]
    fmt = get_format(name)
    after = fmt.rewrite(text, "2.0", digest_of, name="demo")

    resets = "number: 3" in text and "number: 0" in after
    assert ("build number was reset" in fmt.changes) == resets
    assert fmt.changes.endswith(".")
