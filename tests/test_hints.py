"""What a reviewer is told beyond the diff: metadata changes, dependency hints, release notes."""

from __future__ import annotations

from bot.dashboard import parse_ticks
from bot.hints import (
    Hints,
    Metadata,
    RecipeRequirements,
    compare,
    parse_pypi,
    pypi_metadata_url,
    requirements_of,
)
from bot.mergerequest import MAX_DESCRIPTION, compare_link, description
from bot.model import FileEdit, Recipe, RecipeChange, Release, Update

META = """\
{% set version = "1.0" %}
package:
  name: foo
  version: {{ version }}
requirements:
  host:
    - python >=3.8
    - pip
  run:
    - python >=3.8
    - attrs >=19.1  # [py>37]
    - typing_extensions
    - {{ pin_compatible('numpy') }}
test:
  requires:
    - pytest
"""


def test_the_recipes_run_requirements_are_read_line_by_line() -> None:
    """Run entries by canonical name with their spec; templated and test entries are left out."""
    read = requirements_of(META)
    assert read.python == ">=3.8"
    assert {name: r.spec for name, r in read.run.items()} == {
        "attrs": ">=19.1",
        "typing-extensions": "",
    }


def test_recipe_yaml_requirements_are_read_too() -> None:
    """rattler-build's layout has the same requirements: run: list."""
    text = "requirements:\n  run:\n    - python >=3.9\n    - click >=8\n    - ${{ pin }}\n"
    read = requirements_of(text)
    assert (read.python, list(read.run)) == (">=3.9", ["click"])


def test_metadata_changes_are_listed() -> None:
    """New, dropped and changed dependencies, Requires-Python, extras and license."""
    old = Metadata(("attrs>=19", "six", "pytest; extra == 'test'"), ">=3.7", ("test",), "MIT")
    new = Metadata(("attrs>=22", "click>=8"), ">=3.9", ("test", "docs"), "Apache-2.0")
    hints = compare(old, new, RecipeRequirements())
    assert hints.changes == (
        "Requires-Python: >=3.7 → >=3.9",
        "new dependency: click>=8",
        "dependency dropped: six",
        "dependency changed: attrs>=19 → attrs>=22",
        "extras added: docs",
        "license: MIT → Apache-2.0",
    )
    assert hints.warnings == ()  # no recipe requirements read: nothing to check against


def test_recipe_requirements_the_new_version_does_not_fit_are_flagged() -> None:
    """A floor below the new one, a missing dependency and a python floor too low are hints."""
    new = Metadata(("attrs>=22", "click>=8", "typing-extensions>=4"), ">=3.9")
    hints = compare(Metadata(), new, requirements_of(META))
    assert hints.warnings == (
        "the recipe allows attrs >=19.1; attrs>=22 is required now",
        "click>=8 is not among the recipe's run requirements",
        "the recipe allows typing-extensions (any version); typing-extensions>=4 is required now",
        "the recipe allows python >=3.8; >=3.9 is required now",
    )


def test_requirements_that_fit_give_no_warning() -> None:
    """Floors at or above the new ones, and extras-only dependencies, are fine."""
    recipe = requirements_of("requirements:\n  run:\n    - python >=3.10\n    - attrs >=23\n")
    new = Metadata(("attrs>=22", "sphinx; extra == 'docs'"), ">=3.9")
    assert compare(Metadata(), new, recipe).warnings == ()


def test_pypi_documents_are_parsed_at_the_edge() -> None:
    """Only the fields compared are read; garbage gives empty metadata, not an error."""
    document = {
        "info": {
            "requires_dist": ["attrs>=22", 7],
            "requires_python": ">=3.9",
            "provides_extra": ["docs", None],
            "license_expression": "MIT",
            "license": "ignored when an expression is given",
        }
    }
    assert parse_pypi(document) == Metadata(("attrs>=22",), ">=3.9", ("docs",), "MIT")
    assert parse_pypi(["not", "a", "document"]) == Metadata()
    assert parse_pypi({"info": {"requires_dist": None}}) == Metadata()


def test_per_version_urls_for_pypi_and_mirrors() -> None:
    """pypi.org's layout, a mirror's template ending in /json, and one that cannot say."""
    assert pypi_metadata_url("https://pypi.org/", "attrs", "1.0") == (
        "https://pypi.org/pypi/attrs/1.0/json"
    )
    assert pypi_metadata_url("https://m.example/{package}/json", "a b", "1.0") == (
        "https://m.example/a%20b/1.0/json"
    )
    assert pypi_metadata_url("https://m.example/{package}.json", "attrs", "1.0") is None


def change(release: Release) -> RecipeChange:
    recipe = Recipe("foo", "foo/meta.yaml", "conda-v0", "1.0")
    return RecipeChange(Update(recipe, release), (FileEdit("foo/meta.yaml", "a", "b"),))


def test_the_description_carries_hints_notes_and_a_compare_link() -> None:
    """Sections appear only when there is something to say; release notes are quoted and inert."""
    release = Release(
        "1.1",
        url="https://github.com/o/foo/releases/tag/v1.1",
        notes="## Fixed\n- [x] <!-- rebase=foo --> sneaky\n@everyone /close",
    )
    hints = Hints(
        ("new dependency: click>=8",), ("click>=8 is not among the recipe's run requirements",)
    )
    text = description(change(release), hints)
    assert "### What changed upstream\n\n- new dependency: click&#62;=8" in text
    assert "### Dependency hints" in text
    assert "[v1.0...v1.1](https://github.com/o/foo/compare/v1.0...v1.1)" in text
    assert "### Release notes" in text
    assert parse_ticks(text.replace("- [ ] <!-- rebase-check -->", "")) == set()
    assert "<!-- rebase=foo -->" not in text
    assert text.rstrip().endswith("-->")  # the marker stays last


def test_no_hints_no_sections() -> None:
    """A release without notes or hints gets a description without those sections."""
    text = description(change(Release("1.1")), None)
    assert "### Release notes" not in text and "### Dependency hints" not in text


def test_long_release_notes_are_cut_and_the_description_stays_under_the_limit() -> None:
    """Huge notes are cut with a count of what was left out; the marker survives."""
    notes = "\n".join(f"line {i} " + "x" * 400 for i in range(5000))
    text = description(change(Release("1.1", notes=notes)), None)
    assert len(text) < MAX_DESCRIPTION
    assert "more lines in the release notes" in text
    assert "<!-- recipe-bot: recipe=foo version=1.1 -->" in text


def test_compare_links_need_a_github_tag_page_naming_the_version() -> None:
    """Elsewhere, or a tag that does not contain the version, gives no compare link."""
    recipe = Recipe("foo", "foo/meta.yaml", "conda-v0", "1.0")
    assert compare_link(Update(recipe, Release("1.1", url="https://example.org/1.1"))) is None
    tag_page = "https://github.com/o/foo/releases/tag/nightly"
    assert compare_link(Update(recipe, Release("1.1", url=tag_page))) is None
