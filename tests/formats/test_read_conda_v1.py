"""Reading rattler-build recipe.yaml recipes: context, `${{ }}`, if/then/else sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import RecipeError
from bot.formats import read_recipe
from bot.model import Recipe, Source

FIXTURES = Path(__file__).resolve().parents[2] / "recipes-fixtures"


def _recipe(tmp_path: Path, text: str) -> Recipe:
    path = tmp_path / "pkg" / "recipe.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return read_recipe(path)


def test_reads_the_rattler_fixture() -> None:
    """The fixture's if/then sources are listed for every platform, each with its `if`."""
    recipe = read_recipe(FIXTURES / "rattler-example" / "recipe.yaml")

    assert (recipe.name, recipe.version, recipe.format) == ("ripgrep", "14.1.0", "conda-v1")
    assert recipe.path == "rattler-example/recipe.yaml"
    base = "https://github.com/BurntSushi/ripgrep/releases/download/14.1.0/ripgrep-14.1.0-"
    assert [(source.url, source.selector) for source in recipe.sources] == [
        (base + "x86_64-unknown-linux-musl.tar.gz", "linux and x86_64"),
        (base + "x86_64-apple-darwin.tar.gz", "osx"),
        (base + "x86_64-pc-windows-msvc.zip", "win"),
    ]
    assert all(source.sha256 and len(source.sha256) == 64 for source in recipe.sources)


def test_context_variables_render_in_order(tmp_path: Path) -> None:
    """Context values may use earlier ones and filters; `else:` items get the negated `if`."""
    recipe = _recipe(
        tmp_path,
        """\
context:
  name: PyYAML
  version: 6.0
  tag: v${{ version }}
  under: ${{ version | replace(".", "_") }}
package:
  name: ${{ name | lower }}
  version: ${{ version }}
source:
  - if: unix
    then:
      - url: https://example.org/${{ tag }}/pyyaml-${{ under }}.tar.gz
        sha256: ${{ "ab" * 32 }}
    else:
      git: https://github.com/yaml/pyyaml.git
      tag: ${{ tag }}
""",
    )

    assert (recipe.name, recipe.version) == ("pyyaml", "6.0")
    assert recipe.sources == (
        Source("https://example.org/v6.0/pyyaml-6_0.tar.gz", "ab" * 32, "unix"),
        Source("https://github.com/yaml/pyyaml.git", None, "not (unix)"),
    )


def test_multi_output_recipe_section(tmp_path: Path) -> None:
    """A multi-output recipe is named by `recipe:`; update_check options may use context."""
    recipe = _recipe(
        tmp_path,
        """\
context:
  org: example
recipe:
  name: libfoo-split
  version: "1.2"
source:
  url:
    - https://example.org/foo-1.2.tar.gz
    - https://mirror.example.org/foo-1.2.tar.gz
  sha256: 1111111111111111111111111111111111111111111111111111111111111111
outputs:
  - package: {name: libfoo}
  - package: {name: foo}
extra:
  update_check: {checker: github, repo: "${{ org }}/foo", tags: true}
""",
    )

    assert (recipe.name, recipe.version) == ("libfoo-split", "1.2")
    assert recipe.sources == (Source("https://example.org/foo-1.2.tar.gz", "1" * 64, None),)
    assert recipe.update_check == {"checker": "github", "repo": "example/foo", "tags": True}


def test_undefined_context_variable_is_an_error(tmp_path: Path) -> None:
    """A URL that uses a variable nobody defined names the variable."""
    with pytest.raises(RecipeError, match=r"undefined variable 'vrsion'"):
        _recipe(
            tmp_path,
            "package: {name: a, version: '1'}\n"
            "source: {url: 'https://example.org/a-${{ vrsion }}.tar.gz'}\n",
        )
