"""`check` and `update` on the recipes people really have, against a local upstream.

A variant recipe (its hash lines guarded by `# [mpi == ...]`, the values in the repository's
conda_build_config.yaml), a CRAN recipe (`1.0-15`, packaged as `1.0_15`) and a recipe with a
pinned LICENSE source, checked and updated through the command line: every hash written is the
sha256 of the bytes the server sends for that exact URL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import LocalHttpServer, Reply, html_reply, nginx_index

from bot.cli import main

OLD = {"openmpi": "1" * 64, "mpich": "2" * 64, "cran": "3" * 64, "main": "4" * 64}
LICENSE_SHA = "5" * 64


def _bytes(path: str) -> bytes:
    return f"the file at {path}\n".encode()


def _sha(path: str) -> str:
    return hashlib.sha256(_bytes(path)).hexdigest()


@pytest.fixture
def upstream() -> Iterator[LocalHttpServer]:
    server = LocalHttpServer().start()
    files = [
        "/mpi/tool-openmpi-2.1.tar.gz",
        "/mpi/tool-mpich-2.1.tar.gz",
        "/cran/src/contrib/foo_1.0-16.tar.gz",
        "/main/widget-0.9.tar.gz",
    ]
    for path in files:
        server.routes[path] = Reply(200, _bytes(path))
    server.routes["/cran/src/contrib/"] = html_reply(
        nginx_index("/cran/src/contrib/", ["foo_1.0-15.tar.gz", "foo_1.0-16.tar.gz"])
    )
    yield server
    server.stop()


@pytest.fixture
def repo(tmp_path: Path, upstream: LocalHttpServer) -> Path:
    root = tmp_path / "recipes"
    base = upstream.base
    (root / "ci").mkdir(parents=True)
    (root / "ci" / "conda_build_config.yaml").write_text("mpi:\n  - openmpi\n  - mpich\n")
    (root / "recipe-bot.yaml").write_text(
        f"http: {{cache: {tmp_path / 'cache.sqlite'}}}\nvariants: [ci/conda_build_config.yaml]\n"
    )
    recipes = {
        "tool": (
            '{% set version = "2.0" %}\npackage:\n  name: tool\n  version: {{ version }}\n'
            f"source:\n  url: {base}/mpi/tool-{{{{ mpi }}}}-{{{{ version }}}}.tar.gz\n"
            f'  sha256: {OLD["openmpi"]}  # [mpi == "openmpi"]\n'
            f'  sha256: {OLD["mpich"]}  # [mpi == "mpich"]\n'
            "build:\n  number: 4\n"
        ),
        "r-foo": (
            "{% set version = '1.0-15' %}\npackage:\n  name: r-foo\n"
            '  version: {{ version|replace("-", "_") }}\n'
            f"source:\n  url: {base}/cran/src/contrib/foo_{{{{ version }}}}.tar.gz\n"
            f"  sha256: {OLD['cran']}\nbuild:\n  number: 1\n"
        ),
        "widget": (
            '{% set version = "0.8" %}\npackage:\n  name: widget\n  version: {{ version }}\n'
            f"source:\n  - url: {base}/main/widget-{{{{ version }}}}.tar.gz\n"
            f"    sha256: {OLD['main']}\n"
            "  - url: https://raw.githubusercontent.com/acme/widget/"
            "0123456789abcdef0123456789abcdef01234567/LICENSE\n"
            f"    sha256: {LICENSE_SHA}\n"
        ),
    }
    for name, text in recipes.items():
        (root / name).mkdir()
        (root / name / "meta.yaml").write_text(text)
    return root


def test_check_compares_the_version_a_cran_recipe_sets(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CRAN recipe at 1.0-15 (packaged as 1.0_15) is outdated against upstream 1.0-16."""
    code = main(["check", str(repo), "r-foo", "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (row["current"], row["latest"], row["status"]) == ("1.0-15", "1.0-16", "outdated")


def test_update_cran_recipe_moves_the_set_version(
    repo: Path, upstream: LocalHttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The update writes 1.0-16 where the version is set, and the new file's hash."""
    code = main(["update", str(repo), "r-foo"])
    text = (repo / "r-foo" / "meta.yaml").read_text()
    assert code == 0, capsys.readouterr().err
    assert "{% set version = '1.0-16' %}" in text
    assert _sha("/cran/src/contrib/foo_1.0-16.tar.gz") in text and OLD["cran"] not in text
    assert 'version: {{ version|replace("-", "_") }}' in text and "number: 0" in text


def test_update_writes_each_variants_hash(
    repo: Path, upstream: LocalHttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each `# [mpi == ...]` hash line gets the hash of its own variant's new file."""
    code = main(["update", str(repo), "tool", "--version", "2.1"])
    text = (repo / "tool" / "meta.yaml").read_text()
    assert code == 0, capsys.readouterr().err
    assert f'sha256: {_sha("/mpi/tool-openmpi-2.1.tar.gz")}  # [mpi == "openmpi"]' in text
    assert f'sha256: {_sha("/mpi/tool-mpich-2.1.tar.gz")}  # [mpi == "mpich"]' in text
    assert OLD["openmpi"] not in text and OLD["mpich"] not in text


def test_update_keeps_a_pinned_source(
    repo: Path, upstream: LocalHttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A LICENSE pinned to a commit keeps its hash and is never downloaded."""
    code = main(["update", str(repo), "widget", "--version", "0.9"])
    text = (repo / "widget" / "meta.yaml").read_text()
    assert code == 0, capsys.readouterr().err
    assert LICENSE_SHA in text and _sha("/main/widget-0.9.tar.gz") in text
    assert "/main/widget-0.9.tar.gz" in upstream.paths()


def test_update_refuses_a_variant_the_config_does_not_know(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the variant file gone, a hash line for a value no one names is refused, untouched."""
    (repo / "ci" / "conda_build_config.yaml").write_text("mpi: [openmpi]\n")
    before = (repo / "tool" / "meta.yaml").read_text()

    code = main(["update", str(repo), "tool", "--version", "2.1"])

    assert code == 1
    assert "applies in no configuration" in capsys.readouterr().err
    assert (repo / "tool" / "meta.yaml").read_text() == before
