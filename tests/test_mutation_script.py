"""bench/mutation.py sets mutmut up as it claims: one module group, its own tests, a clean copy.

Running mutmut itself is the script's job (minutes, and the `mutation` extra); what is checked
here is what decides its figures: which modules and tests a run gets, and how they are scored.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # bench/ is no installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.mutation import (
    MODULES,
    Group,
    Score,
    group_modules,
    prepare,
    report,
    toml_table,
    without_table,
)

ROOT = Path(__file__).resolve().parents[1]


def test_modules_sharing_their_tests_are_mutated_in_one_run() -> None:
    """The rewrite core shares tests/formats, so it is one group; versions is its own."""
    groups = group_modules(["bot/versions.py", *(m for m in MODULES if "formats" in m)], None)
    assert [group.modules[0] for group in groups] == ["bot/versions.py", "bot/formats/rewrite.py"]
    assert len(groups[1].modules) == 4 and groups[1].tests == ("tests/formats",)


def test_a_module_outside_the_table_needs_its_tests_named() -> None:
    """An unknown module stops the script unless --tests says what exercises it."""
    with pytest.raises(SystemExit, match="--tests"):
        group_modules(["bot/urls.py"], None)
    (group,) = group_modules(["bot/urls.py"], ["tests/formats"])
    assert group == Group(("bot/urls.py",), ("tests/formats",))


def test_the_table_splice_replaces_only_tool_mutmut() -> None:
    """The copy's pyproject keeps every other table and gets the new [tool.mutmut]."""
    text = (
        '[project]\nname = "x"\n\n[tool.mutmut]\nsource_paths = ["bot"]\n'
        'also_copy = [\n    "a",\n]\n\n[tool.ruff]\nline-length = 100\n'
    )
    spliced = without_table(text, "tool.mutmut") + toml_table(
        "tool.mutmut", {"only_mutate": ["bot/versions.py"], "debug": False, "timeout": 1.5}
    )
    data = tomllib.loads(spliced)
    assert data["project"] == {"name": "x"}
    assert data["tool"]["ruff"] == {"line-length": 100}
    assert data["tool"]["mutmut"] == {
        "only_mutate": ["bot/versions.py"],
        "debug": False,
        "timeout": 1.5,
    }


def test_the_copy_mutates_the_group_against_its_own_tests(tmp_path: Path) -> None:
    """`prepare` writes a copy whose [tool.mutmut] names the modules and the expanded tests."""
    copy = prepare(Group(("bot/versions.py",), ("tests/test_versions*.py",)), tmp_path)
    settings = tomllib.loads((copy / "pyproject.toml").read_text())["tool"]["mutmut"]
    assert settings["only_mutate"] == ["bot/versions.py"]
    assert "tests/test_versions.py" in settings["pytest_add_cli_args_test_selection"]
    assert all(
        name.startswith("tests/test_versions")
        for name in settings["pytest_add_cli_args_test_selection"]
    )
    assert settings["source_paths"] == ["bot", "checkers"]  # the repository's shared settings
    assert (copy / "bot" / "versions.py").read_text() == (ROOT / "bot/versions.py").read_text()
    assert not (copy / ".venv").exists() and not (copy / ".git").exists()


def test_timeouts_count_as_killed_and_no_tests_as_not() -> None:
    """The score is killed (timeouts included) over every mutant, and the table says so."""
    score = Score(
        "bot/x.py",
        {"m1": "killed", "m2": "timeout", "m3": "survived", "m4": "no tests"},
    )
    assert (score.killed, score.total, score.percent) == (2, 4, 50.0)
    assert score.survivors == ["m3", "m4"]
    line = report([score]).splitlines()[1]
    assert "2 / 4" in line and "50.0%" in line and "1 no tests, 1 survived" in line
