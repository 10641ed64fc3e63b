"""Line handling every reader starts from: endings kept, normal forms, odd breaks refused."""

from __future__ import annotations

import random
import re

import pytest

from bot.formats import lines

PIECES = ["a", "key: value", "", " ", "\n", "\r\n", "\r", "\x85", "\u2028", "é", "# [win]"]


def _texts(count: int) -> list[str]:
    rng = random.Random(7)
    texts = ["", "\n", "a", "a\n", "a\r\n", "a\nb", "a\r\nb\n", "\r", "a\rb"]
    texts += ["".join(rng.choice(PIECES) for _ in range(rng.randrange(12))) for _ in range(count)]
    return texts


@pytest.mark.parametrize("text", _texts(400))
def test_the_normal_text_is_the_normal_form_of_its_lines(text: str) -> None:
    try:
        expected = lines.normalized(lines.split(text))
    except ValueError as error:
        with pytest.raises(ValueError, match=f"^{re.escape(str(error))}$"):
            lines.normalized_text(text)
        return
    assert lines.normalized_text(text) == expected


def test_a_text_of_newlines_is_its_own_normal_form() -> None:
    text = "package:\n  name: x\n"
    assert lines.normalized_text(text) is text
    assert lines.normalized_text("a\r\nb\r\n") == "a\nb\n"
    with pytest.raises(ValueError, match="on line 2"):
        lines.normalized_text("a\nb\u2028c\n")
