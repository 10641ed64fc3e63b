"""The YAML loader: the C parser's fast path and the Python loaders read documents alike."""

from __future__ import annotations

from typing import Any

import pytest

from bot.formats import yamlio
from bot.formats.base import FormatError

DOCUMENT = """\
package:
  name: zlib
  version: 1.10
source:
  url: https://zlib.net/zlib-1.3.tar.gz
  url: https://example.org/second.tar.gz
build:
  number: 0x1F
  skip: true
  list: [a, 1.5, null]
"""


def loaded(text: str) -> Any:
    value = yamlio.load(text)
    return value, yamlio.plain(value)


def test_the_fast_path_keeps_numbers_as_written_and_the_first_duplicate_key() -> None:
    value, plain = loaded(DOCUMENT)
    assert value["package"]["version"] == "1.10" and value["package"]["version"].number == 1.1
    assert value["source"]["url"] == "https://zlib.net/zlib-1.3.tar.gz"
    assert plain["build"] == {"number": 31, "skip": True, "list": ["a", 1.5, None]}


@pytest.mark.skipif(yamlio.CParser is None, reason="no C parser to compare with")
def test_without_the_c_parser_documents_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = loaded(DOCUMENT)
    monkeypatch.setattr(yamlio, "CParser", None)
    assert loaded(DOCUMENT) == fast


@pytest.mark.parametrize("without_c", [False, True])
def test_one_loader_serves_many_documents_each_on_its_own(
    monkeypatch: pytest.MonkeyPatch, without_c: bool
) -> None:
    """Nothing of one document (an anchor, a key) leaks into the next; a bad one fails alone."""
    if without_c:
        monkeypatch.setattr(yamlio, "CParser", None)
    assert yamlio.load("a: &x {b: 1}\nc: *x\n") == {"a": {"b": "1"}, "c": {"b": "1"}}
    with pytest.raises(FormatError, match="line 1"):
        yamlio.load("c: *x\n")  # the anchor of the document before is unknown here
    assert yamlio.load("d: 2\n") == {"d": "2"}
