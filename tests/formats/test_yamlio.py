"""The YAML loader: the C parser's fast path and the Python loaders read documents alike."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from ruamel.yaml.resolver import VersionedResolver

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


class _RuamelsOwn(yamlio._CLoader if yamlio.CParser is not None else object):  # type: ignore[misc]
    """The C loader with ruamel's own construction and resolution: what the fast ones match."""

    def construct_document(self, node: Any) -> Any:
        return yamlio._SafeConstructor.construct_document(self, node)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        return VersionedResolver.resolve(self, kind, value, implicit)


def _outcome(loader: type, text: str) -> tuple[str, Any]:
    instance = loader(text)
    try:
        return "value", _typed(instance.get_single_data())
    except Exception as error:  # the same error, word for word
        return "error", f"{type(error).__name__}: {error}"
    finally:
        instance.dispose()


def _typed(value: Any, depth: int = 0) -> Any:
    """The value with every type spelled out (an alias may make it recursive: cut at 20)."""
    if depth > 20:
        return "..."
    if isinstance(value, dict):
        return ("dict", [(_typed(k, depth + 1), _typed(v, depth + 1)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(item, depth + 1) for item in value])
    if isinstance(value, yamlio.NumberText):
        return ("number", str(value), value.number)
    return (type(value).__name__, repr(value))


TRICKY = [
    pytest.param(DOCUMENT, id="a recipe"),
    pytest.param("a: &x {b: 1}\nc: *x\nd: *x\n", id="an alias, twice"),
    pytest.param("a: &x [1, *x]\n", id="a recursive alias"),
    pytest.param("base: &b {x: 1, y: 2}\nthis:\n  <<: *b\n  y: 3\n", id="a merge key"),
    pytest.param("a:\n  <<: [{x: 1}, {x: 2, y: 2}]\n", id="merging a list"),
    pytest.param("=: value\n", id="a value key"),
    pytest.param("s: !!set {a, b}\no: !!omap [{a: 1}, {b: 2}]\np: !!pairs [{a: 1}]\n", id="sets"),
    pytest.param("d: 2024-06-01\nt: 2024-06-01 10:00:00\nb: !!binary aGVsbG8=\n", id="typed"),
    pytest.param("a: !!str 12\nb: !!int '7'\nc: !!float 1\nd: !!null ''\n", id="explicit tags"),
    pytest.param("a: !custom x\n", id="an unknown tag"),
    pytest.param("a: !!map [1, 2]\n", id="a tag on the wrong node"),
    pytest.param("1: one\n~: none\ntrue: yes\n1.5: half\n", id="keys of every scalar kind"),
    pytest.param("[a, b]: 1\n", id="a sequence as a key"),
    pytest.param("? {a: 1}\n: 2\n", id="a mapping as a key"),
    pytest.param("a: 1\na: 2\nb: [x, {c: 3, c: 4}]\n", id="duplicate keys"),
    pytest.param("- 0x1F\n- 0o17\n- 1_000\n- .inf\n- -.5\n- +12\n- 017\n", id="numbers"),
    pytest.param(
        "- yes\n- No\n- TRUE\n- ~\n- null\n- ''\n- \"\"\n- '1'\n", id="booleans and nulls"
    ),
    pytest.param("just text\n", id="a scalar document"),
    pytest.param("", id="an empty document"),
    pytest.param("a: |\n  one\n  two\nb: >-\n  folded\n  text\n", id="block scalars"),
]


@pytest.mark.skipif(yamlio.CParser is None, reason="no C parser here")
@pytest.mark.parametrize("text", TRICKY)
def test_the_fast_construction_builds_what_ruamels_own_builds(text: str) -> None:
    assert _outcome(yamlio._CLoader, text) == _outcome(_RuamelsOwn, text)


@pytest.mark.skipif(yamlio.CParser is None, reason="no C parser here")
def test_aliases_still_share_one_value() -> None:
    """ruamel builds an anchored node once: the fast construction hands such a document back."""
    value = yamlio.load("a: &x {b: 1}\nc: *x\n")
    assert value["a"] is value["c"]


@pytest.mark.skipif(yamlio.CParser is None, reason="no C parser here")
def test_a_loader_is_freed_as_soon_as_its_document_is_read() -> None:
    """Not left to the cycle collector: 10,000 recipes' worth of loaders raised peak memory."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        yamlio.load(DOCUMENT)
        with pytest.raises(FormatError):
            yamlio.load("a: [\n")
        alive = [item for item in gc.get_objects() if isinstance(item, yamlio._CLoader)]
    finally:
        if collecting:
            gc.enable()
    assert alive == []
