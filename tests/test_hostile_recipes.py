"""Hostile and broken recipes: each is reported against its own path, nothing else suffers.

Anyone who can open a merge request can push a recipe. A recipe that nests YAML 50,000 levels
deep (which crashes the C parser outright), a FIFO named meta.yaml, a hash written as a mapping
and a hundred mutilated copies of the fixtures must each give a clear error or a refusal,
never a crash, a hang, or a touched file.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.servers import LocalHttpServer

from bot.cli import main
from bot.errors import RecipeError, RewriteRefused
from bot.formats import discover, read_recipe, rewrite

FIXTURES = Path(__file__).parent.parent / "recipes-fixtures"
GOOD = (
    '{% set version = "1.0" %}\npackage:\n  name: good\n  version: {{ version }}\n'
    "source:\n  url: https://example.org/good-{{ version }}.tar.gz\n  sha256: " + "a" * 64 + "\n"
    "extra:\n  update_check: {disabled: true}\n"
)


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """recipe-bot in a child process: a crash or a hang there fails the test, not the suite."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).parent.parent,
    )


def _repo(tmp_path: Path, recipes: dict[str, str]) -> Path:
    root = tmp_path / "recipes"
    for name, text in {"good": GOOD, **recipes}.items():
        (root / name).mkdir(parents=True)
        (root / name / "meta.yaml").write_text(text)
    (root / "recipe-bot.yaml").write_text(f"http: {{cache: {tmp_path / 'cache.sqlite'}}}\n")
    return root


@pytest.mark.parametrize(
    "nested",
    [
        "extra: " + "[" * 50_000 + "]" * 50_000,
        "extra:\n" + "- " * 50_000 + "x",
        "extra:\n" + "".join(" " * depth + "k:\n" for depth in range(1_000)),
        "extra: {{ " + "[" * 1_000 + "]" * 1_000 + " }}",
        "extra: [it's, " + "[" * 50_000 + "]" * 50_000 + ", 'y]",
        "extra:\n" + "- ? " * 25_000 + "x",
        "extra:\n  ? a\n  : " + "- " * 30_000 + "x",
        "extra:\r  a:\r" + "- " * 30_000 + "x",
    ],
    ids=["flow", "dashes", "block", "jinja", "apostrophe", "complex-keys", "value", "cr"],
)
def test_deep_nesting_is_an_unreadable_recipe(tmp_path: Path, nested: str) -> None:
    """A recipe nested thousands of levels deep is listed as unreadable; the others read."""
    root = _repo(tmp_path, {"deep": "package: {name: deep, version: '1'}\n" + nested + "\n"})

    done = _cli("list", str(root), "--json")

    assert done.returncode == 0, done.stderr
    rows = {row["recipe"]: row for row in json.loads(done.stdout)}
    assert rows["good"]["error"] is None and rows["good"]["version"] == "1.0"
    assert "nest" in rows["deep"]["error"] or "line break" in rows["deep"]["error"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_meta_yaml_does_not_hang_check(tmp_path: Path) -> None:
    """`check` reports a FIFO as not a regular file instead of blocking on it forever."""
    root = _repo(tmp_path, {})
    (root / "pipe").mkdir()
    os.mkfifo(root / "pipe" / "meta.yaml")

    done = _cli("check", str(root), "--json", timeout=30)

    assert done.returncode == 0, done.stderr
    rows = {row["path"]: row for row in json.loads(done.stdout)}
    assert "not a regular file" in rows["pipe/meta.yaml"]["error"]
    assert rows["good/meta.yaml"]["status"] == "skipped"


def test_a_hash_written_as_a_mapping_is_refused_and_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`update` does not bump a version whose sha256 it cannot see; the file stays as it was."""
    text = GOOD.replace(
        "  sha256: " + "a" * 64 + "\n", "  sha256:\n    linux: " + "b" * 64 + "\n    osx: x\n"
    ).replace("name: good", "name: mapped")
    root = _repo(tmp_path, {"mapped": text})

    code = main(["update", str(root), "mapped", "--version", "2.0"])

    assert code == 1
    err = capsys.readouterr().err
    assert "sha256 of https://example.org/good-1.0.tar.gz is not a string" in err
    assert (root / "mapped" / "meta.yaml").read_text() == text


# -- fuzzing --------------------------------------------------------------------------------

_SOURCES = [path.read_text() for path in discover(FIXTURES) if path.name == "meta.yaml"]
_JUNK = ["{%", "{{", "}}", "%}", "[", "]", "{", "}", ":", "- ", "\t", "#", "'", '"', "&a", "*a",
         "!!python/object:os.system", "\x00", "\u2028", "\r", "{{ x * 10**9 }}",
         "<<: *a"]  # fmt: skip


def _mutilate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        action = rng.randrange(6)
        at = rng.randrange(len(lines))
        if action == 0:
            del lines[at]
        elif action == 1:
            lines.insert(at, lines[rng.randrange(len(lines))])
        elif action == 2:
            cut = rng.randrange(len(lines[at]) + 1)
            lines[at] = lines[at][:cut] + rng.choice(_JUNK) + lines[at][cut:]
        elif action == 3:
            lines[at] = " " * rng.randrange(12) + lines[at].lstrip()
        elif action == 4:
            lines = lines[: rng.randrange(1, len(lines) + 1)]
        else:
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
    return "\n".join(lines)


FUZZED = [_mutilate(_SOURCES[seed % len(_SOURCES)], random.Random(seed)) for seed in range(120)]


def test_fuzzed_recipes_never_crash_the_reader_or_the_rewrite(tmp_path: Path) -> None:
    """120 mutilated recipes: each reads or is unreadable, rewrites or is refused; no crash."""
    outcomes = {"read": 0, "unreadable": 0, "rewritten": 0, "refused": 0}
    for number, text in enumerate(FUZZED):
        folder = tmp_path / f"fuzz{number}"
        folder.mkdir()
        (folder / "meta.yaml").write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            read_recipe(folder / "meta.yaml", root=tmp_path)
            outcomes["read"] += 1
        except RecipeError:
            outcomes["unreadable"] += 1
        try:
            rewrite(text, "99.0", lambda url: "c" * 64)
            outcomes["rewritten"] += 1
        except RewriteRefused:
            outcomes["refused"] += 1
    assert sum(outcomes.values()) == 2 * len(FUZZED)
    assert outcomes["unreadable"] > 10 and outcomes["read"] > 10  # the fuzzing bites both ways


def _no_download(url: str) -> str:
    raise OSError(f"404 Not Found: {url}")


def test_update_on_fuzzed_recipes_touches_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`update --version` over 120 broken recipes, every download failing: nothing is damaged.

    The only files written are those whose rewrite needs no download (a source with no hash,
    still well formed), and they hold exactly what the pure rewrite gives.
    """
    server = LocalHttpServer().start()  # answers 404 to everything: every upstream is broken
    root = tmp_path / "recipes"
    for number, text in enumerate(FUZZED):
        (root / f"fuzz{number}").mkdir(parents=True)
        local = text.replace("https://", server.base + "/").replace("ftp://", server.base + "/")
        (root / f"fuzz{number}" / "meta.yaml").write_text(local)
    (root / "recipe-bot.yaml").write_text(
        f"http: {{cache: {tmp_path / 'cache.sqlite'}, timeout: 2}}\n"
    )
    original = {path: path.read_text() for path in root.rglob("*") if path.is_file()}
    expected = dict(original)
    for path, text in original.items():
        with contextlib.suppress(RewriteRefused):
            expected[path] = rewrite(text, "99.0", _no_download)

    names = [f"fuzz{number}" for number in range(len(FUZZED))]
    code = main(["update", str(root), *names, "--version", "99.0"])

    assert code == 1
    assert {path: path.read_text() for path in root.rglob("*") if path.is_file()} == expected
    written = [path for path in original if expected[path] != original[path]]
    assert len(written) < len(FUZZED) // 4  # the broken ones, most of them, are refused
    assert not list(root.rglob(".*.tmp"))
    assert server.paths(), "the updates did try their upstreams"
    server.stop()
    shutil.rmtree(root)
