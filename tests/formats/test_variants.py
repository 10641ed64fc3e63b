"""Which configurations a meta.yaml is read in, and the version a recipe says it is at."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import RecipeError
from bot.formats import read_recipe, read_variants
from bot.formats.conda_v0 import upstream_version
from bot.formats.variants import (
    MAX_CONFIGURATIONS,
    RARE_PLATFORMS,
    configurations,
    merge,
    read_variant_file,
)


def _seen(text: str, variants: dict[str, list[str]] | None = None, name: str = "py") -> set:
    lines = text.split("\n")
    selectors = [line.split("# [", 1)[1].rstrip("]") for line in lines if "# [" in line]
    return {config.get(name) for config in configurations(lines, selectors, variants)}


def test_python_versions_come_from_the_comparisons() -> None:
    """`py<38` reads the recipe for 37 and 38 (and 3.11); no comparison means 3.11 only."""
    assert _seen("skip: true  # [py<38]") == {37, 38, 311}
    assert _seen("url: x  # [py==310]\nurl: y  # [py2k]") == {27, 310, 311}
    assert _seen("url: x  # [linux]") == {311}


def test_variant_values_come_from_comparisons_and_unset() -> None:
    """A variable only compared gets the compared values, and a configuration without it."""
    seen = _seen(
        'url: a  # [flavour == "lite"]\nurl: b  # [flavour in ("lts", "u64")]', name="flavour"
    )
    assert seen == {"lite", "lts", "u64", None}


def test_variant_files_give_the_values() -> None:
    """A conda_build_config.yaml key used by the recipe is read with exactly its values."""
    seen = _seen(
        '{% if mpi == "openmpi" %}\n{% endif %}\nurl: {{ mpi }}',
        {"mpi": ["openmpi", "mpich"]},
        "mpi",
    )
    assert seen == {"openmpi", "mpich"}


def test_startswith_gives_a_value() -> None:
    """`(cuda_compiler_version or "").startswith("13")` makes a configuration where it holds."""
    seen = _seen(
        'x: 1  # [(cuda_compiler_version or "").startswith("13")]', name="cuda_compiler_version"
    )
    assert "13" in seen


def test_names_the_recipe_sets_are_not_varied() -> None:
    """`{% set mpi = "x" %}` is the recipe's own choice: no configuration overrides it."""
    assert _seen('{% set mpi = "x" %}\nurl: a  # [mpi == "y"]', name="mpi") == {None}


def test_rare_platforms_are_read_when_named() -> None:
    """A selector naming s390x adds linux-s390x to the platforms read."""
    platforms = _seen("url: a  # [s390x]", name="target_platform")
    assert "linux-s390x" in platforms and "linux-64" in platforms
    assert "linux-s390x" not in _seen("url: a  # [linux]", name="target_platform")


@pytest.mark.parametrize(("name", "platform"), sorted(RARE_PLATFORMS.items()))
def test_each_rare_platform_is_read_when_named_as_a_word(name: str, platform: str) -> None:
    assert platform in _seen(f"url: a  # [{name}]", name="target_platform")
    assert platform in _seen(f"url: a  # [linux and not {name}]", name="target_platform")
    for glued in (f"x{name}", f"{name}x", f"{name}-x", f"x-{name}", f"x_{name}"):
        if glued not in RARE_PLATFORMS:
            seen = _seen(f"url: a  # [{glued}]", name="target_platform")
            assert platform not in seen, glued


def test_rare_platforms_named_together_are_all_read_in_one_order() -> None:
    text = "url: a  # [win32 or armv7l]\nurl: b  # [s390x]\nurl: c  # [linux32]"
    lines = text.split("\n")
    selectors = [line.split("# [", 1)[1].rstrip("]") for line in lines]
    platforms = [config["target_platform"] for config in configurations(lines, selectors)]
    assert platforms[-4:] == ["linux-s390x", "linux-32", "win-32", "linux-armv7l"]


def test_too_many_combinations_vary_one_variable_at_a_time() -> None:
    """Past the cap, every value of every variable is still read, on every platform."""
    text = "\n".join(f'url: {n}  # [v{n} == "a" or v{n} == "b" or v{n} == "c"]' for n in range(6))
    lines = text.split("\n")
    found = configurations(lines, [line.split("# [")[1].rstrip("]") for line in lines])
    assert len(found) <= MAX_CONFIGURATIONS
    for n in range(6):
        assert {config.get(f"v{n}") for config in found} == {"a", "b", "c", None}


def test_variant_files_are_read_and_merged(tmp_path: Path) -> None:
    """Selectors in a variant file are comments: every value counts; files merge in order."""
    values = read_variant_file(
        "mpi:\n  - openmpi  # [linux]\n  - mpich\nzip_keys: [[a, b]]\npy: 3.11\n"
    )
    assert values == {"mpi": ["openmpi", "mpich"], "py": ["3.11"]}
    assert merge(values, {"mpi": ["impi", "mpich"]})["mpi"] == ["openmpi", "mpich", "impi"]
    (tmp_path / "conda_build_config.yaml").write_text("- not a mapping\n")
    with pytest.raises(RecipeError, match=r"conda_build_config\.yaml: a variant file must be"):
        read_variants(tmp_path / "conda_build_config.yaml", root=tmp_path)


def test_a_variant_file_beside_a_recipe_is_read(tmp_path: Path) -> None:
    """The conda_build_config.yaml next to a meta.yaml gives its variables their values."""
    folder = tmp_path / "tool"
    folder.mkdir()
    (folder / "conda_build_config.yaml").write_text("flavour: [lite, full]\n")
    (folder / "meta.yaml").write_text(
        '{% set version = "1.0" %}\npackage:\n  name: tool\n  version: {{ version }}\n'
        "source:\n  url: https://example.org/tool-{{ flavour }}-{{ version }}.tar.gz\n"
    )

    recipe = read_recipe(folder / "meta.yaml", root=tmp_path)

    assert {source.url for source in recipe.sources} == {
        "https://example.org/tool-lite-1.0.tar.gz",
        "https://example.org/tool-full-1.0.tar.gz",
    }


@pytest.mark.parametrize(
    ("package", "variable", "version"),
    [
        ("1.0_15", "1.0-15", "1.0-15"),  # CRAN: version|replace("-", "_")
        ("14.2.4.post0", "14.2.4", "14.2.4"),  # a conda-side post release
        ("1.2+cuda", "1.2", "1.2"),  # a local label
        ("3.9.4rc1", "3.9.4", "3.9.4rc1"),  # a prerelease is the package's own version
        ("1.2.3", "1.2", "1.2.3"),  # another number: not derived
        ("2.0", None, "2.0"),
    ],
)
def test_the_recipe_version_is_the_one_it_sets(
    package: str, variable: str | None, version: str
) -> None:
    """Upstream's version is the set one where the package version only decorates it."""
    assert upstream_version(package, variable) == version


ORDERED = """\
{% set version = "1.0" %}
{% set sha256 = "aa" %}  # [linux64]
{% set sha256 = "bb" %}  # [aarch64 and arm_variant_type == "sbsa"]
{% set sha256 = "cc" %}  # [aarch64 and arm_variant_type == "tegra"]
{% set sha256 = "dd" %}  # [aarch64 and arm_variant_type == "orin"]
package:
  name: ordered
  version: {{ version }}
source:
  url: https://example.org/ordered-{{ version }}.tar.gz
  sha256: {{ sha256 }}
"""


def test_configurations_and_sources_come_in_the_same_order_in_every_process(
    tmp_path: Path,
) -> None:
    """Not in the order of a set, which changes with the interpreter's hash seed."""
    recipe = tmp_path / "recipes" / "ordered" / "meta.yaml"
    recipe.parent.mkdir(parents=True)
    recipe.write_text(ORDERED)
    show = (
        "import sys; from bot.formats import read_recipe; "
        "print([s.sha256 for s in read_recipe(sys.argv[1]).sources])"
    )
    orders = {
        subprocess.run(
            [sys.executable, "-c", show, str(recipe)],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in range(6)
    }
    assert orders == {"['aa', 'bb', 'cc', 'dd']"}
