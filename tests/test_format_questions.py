"""The bot asks a recipe's format what to do (bot.formats.registry), never its name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.change import make_change
from bot.config import Config
from bot.errors import CheckerConfigError
from bot.formats import read_constraints
from bot.http import Http, HttpSettings
from bot.model import Recipe, Release, Update
from bot.resolve import resolve
from checkers import BUILTIN


@pytest.fixture
def http(tmp_path: Path) -> Iterator[Http]:
    with Http(HttpSettings(cache=str(tmp_path / "cache.sqlite"))) as client:
        yield client


def test_a_pin_is_checked_on_pypi_by_its_name() -> None:
    """A constraints recipe needs no source URL: its pin names the PyPI package."""
    pin = Recipe("Flask-Login", "constraints.txt", "constraints", "0.6.3")

    resolved = resolve(pin, Config(), BUILTIN)

    assert (resolved.checker_name, dict(resolved.options)) == ("pypi", {"package": "Flask-Login"})


def test_a_conda_recipe_without_a_source_is_not_taken_for_a_pin() -> None:
    """Only a format whose recipes are pins gets PyPI for free; a bare conda recipe does not."""
    bare = Recipe("Flask-Login", "flask-login/meta.yaml", "conda-v0", "0.6.3")

    with pytest.raises(CheckerConfigError, match="no checker recognises the source"):
        resolve(bare, Config(), BUILTIN)


def test_a_constraints_file_of_any_name_is_rewritten_by_its_format(
    tmp_path: Path, http: Http
) -> None:
    """A configured pins file not named *.txt is read and moved as a constraints file."""
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "pins.in").write_text("attrs==18.2.0\nsix==1.16.0\n")
    (recipe, _) = read_constraints(tmp_path / "ci" / "pins.in", root=tmp_path)

    change = make_change(Update(recipe, Release("19.1.0")), tmp_path, http)

    (edit,) = change.edits
    assert (edit.path, edit.after) == ("ci/pins.in", "attrs==19.1.0\nsix==1.16.0\n")
    assert change.hashes == ()
