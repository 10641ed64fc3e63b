"""recipes-fixtures/ is a small, real recipe repository a new user can point the bot at."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from bot.formats import discover, read_constraints, read_recipe, render_constraints_yaml
from bot.model import Recipe

FIXTURES = Path(__file__).resolve().parent.parent / "recipes-fixtures"


def _all_recipes() -> list[Recipe]:
    recipes: list[Recipe] = []
    for path in discover(FIXTURES):
        if path.suffix == ".txt":
            recipes.extend(read_constraints(path, root=FIXTURES))
        else:
            recipes.append(read_recipe(path, root=FIXTURES))
    return recipes


def test_every_fixture_reads() -> None:
    """Every recipe file in the fixtures reads without error, in each format."""
    recipes = _all_recipes()

    assert len([r for r in recipes if r.format != "constraints"]) >= 12
    assert {r.format for r in recipes} == {"conda-v0", "conda-v1", "constraints"}


def test_names_are_unique() -> None:
    """One recipe per name: names become branch names and dashboard entries."""
    names = [recipe.name.lower() for recipe in _all_recipes()]

    assert len(names) == len(set(names)), sorted(names)


def test_every_conda_source_has_a_sha256() -> None:
    """Each conda recipe lists sources, each with a 64-hex sha256."""
    for recipe in _all_recipes():
        if recipe.format == "constraints":
            assert recipe.sources == ()
            continue
        assert recipe.sources, recipe.path
        for source in recipe.sources:
            assert source.sha256 is not None and len(source.sha256) == 64, (recipe.path, source)
            int(source.sha256, 16)


def test_the_recipes_the_docs_mention_are_there() -> None:
    """The design's examples (attrs, readline) exist with the documented details."""
    by_name = {recipe.name: recipe for recipe in _all_recipes()}

    attrs = by_name["attrs"]
    assert (attrs.path, attrs.version, attrs.update_check) == (
        "python-attrs/meta.yaml",
        "18.2.0",
        {},
    )
    assert attrs.sources[0].url == "https://pypi.io/packages/source/a/attrs/attrs-18.2.0.tar.gz"
    assert (
        by_name["readline"].sources[0].url == "https://ftp.gnu.org/gnu/readline/readline-7.0.tar.gz"
    )
    assert by_name["jpeg"].update_check["checker"] == "crawl"


def test_config_and_constraints_yaml_copy_are_in_sync() -> None:
    """recipe-bot.yaml's constraints entry points at a YAML copy that is freshly generated."""
    config = YAML(typ="safe", pure=True).load((FIXTURES / "recipe-bot.yaml").read_text())
    (entry,) = config["constraints"]

    copy = FIXTURES / entry["yaml"]
    assert copy.read_text() == render_constraints_yaml((FIXTURES / entry["path"]).read_text())
    assert set(config["recipes"]) <= {recipe.name for recipe in _all_recipes()}
    assert config["gitlab"]["project"] == "packaging/external-recipes"
