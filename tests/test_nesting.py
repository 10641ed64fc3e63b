"""The nesting bound: its shortcut for shallow texts gives the answer the full count gives."""

from __future__ import annotations

import random

import pytest

from bot.nesting import TooDeep, check_nesting, safe_for_c_parser


def _counted_depth(text: str, marks: str) -> int:
    """The block nesting as both checks count it, line by line, with no shortcut."""
    deepest, indents = 0, []
    for line in text.split("\n"):
        stripped = line.lstrip(marks)
        if not stripped or (stripped.startswith("#") and marks == " -"):
            continue
        indent = len(line) - len(stripped)
        while indents and indents[-1] >= indent:
            indents.pop()
        indents.append(indent)
        deepest = max(deepest, len(indents) + sum(line[:indent].count(m) for m in marks.strip()))
    return deepest


def _random_text(rng: random.Random, limit: int) -> str:
    """Lines whose indents mostly climb, written in every mark the counts know."""
    lines, width, marks = [], 0, rng.choice(["  -", "  -?:\t"])
    for _ in range(rng.randrange(1, 2 * limit)):
        width = max(0, width + rng.choice([-2, 1, 1, 2]))
        prefix = "".join(rng.choice(marks) for _ in range(width))
        lines.append(prefix + rng.choice(["x", "k:", "# c", ""]))
    return "\n".join(lines)


@pytest.mark.parametrize("limit", [3, 6, 7, 10])
def test_the_shortcut_agrees_with_the_full_count(limit: int) -> None:
    rng = random.Random(limit)
    deep = 0
    for _ in range(3000):
        text = _random_text(rng, limit)
        too_deep = _counted_depth(text, " -") > limit
        deep += too_deep
        if too_deep:
            with pytest.raises(TooDeep):
                check_nesting(text, limit)
        else:
            check_nesting(text, limit)
        assert safe_for_c_parser(text, limit) == (_counted_depth(text, " -?:\t") <= limit), text
    assert 150 < deep < 2850  # both answers came up often


@pytest.mark.parametrize("levels", [99, 100, 101])
def test_the_bound_is_exact_for_a_staircase_of_keys(levels: int) -> None:
    text = "\n".join(" " * depth + "k:" for depth in range(levels))
    if levels > 100:
        with pytest.raises(TooDeep, match=f"line {levels}"):
            check_nesting(text)
    else:
        check_nesting(text)
    assert safe_for_c_parser(text) == (levels <= 100)
