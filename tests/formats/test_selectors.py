"""Selectors evaluated per configuration: which lines are kept, and errors that name the line."""

from __future__ import annotations

import pytest

from bot.formats import jinja, selectors
from bot.formats.base import FormatError

TEXT = [
    "source:",
    "  url: https://x.org/a.tar.gz  # [unix]",
    "  url: https://x.org/a.zip  # [win]",
    "  sha256: 1  # [unix]",
    "build:",
    "  skip: true  # [py<39]",
]


def _selector(text_lines: list[str]) -> selectors.Selector:
    return selectors.Selector(jinja.sandbox("conda-v0"), text_lines)


def _variables(platform: str, py: int = 311) -> dict[str, object]:
    return {**selectors.namespace(platform), "py": py}


def test_false_selectors_blank_their_lines_and_keep_the_numbering() -> None:
    selector = _selector(TEXT)
    assert selector.select(_variables("win-64")) == [
        "source:",
        "",
        "  url: https://x.org/a.zip  # [win]",
        "",
        "build:",
        "",
    ]
    selection = selector.selection(_variables("linux-64", py=38))
    assert selection.truth == (True, False, True)  # unix, win, py<39: first seen first
    assert selection.kept == [TEXT[0], TEXT[1], "", TEXT[3], TEXT[4], TEXT[5]]


def test_the_same_truth_gives_the_same_lines() -> None:
    selector = _selector(TEXT)
    linux, osx, win = (selector.selection(_variables(p)) for p in ("linux-64", "osx-64", "win-64"))
    assert linux.truth == osx.truth and linux.kept is osx.kept
    assert win.truth != linux.truth and win.kept != linux.kept
    assert TEXT[1] in linux.kept  # the text itself is never blanked
    assert selector.select(_variables("linux-64")) is linux.kept


def test_positions_name_the_selectors_of_some_lines() -> None:
    selector = _selector(TEXT)
    assert selector.expressions() == ["unix", "win", "py<39"]
    assert selector.positions([0, 1, 3]) == [0]
    assert selector.positions(range(len(TEXT))) == [0, 1, 2]
    assert selector.positions([5, 2]) == [1, 2]
    assert selector.positions([0, 4]) == []


def test_a_selector_that_fails_is_named_with_its_first_line() -> None:
    text = ["a: 1  # [linux]", "b: 2  # [nothing.there]", "c: 3  # [nothing.there]"]
    selector = _selector(text)
    with pytest.raises(FormatError, match=r"^line 2: selector \[nothing\.there\]: "):
        selector.select(_variables("linux-64"))
