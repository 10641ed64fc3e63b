"""Reading conda-build meta.yaml recipes: name, version, every source across selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import RecipeError
from bot.formats import read_recipe
from bot.model import Recipe, Source

FIXTURES = Path(__file__).resolve().parents[2] / "recipes-fixtures"


def _recipe(tmp_path: Path, text: str, folder: str = "pkg") -> Recipe:
    path = tmp_path / folder / "meta.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return read_recipe(path)


def test_reads_the_attrs_fixture() -> None:
    """The example recipe of the design reads as documented in `list --json`."""
    recipe = read_recipe(FIXTURES / "python-attrs" / "meta.yaml")

    assert recipe.name == "attrs"
    assert recipe.version == "18.2.0"
    assert recipe.format == "conda-v0"
    assert recipe.path == "python-attrs/meta.yaml"
    assert recipe.sources == (
        Source(
            url="https://pypi.io/packages/source/a/attrs/attrs-18.2.0.tar.gz",
            sha256="10cbf6e27dbce8c30807caf056c8eb50917e0eaafe86347671b57254006c3e69",
            selector=None,
        ),
    )
    assert recipe.update_check == {}


def test_path_is_relative_to_the_given_root(tmp_path: Path) -> None:
    """Recipe.path is relative to `root`, with forward slashes, however deep the recipe is."""
    path = tmp_path / "recipes" / "python" / "attrs" / "meta.yaml"
    path.parent.mkdir(parents=True)
    path.write_text((FIXTURES / "python-attrs" / "meta.yaml").read_text())

    assert read_recipe(path, root=tmp_path).path == "recipes/python/attrs/meta.yaml"
    assert read_recipe(path).path == "attrs/meta.yaml"


def test_selectors_inside_one_source_mapping_are_separate_sources(tmp_path: Path) -> None:
    """`url: ... # [linux]` / `url: ... # [osx]` in one mapping are two sources with selectors."""
    recipe = _recipe(
        tmp_path,
        """\
{% set version = "3.12.4" %}
package: {name: cmake-binary, version: "{{ version }}"}
source:
  url: https://example.org/cmake-{{ version }}-Linux.tar.gz  # [linux]
  sha256: 1111111111111111111111111111111111111111111111111111111111111111  # [linux]
  url: https://example.org/cmake-{{ version }}-Darwin.tar.gz  # [osx]
  sha256: 2222222222222222222222222222222222222222222222222222222222222222  # [osx]
""",
    )

    assert recipe.sources == (
        Source("https://example.org/cmake-3.12.4-Linux.tar.gz", "1" * 64, "linux"),
        Source("https://example.org/cmake-3.12.4-Darwin.tar.gz", "2" * 64, "osx"),
    )


def test_per_platform_set_statements_render_per_platform() -> None:
    """`{% set sha256 = ... %}  # [osx]` applies on macOS only, as conda-build's loader does."""
    recipe = read_recipe(FIXTURES / "ninja-bin" / "meta.yaml")

    urls = [source.url for source in recipe.sources]
    assert urls == [
        "https://github.com/ninja-build/ninja/releases/download/v1.8.2/ninja-linux.zip",
        "https://github.com/ninja-build/ninja/releases/download/v1.8.2/ninja-mac.zip",
        "https://github.com/ninja-build/ninja/releases/download/v1.8.2/ninja-win.zip",
    ]
    assert [source.selector for source in recipe.sources] == ["linux", "osx", "win"]
    assert len({source.sha256 for source in recipe.sources}) == 3


def test_source_list_git_and_mirrors(tmp_path: Path) -> None:
    """A list of sources keeps its order; a mirror list gives its first URL; git has no hash."""
    recipe = _recipe(
        tmp_path,
        """\
package:
  name: gmp
  version: 6.1.2
source:
  - url:
      - https://ftp.gnu.org/gnu/gmp/gmp-6.1.2.tar.bz2
      - https://gmplib.org/download/gmp/gmp-6.1.2.tar.bz2
    md5: 8ddbb26dc3bd4e2302984debba1406a5
  - git_url: https://github.com/example/gmp-extras.git
    git_rev: v6.1.2
    folder: extras  # [win]
  - path: ../local-patches
""",
    )

    assert recipe.sources == (
        Source("https://ftp.gnu.org/gnu/gmp/gmp-6.1.2.tar.bz2", None, None),
        Source("https://github.com/example/gmp-extras.git", None, None),
    )


def test_versions_are_read_as_written(tmp_path: Path) -> None:
    """`version: 1.10` is "1.10" (conda-build reads numbers as text), not the float 1.1."""
    recipe = _recipe(
        tmp_path,
        "package: {name: x, version: 1.10}\nsource: {url: https://example.org/x-1.10.tar.gz}\n",
    )

    assert recipe.version == "1.10"


def test_outputs_keep_top_level_name_and_sources() -> None:
    """A multi-output recipe is named by `package: name:`; its sources stay top-level."""
    recipe = read_recipe(FIXTURES / "zlib" / "meta.yaml")

    assert recipe.name == "zlib-split"
    assert [source.url for source in recipe.sources] == ["https://zlib.net/zlib-1.2.11.tar.gz"]


def test_update_check_is_a_plain_mapping() -> None:
    """`extra: update_check:` comes back as plain dicts, lists, strings and numbers."""
    recipe = read_recipe(FIXTURES / "jpeg" / "meta.yaml")

    assert recipe.update_check == {
        "checker": "crawl",
        "url": "https://www.ijg.org/",
        "pattern": r"jpegsrc\.v(?P<version>[0-9]+[a-z]?)\.tar\.gz",
        "max_depth": 1,
        "allow": ["https://www.ijg.org/"],
    }
    assert type(recipe.update_check["max_depth"]) is int


def test_conda_build_globals_are_stubbed(tmp_path: Path) -> None:
    """Real recipes render: compiler(), environ, pin_subpackage, variant-only variables."""
    recipe = _recipe(
        tmp_path,
        """\
{% set name = "libfoo" %}
{% set version = environ.get("FOO_VERSION", "2.0.1") %}
{% set data = load_setup_py_data() %}
package:
  name: {{ name }}
  version: {{ version }}
source:
  url: https://example.org/{{ name }}-{{ version.replace('.', '_') }}.tar.gz
  sha256: {{ ("AB" * 32) | lower }}
build:
  number: {{ datetime.datetime(2018, 1, 1).strftime('%Y') | int - 2018 }}
  script: {{ PYTHON }} -m pip install . {{ os.environ.get('EXTRA', '') }}
  run_exports:
    - {{ pin_subpackage(name, max_pin='x.x') }}
requirements:
  build:
    - {{ compiler('c') }}
    - {{ stdlib('c') }}
    - {{ cdt('mesa-libgl-devel') }}  # [linux]
  host:
    - {{ mpi }}
    - {{ pin_compatible('numpy') }}
    - python {{ py }}  # [py>=38]
    - numpy {{ npy }}
    - {{ data.get('name') }}
""",
    )

    assert (recipe.name, recipe.version) == ("libfoo", "2.0.1")
    assert recipe.sources[0].url == "https://example.org/libfoo-2_0_1.tar.gz"
    assert recipe.sources[0].sha256 == "ab" * 32


def test_values_that_matter_must_be_defined(tmp_path: Path) -> None:
    """An undefined variable in a value that matters is an error that names it."""
    with pytest.raises(RecipeError, match=r"undefined Jinja variable 'load_setup_py_data.version'"):
        _recipe(
            tmp_path,
            """\
{% set data = load_setup_py_data() %}
package: {name: foo, version: "{{ data.get('version') }}"}
source: {url: https://example.org/foo.tar.gz}
""",
        )
    with pytest.raises(RecipeError, match=r"source url uses the undefined Jinja variable 'mirror'"):
        _recipe(
            tmp_path,
            "package: {name: foo, version: 1}\nsource: {url: '{{ mirror }}/foo-1.tar.gz'}\n",
        )


def test_crlf_recipes_read_like_lf_ones(tmp_path: Path) -> None:
    """A CRLF meta.yaml reads the same as its LF twin, selectors included."""
    text = (FIXTURES / "ninja-bin" / "meta.yaml").read_text()
    path = tmp_path / "ninja-bin" / "meta.yaml"
    path.parent.mkdir()
    path.write_bytes(text.replace("\n", "\r\n").encode())

    assert read_recipe(path) == read_recipe(FIXTURES / "ninja-bin" / "meta.yaml")
    assert [source.selector for source in read_recipe(path).sources] == ["linux", "osx", "win"]


def test_platforms_the_recipe_skips_are_not_read(tmp_path: Path) -> None:
    """`skip: true  # [win]` spares Windows: its undefined hash variable is no error."""
    recipe = _recipe(
        tmp_path,
        """\
{% set version = "2.0" %}
{% set sha256 = "1111111111111111111111111111111111111111111111111111111111111111" %}  # [linux]
{% set sha256 = "2222222222222222222222222222222222222222222222222222222222222222" %}  # [osx]
package: {name: tool, version: "{{ version }}"}
source:
  url: https://example.org/tool-{{ version }}-{{ target_platform }}.tar.gz
  sha256: {{ sha256 }}
build:
  skip: true  # [win or ppc64le]
""",
    )

    assert [(source.url.rsplit("-", 2)[-2:], source.selector) for source in recipe.sources] == [
        (["linux", "64.tar.gz"], "linux"),
        (["linux", "aarch64.tar.gz"], "linux"),
        (["osx", "64.tar.gz"], "osx"),
        (["osx", "arm64.tar.gz"], "osx"),
    ]


SHARED_LINES = """\
{{% set name = "{name}" %}}
{{% set version = "{version}" %}}
package:
  name: {{{{ name|lower }}}}
  version: {{{{ version }}}}
source:
  url: https://example.org/{{{{ name[0] }}}}/{{{{ name }}}}-{{{{ version }}}}.tar.gz
{block}"""


@pytest.mark.parametrize("block", ["", "{% if win %}\nbuild: {skip: true}\n{% endif %}\n"])
def test_recipes_sharing_their_jinja_lines_read_their_own_values(
    tmp_path: Path, block: str
) -> None:
    """Compiled lines are shared by every recipe, the values they render never are."""
    texts = {
        "one": SHARED_LINES.format(name="Alpha", version="1.0", block=block),
        "two": SHARED_LINES.format(name="Beta", version="2.0", block=block),
    }

    read = [(_recipe(tmp_path, texts[folder], folder), folder) for folder in ("one", "two", "one")]

    assert [(recipe.name, recipe.version, recipe.sources[0].url) for recipe, _ in read] == [
        ("alpha", "1.0", "https://example.org/A/Alpha-1.0.tar.gz"),
        ("beta", "2.0", "https://example.org/B/Beta-2.0.tar.gz"),
        ("alpha", "1.0", "https://example.org/A/Alpha-1.0.tar.gz"),
    ]


def test_a_variable_one_recipe_sets_is_undefined_in_the_next(tmp_path: Path) -> None:
    """`{% set mirror %}` in one recipe does not define `mirror` for the recipe read after it."""
    url = "source: {url: '{{ mirror }}/foo-1.tar.gz'}\n"
    first = _recipe(
        tmp_path, "{% set mirror = 'https://a.org' %}\npackage: {name: foo, version: 1}\n" + url
    )

    assert first.sources[0].url == "https://a.org/foo-1.tar.gz"
    with pytest.raises(RecipeError, match=r"source url uses the undefined Jinja variable 'mirror'"):
        _recipe(tmp_path, "package: {name: foo, version: 1}\n" + url, "other")
