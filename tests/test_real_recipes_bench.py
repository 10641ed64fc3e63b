"""bench/real_recipes.py measures what it claims: it finds real recipes and its audit bites.

Its figures (share refused, stale hashes) are only worth quoting if the sampling takes what
staged-recipes accepted and the audit flags a stale hash it is shown; both are checked here
on a small git repository made for the test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # bench/ is no installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.real_recipes import audit, bump, measure_one, sample

OLD = "a" * 64
RECIPE = (
    '{% set version = "1.2.3" %}\npackage:\n  name: widget\n  version: {{ version }}\n'
    "source:\n  url: https://example.org/widget-{{ version }}.tar.gz\n"
    f"  sha256: {OLD}\nbuild:\n  number: 1\n"
)


def _git(repository: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize(
    ("version", "patch", "minor"),
    [("1.2.3", "1.2.4", "1.3.0"), ("1.0-15", "1.0-16", "1.1-00"), ("2024", "2025", "2025")],
)
def test_bump_makes_a_plausible_next_version(version: str, patch: str, minor: str) -> None:
    """The made-up next version changes the last (or the second) number, keeping its width."""
    assert (bump(version), bump(version, "minor")) == (patch, minor)


def test_sample_takes_the_recipes_staged_recipes_accepted(tmp_path: Path) -> None:
    """A recipe deleted from recipes/ (its feedstock was made) is sampled as it was."""
    repository = tmp_path / "staged"
    folder = repository / "recipes" / "widget"
    folder.mkdir(parents=True)
    (folder / "meta.yaml").write_text(RECIPE)
    (folder / "conda_build_config.yaml").write_text("mpi: [openmpi]\n")
    _git(repository, "init", "-q")
    _git(repository, "add", ".")
    _git(repository, "commit", "-qm", "add widget")
    _git(repository, "rm", "-rq", "recipes/widget")
    _git(repository, "commit", "-qm", "widget has a feedstock")

    count = sample(repository, tmp_path / "out", 10)

    assert count == 1
    assert (tmp_path / "out" / "widget" / "meta.yaml").read_text() == RECIPE
    assert (tmp_path / "out" / "widget" / "conda_build_config.yaml").is_file()


def test_audit_flags_an_old_hash_left_beside_a_moved_url(tmp_path: Path) -> None:
    """A rewrite that moved the URL but kept the hash is reported stale, naming the hash."""
    (tmp_path / "widget").mkdir()
    file = tmp_path / "widget" / "meta.yaml"
    stale = RECIPE.replace('"1.2.3"', '"1.2.4"')

    problem = audit(RECIPE, stale, file, {}, tmp_path)

    assert problem is not None and problem[0] == "stale" and OLD in problem[1]


def test_a_good_rewrite_passes_the_audit(tmp_path: Path) -> None:
    """The real rewrite of a plain recipe is counted as rewritten, with no problem."""
    (tmp_path / "widget").mkdir()
    (tmp_path / "widget" / "meta.yaml").write_text(RECIPE)

    outcome = measure_one(tmp_path / "widget" / "meta.yaml", tmp_path)

    assert (outcome.read, outcome.status) == (True, "rewritten"), outcome.detail
