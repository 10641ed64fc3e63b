"""The command line on a copy of recipes-fixtures: list, check, update, and their errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import LocalHttpServer, Reply, json_reply

from bot.cli import main

FIXTURES = Path(__file__).parent.parent / "recipes-fixtures"
ATTRS_JSON = (Path(__file__).parent / "data" / "pypi" / "attrs.json").read_text()


@pytest.fixture
def pypi() -> Iterator[LocalHttpServer]:
    server = LocalHttpServer().start()
    server.routes["/pypi/attrs/json"] = json_reply(ATTRS_JSON)
    yield server
    server.stop()


@pytest.fixture
def repo(tmp_path: Path, pypi: LocalHttpServer) -> Path:
    """A copy of the fixtures whose config points PyPI at the local server and caches in tmp."""
    root = tmp_path / "recipes"
    shutil.copytree(FIXTURES, root)
    config = (root / "recipe-bot.yaml").read_text()
    config = config.replace("{url: https://pypi.org}", "{url: " + pypi.base + "}")
    config = config.replace(
        "cache: .recipe-bot-cache.sqlite", f"cache: {tmp_path / 'cache.sqlite'}"
    )
    (root / "recipe-bot.yaml").write_text(config)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_json_follows_the_contract(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`list --json` prints one object per recipe with the documented fields."""
    code, out, _ = run(capsys, "list", str(repo), "--json")
    rows = {row["recipe"]: row for row in json.loads(out)}
    assert code == 0
    assert rows["attrs"] == {
        "recipe": "attrs",
        "path": "python-attrs/meta.yaml",
        "format": "conda-v0",
        "version": "18.2.0",
        "sources": [
            {
                "url": "https://pypi.io/packages/source/a/attrs/attrs-18.2.0.tar.gz",
                "sha256": rows["attrs"]["sources"][0]["sha256"],
                "selector": None,
            }
        ],
        "checker": "pypi",
        "error": None,
    }
    assert len(rows["attrs"]["sources"][0]["sha256"]) == 64
    assert {row["format"] for row in rows.values()} == {"conda-v0", "conda-v1", "constraints"}
    assert {row["checker"] for row in rows.values()} == {"pypi", "github", "listing", "crawl"}
    assert [s["selector"] for s in rows["ninja-bin"]["sources"]] == ["linux", "osx", "win"]


def test_list_goes_on_past_an_unreadable_recipe(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed recipe gets an error naming the cause; every other recipe is listed."""
    (repo / "broken").mkdir()
    (repo / "broken" / "meta.yaml").write_text("package:\n  name: broken\n  version: [1\n")
    code, out, _ = run(capsys, "list", str(repo), "--json")
    rows = {row["path"]: row for row in json.loads(out)}
    assert code == 0
    assert "malformed YAML" in rows["broken/meta.yaml"]["error"]
    assert rows["python-attrs/meta.yaml"]["error"] is None


def test_check_json_for_named_recipe(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check --json NAME` reports the contract's fields, with the config's ignore and allowed."""
    code, out, _ = run(capsys, "check", str(repo), "attrs", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "recipe": "attrs",
            "path": "python-attrs/meta.yaml",
            "checker": "pypi",
            "current": "18.2.0",
            "latest": "19.1.0",
            "status": "outdated",
            "changelog": "https://www.attrs.org/en/stable/changelog.html",
            "error": None,
        }
    ]


def test_check_verbose_text(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check --verbose` prints `name latest (current):` and the changelog under it."""
    code, out, _ = run(capsys, "check", "--verbose", str(repo), "python-attrs")
    assert code == 0
    assert out == "attrs 19.1.0 (18.2.0):\n  https://www.attrs.org/en/stable/changelog.html\n"


def test_check_lists_errors_and_exits_zero(
    repo: Path, pypi: LocalHttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing upstream is listed on stderr with its recipe; the sweep still exits 0."""
    pypi.routes["/pypi/attrs/json"] = Reply(404, "no such project")
    code, out, err = run(capsys, "check", str(repo), "attrs")
    assert code == 0 and out == ""
    assert "attrs (python-attrs/meta.yaml)" in err and "404" in err


def test_update_with_version_rewrites_and_prints_a_diff(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`update NAME --version V` uses the published hash, rewrites the file and prints the diff."""
    before = (repo / "python-attrs" / "meta.yaml").read_text()
    code, out, err = run(capsys, "update", str(repo), "attrs", "--version", "19.1.0")
    after = (repo / "python-attrs" / "meta.yaml").read_text()
    assert code == 0, err
    assert out.startswith("--- a/python-attrs/meta.yaml\n+++ b/python-attrs/meta.yaml\n")
    assert '{% set version = "19.1.0" %}' in after
    assert "3" * 64 in after  # attrs-19.1.0.tar.gz's published digest
    assert "number: 0" in after
    changed = [
        line
        for line in out.splitlines()
        if line.startswith(("+", "-")) and line[:3] not in ("+++", "---")
    ]
    assert len(changed) == 2 * sum(
        a != b for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
    )


def test_update_dry_run_writes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`update --dry-run` prints the diff and leaves the recipe alone."""
    before = (repo / "python-attrs" / "meta.yaml").read_text()
    code, out, _ = run(capsys, "update", str(repo), "attrs", "--dry-run")
    assert code == 0 and '+{% set version = "19.1.0" %}' in out
    assert (repo / "python-attrs" / "meta.yaml").read_text() == before


def test_update_refusal_leaves_the_file_untouched(
    repo: Path, pypi: LocalHttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A version whose files cannot be downloaded is refused with a reason; nothing is written."""
    recipe = repo / "python-attrs" / "meta.yaml"
    recipe.write_text(
        recipe.read_text().replace("https://pypi.io/packages/source/a", pypi.base + "/files")
    )
    before = recipe.read_text()
    code, _, err = run(capsys, "update", str(repo), "attrs", "--version", "99.0.0")
    assert code == 1
    assert "attrs: not updated to 99.0.0" in err and "404" in err
    assert "/files/attrs/attrs-99.0.0.tar.gz" in pypi.paths()
    assert (repo / "python-attrs" / "meta.yaml").read_text() == before
    assert not list((repo / "python-attrs").glob(".*.tmp"))


def test_version_needs_a_name(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`update --version` without a recipe name is a usage error."""
    code, _, err = run(capsys, "update", str(repo), "--version", "1.0")
    assert code == 2 and "NAME" in err


def test_invalid_config_names_the_key(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad key in recipe-bot.yaml stops the command with exit 2 and names key and file."""
    (repo / "recipe-bot.yaml").write_text("limits: {open_merge_request: 3}\n")
    code, out, err = run(capsys, "check", str(repo))
    assert code == 2 and out == ""
    assert "limits.open_merge_request" in err and "recipe-bot.yaml" in err


def test_unknown_name_is_reported(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Asking for a recipe that does not exist says so."""
    code, out, err = run(capsys, "list", str(repo), "no-such-recipe")
    assert code == 0 and out == ""
    assert "no recipe named no-such-recipe" in err


def test_missing_recipes_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A RECIPES_DIR path that does not exist is a clear error, not an empty listing."""
    code, out, err = run(capsys, "check", str(tmp_path / "nope"))
    assert (code, out) == (2, "")
    assert "does not exist" in err and "nope" in err


def test_python_dash_m_bot(repo: Path) -> None:
    """`python -m bot` is the same program as `recipe-bot`."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "list", str(repo), "attrs"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("attrs 18.2.0  conda-v0  pypi  python-attrs/meta.yaml")


def test_recipe_cache_rereads_changed_files_only(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second check uses cached reads, but a recipe edited in between is read afresh."""
    run(capsys, "check", str(repo), "attrs", "--json")
    recipe = repo / "python-attrs" / "meta.yaml"
    recipe.write_text(recipe.read_text().replace('"18.2.0"', '"19.0.0"'))
    code, out, _ = run(capsys, "check", str(repo), "attrs", "--json")
    assert code == 0
    assert json.loads(out)[0]["current"] == "19.0.0"


def test_a_cache_written_by_an_older_reader_is_not_trusted(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads cached by another reader generation are read again (a CRAN version, say, reads
    differently now): an upgrade never shows what the old reader made of the same bytes."""
    from bot import recipes

    run(capsys, "list", str(repo), "attrs", "--json")  # fills the cache
    reads: list[object] = []
    real = recipes.formats.read_recipe
    monkeypatch.setattr(
        recipes.formats, "read_recipe", lambda *a, **k: reads.append(a) or real(*a, **k)
    )
    run(capsys, "list", str(repo), "attrs", "--json")
    assert reads == []  # the same reader: every read comes from the cache
    monkeypatch.setattr(recipes, "READER_GENERATION", recipes.READER_GENERATION + 1)

    code, out, _ = run(capsys, "list", str(repo), "attrs", "--json")

    assert code == 0 and json.loads(out)[0]["version"] == "18.2.0"
    assert any("python-attrs" in str(read[0]) for read in reads)  # read again
