"""Unreadable recipes are RecipeErrors naming the file and a cause a human understands."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import RecipeError
from bot.formats import files, read_constraints, read_recipe

GOOD_SOURCE = "source: {url: 'https://example.org/x-1.0.tar.gz'}\n"


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / "pkg" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "meta.yaml",
            "package:\n  name: x\n   version: 1\n" + GOOD_SOURCE,
            "malformed YAML at line 3",
        ),
        ("meta.yaml", "package: {name: x, version: 1}\nsource: [\n", "malformed YAML at line 3"),
        ("recipe.yaml", "package:\n  name: x\n  version: [1\n", "malformed YAML at line 4"),
        (
            "meta.yaml",
            "{% set version = '1.0' \npackage: {name: x}\n",
            "Jinja syntax error on line",
        ),
        ("meta.yaml", "{% if %}\n", "Jinja syntax error on line 1"),
        (
            "meta.yaml",
            "package: {name: x, version: '{{ nope }}'}\n" + GOOD_SOURCE,
            "version uses the undefined Jinja variable 'nope'",
        ),
        (
            "meta.yaml",
            "package: {name: x, version: '{{ nope.attr }}'}\n" + GOOD_SOURCE,
            "undefined Jinja variable",
        ),
        ("meta.yaml", "package: {name: x}\n" + GOOD_SOURCE, "no version"),
        ("meta.yaml", "package: {name: x, version: ''}\n" + GOOD_SOURCE, "no version"),
        ("recipe.yaml", "package: {name: x}\n" + GOOD_SOURCE, "no version"),
        ("meta.yaml", GOOD_SOURCE, "no package"),
        ("meta.yaml", "- just\n- a list\n", "not a YAML mapping"),
        (
            "meta.yaml",
            "package: {name: x, version: '1'}\nsource: oops\n",
            "source: must be a mapping",
        ),
        (
            "meta.yaml",
            "package: {name: x, version: '1'}\n" + GOOD_SOURCE + "extra: {update_check: [1]}\n",
            "update_check: must be a mapping",
        ),
        (
            "meta.yaml",
            "package: {name: x, version: '1'}  # [linux and]\n",
            "line 1: selector [linux and]",
        ),
        ("meta.yaml", "package: {name: x, version: '1'}\r" + GOOD_SOURCE, "unsupported line break"),
        ("meta.yaml", b"package: {name: x, version: '1'}\n\x00\x01\x02", "binary file"),
        ("meta.yaml", "package: {name: caf\u00e9}\n".encode("latin-1"), "not UTF-8 text"),
        ("meta.yaml", "# " + "x" * (1024 * 1024) + "\n", "too large"),
        ("meta.yml", "package: {name: x, version: '1'}\n", "unknown recipe file name"),
        ("constraints.txt", "attrs==1.0\n", "read it with read_constraints"),
    ],
)
def test_unreadable_recipes(tmp_path: Path, name: str, data: str | bytes, message: str) -> None:
    """Each kind of broken input gives a RecipeError with the relative path and its cause."""
    path = _write(tmp_path, name, data)

    with pytest.raises(RecipeError) as raised:
        read_recipe(path)

    assert raised.value.path == f"pkg/{name}"
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"pkg/{name}: ")


def test_missing_file(tmp_path: Path) -> None:
    """A file that is not there says so."""
    with pytest.raises(RecipeError, match=r"pkg/meta.yaml: cannot read the file"):
        read_recipe(tmp_path / "pkg" / "meta.yaml")


def test_symlink_escaping_the_root(tmp_path: Path) -> None:
    """A recipe that is a symlink to a file outside the recipes directory is not read."""
    outside = tmp_path / "secret.yaml"
    outside.write_text("package: {name: secret, version: '1'}\n" + GOOD_SOURCE)
    root = tmp_path / "recipes"
    (root / "evil").mkdir(parents=True)
    (root / "evil" / "meta.yaml").symlink_to(outside)

    with pytest.raises(RecipeError, match=r"evil/meta.yaml: path escapes the recipes directory"):
        read_recipe(root / "evil" / "meta.yaml", root=root)


def test_symlink_into_a_sibling_that_shares_the_roots_name(tmp_path: Path) -> None:
    """`recipes-old/` starts with `recipes` but is not under `recipes/`."""
    sibling = tmp_path / "recipes-old"
    sibling.mkdir()
    (sibling / "meta.yaml").write_text("package: {name: old, version: '1'}\n" + GOOD_SOURCE)
    root = tmp_path / "recipes"
    (root / "old").mkdir(parents=True)
    (root / "old" / "meta.yaml").symlink_to(sibling / "meta.yaml")
    (root / "inside").mkdir()
    (root / "inside" / "meta.yaml").symlink_to(root / "old" / "meta.yaml")

    with pytest.raises(RecipeError, match=r"old/meta.yaml: path escapes the recipes directory"):
        read_recipe(root / "old" / "meta.yaml", root=root)
    (root / "old" / "meta.yaml").unlink()
    (root / "old" / "meta.yaml").write_text("package: {name: x, version: '1'}\n" + GOOD_SOURCE)
    # A link that stays inside the root is read, through every link.
    assert read_recipe(root / "inside" / "meta.yaml", root=root).name == "x"


def test_path_outside_the_root(tmp_path: Path) -> None:
    """A path that is not under the given root at all is refused the same way."""
    path = _write(tmp_path, "meta.yaml", "package: {name: x, version: '1'}\n" + GOOD_SOURCE)

    with pytest.raises(RecipeError, match=r"path escapes the recipes directory"):
        read_recipe(path, root=tmp_path / "elsewhere")


def test_binary_constraints_file(tmp_path: Path) -> None:
    """Constraints files get the same checks as recipes."""
    path = tmp_path / "constraints.txt"
    path.write_bytes(b"attrs==1.0\n\xff\xfe")

    with pytest.raises(RecipeError, match=r"constraints.txt: not UTF-8 text"):
        read_constraints(path)


def _laughs(top: str, leaf: str = "a") -> str:
    """YAML whose aliases expand to 10**8 nodes from a few hundred bytes."""
    anchors = ["x0: &l0 [" + ", ".join([leaf] * 10) + "]"]
    anchors += [f"x{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 8)]
    return "\n".join(anchors) + "\n" + top


@pytest.mark.parametrize(
    "name, text",
    [
        (
            "meta.yaml",
            _laughs(
                "package: {name: x, version: '1'}\n"
                + GOOD_SOURCE
                + "extra: {update_check: {a: *l7}}\n"
            ),
        ),
        (
            "recipe.yaml",
            _laughs(
                "package: {name: x, version: '1'}\n"
                + GOOD_SOURCE
                + "extra: {update_check: {a: *l7}}\n"
            ),
        ),
        ("recipe.yaml", _laughs("package: {name: x, version: '1'}\nsource: *l7\n", "{path: src}")),
    ],
)
def test_alias_bombs_fail_fast(tmp_path: Path, name: str, text: str) -> None:
    """Nested YAML aliases (the "billion laughs") are an error, not a hang."""
    path = _write(tmp_path, name, text)

    with pytest.raises(RecipeError, match="too large"):
        read_recipe(path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("meta.yaml", "package: {name: x, version: '1'}\n"),
        ("meta.yaml", "package: {name: x, version: '1'}\nsource: {path: ../src}\n"),
        ("recipe.yaml", "package: {name: x, version: '1'}\nsource: []\n"),
    ],
)
def test_a_recipe_without_a_download_reads_and_refuses_to_rewrite(
    tmp_path: Path, name: str, text: str
) -> None:
    """A metapackage is a recipe (listed with its version); its rewrite is refused, by name."""
    from bot.errors import RewriteRefused
    from bot.formats import rewrite

    recipe = read_recipe(_write(tmp_path, name, text), root=tmp_path)

    assert (recipe.name, recipe.version, recipe.sources) == ("x", "1", ())
    with pytest.raises(RewriteRefused, match="no source with a url or git_url to update"):
        rewrite(text, "2", lambda url: "0" * 64, filename=name)


def test_regular_file_bytes_reads_to_its_limit_and_only_regular_files(tmp_path: Path) -> None:
    """What recipes and cache keys are read with: the limit is exact, a link is not followed
    when asked, and a directory is no file."""
    data = bytes(range(256)) * 40_000  # larger than one read of the file's own size
    (tmp_path / "big").write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "big")
    assert files.regular_file_bytes(tmp_path / "big") == data
    assert files.regular_file_bytes(tmp_path / "big", limit=5_000_001) == data[:5_000_001]
    assert files.regular_file_bytes(tmp_path / "empty") == b""
    assert files.regular_file_bytes(tmp_path) is None
    assert files.regular_file_bytes(tmp_path / "link") == data
    with pytest.raises(OSError):
        files.regular_file_bytes(tmp_path / "link", flags=files.NO_FOLLOW)


def test_a_recipe_of_exactly_the_limit_reads(tmp_path: Path) -> None:
    text = "package: {name: x, version: '1'}\n" + GOOD_SOURCE
    text += "#" * (files.MAX_BYTES - len(text.encode()) - 1) + "\n"
    assert len(text.encode()) == files.MAX_BYTES
    assert read_recipe(_write(tmp_path, "meta.yaml", text)).version == "1"
