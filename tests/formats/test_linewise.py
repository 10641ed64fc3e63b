"""A meta.yaml rendered line by line gives what the whole template gives, or is rendered whole."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from bot.formats import jinja, linewise, selectors
from bot.formats.base import FormatError

HUGE = "  huge: " + "{{ 'x' * 99999 }}" * 10  # about 1 MB rendered

# (text, renders line by line). Each was a way the two could differ, or is what recipes hold.
CASES = [
    (
        '{% set name = "Foo" %}\n{% set version = "1.2.3" %}\n{% set build = 2 %}\n'
        "package:\n  name: {{ name|lower }}\n  version: {{ version }}\n"
        "source:\n  url: https://x.org/{{ name[0] }}/{{ name }}-{{ version }}.tar.gz  # [unix]\n"
        "  url: https://x.org/{{ name }}-{{ version }}.zip  # [win]\n"
        "build:\n  number: {{ build }}\nrequirements:\n  build:\n    - {{ compiler('c') }}\n"
        "    - make  # [unix]\n",
        True,
    ),
    ('{% set sha = "a" %}  # [linux]\n{% set sha = "b" %}  # [win]\nsha: {{ sha }}\n', True),
    ('before: {{ v }}\n{% set v = "set" %}\nafter: {{ v }}\n', True),
    ('{{ v }}{% set v = "same line" %}{{ v }}\n', True),
    (
        '{% set _hidden = "h" %}\n{% set shown = _hidden ~ "!" %}\nk: {{ _hidden }} {{ shown }}',
        True,
    ),
    ("{% set ns = namespace(v=1) %}\n{% set ns.v = ns.v + 1 %}\nk: {{ ns.v }}\n", True),
    ('{% set deps = [] %}\n{% do deps.append("zlib") %}\nk: {{ deps|join(",") }}\n', True),
    ("{% set a = 'it''s' %}{% set b = \"tab\\t\" %}{% set c = 'é' %}{% set d = 0 %}\n", True),
    ('{% set f = 1_000 %}{% set g = 1.5 %}{% set h = "x" "y" %}{% set i = -1 %}\n', True),
    ("{% set e = 010 %}\n", False),
    ("{% set version = 1 %}\n{% set version = version + 1 %}\nk: {{ version }}\n", True),
    ('{% do environ.update({"X": "1"}) %}\nk: {{ environ.get("X") }} {{ os.sep }}\n', True),
    ("k: {{ true }} {{ None }} {{ TRUE }} {{ if }} {{ py }} {{ undefined_name }}\n", True),
    ("k: {{ '}}' }} {{ {'a': {'b': 1}}['a'] }} value }} %}\n", True),
    ("k: {{ ''.__class__ }}\n", True),
    ("{% set bad = ''.__class__ %}\nk: {{ bad }}\n", True),
    ("a: {{ 1/0 }}\nb: {{ ''.__class__ }}\n", True),
    ("{% set true = 1 %}\n", False),
    ("{% set self = 1 %}\nk: {{ self }}\n", False),
    ("k: {{ self }}\n", False),
    ("{% raw %}\n{{ not rendered }}\n{% endraw %}\n", False),
    ("{% raw %}\n", False),
    ("{# a comment\nover lines #}\nk: 1\n", False),
    ("k: 1 {# a comment #}\n", False),
    ("{%- set v = 1 %}\nk: a\n{{- v }}\n", False),
    ('{% set v = [\n  "a",\n] %}\nk: {{ v }}\n', False),
    ("{% if win %}\nk: win\n{% else %}\nk: other\n{% endif %}\n", False),
    ("{% for i in range(2) %}\n- {{ i }}\n{% endfor %}\n", False),
    ("{% if linux %}k: linux{% endif %}\n", False),
    ("{% set v %}captured{% endset %}\nk: {{ v }}\n", False),
    ("{% macro m() %}x{% endmacro %}\nk: {{ m() }}\n", False),
    ("{% import 'os' as os %}\n", False),
    ("k: {{ not }}\n", False),
    ("k: {{ version }\n", False),
    ("k: a\r\nb: {{ 1 }}\n", False),
    # The 2 MiB cap: the line break before a line counts before that line renders.
    (f"{HUGE}\n{HUGE}\n  k: {'y' * 97149}\n{{{{ 1/0 }}}}\n", True),
    (f"{HUGE}\n{HUGE}\n  k: {'y' * 97148}\n{{{{ 1/0 }}}}\n", True),
    (f"{HUGE}\n{HUGE}\n{HUGE}\n", True),
]


def _outcome(render: Any, *args: Any) -> tuple[Any, ...]:
    try:
        text, exported = render(*args)
    except FormatError as error:
        return ("error", str(error))
    shown = {name: re.sub(r" at 0x[0-9a-f]+", "", repr(value)) for name, value in exported.items()}
    return ("text", text, shown)


@pytest.mark.parametrize(("text", "line_by_line"), CASES)
def test_line_by_line_renders_what_the_whole_template_renders(
    text: str, line_by_line: bool
) -> None:
    """On every platform: the same text, exported variables and errors, or no line by line."""
    sandbox = jinja.sandbox("conda-v0")
    text_lines = text.split("\n")
    by_line = linewise.Lines.compile(text_lines)
    assert (by_line is not None) == line_by_line
    if by_line is None:
        return
    selector = selectors.Selector(sandbox, text_lines)
    for platform in selectors.PLATFORMS:
        whole_globals, line_globals = sandbox.recipe_globals(), sandbox.recipe_globals()
        platform_variables = selectors.namespace(platform)
        kept = selector.select({**whole_globals, **platform_variables})
        whole = sandbox.text_template("\n".join(kept))

        expected = _outcome(jinja.render_template, whole, {**whole_globals, **platform_variables})
        actual = _outcome(by_line.render, kept, {**line_globals, **platform_variables})

        assert actual == expected, platform
        assert line_globals == whole_globals  # what `{% do environ.update() %}` changed


def test_shared_values_compile_once() -> None:
    """A `{{ }}` value that many recipes write is compiled once and shared, never per recipe."""
    first = linewise.line("  url: https://a.org/{{ name[0] }}/{{ name }}-{{ version }}.tar.gz")
    second = linewise.line("  - url: https://b.org/{{ name[0] }}/{{ name }}.zip  # [win]")

    assert isinstance(first, linewise.Values) and isinstance(second, linewise.Values)
    assert first.parts[1] is second.parts[1]  # `{{ name[0] }}`


_PIECES = [
    "  url: https://x.org/", "-", ".tar.gz", "  # [win]", " ", "}", "}}", "%}", "{", "# [x]",
    "{{ name }}", "{{version}}", "{{\tname }}", "{{ name|lower }}", "{{ none }}", "{{ if }}",
    "{{ self }}", "{{ name.x }}", "{{ {{ }}", '{% set v = "1.0" %}', "{%set v=12%}",
    '{% set v = "" %}', "{% set v = 0 %}", "{% set v = 012 %}", "{% set v = 1.5 %}",
    "{% set v = 'q' %}", '{% set v = "a%}b" %}', '{% set v = "a\\\\b" %}', '{% set true = "x" %}',
    '{% set loop = "x" %}', '{% set in = "x" %}', '{%  set  x  =  "é #" %}', "{% set x %}",
    "{% if x %}", "{{ name -}}", "{#", "{{ name }}{{ version }}",
]  # fmt: skip


def _shape(piece: Any) -> Any:
    if isinstance(piece, linewise.Values):
        if not all(isinstance(part, str | linewise.Variable) for part in piece.parts):
            return "compiled"
        return ("values", piece.parts)
    if isinstance(piece, linewise.Assignments):
        return ("assignments", piece.values, piece.text)
    return type(piece).__name__


def test_lines_read_without_the_lexer_are_read_as_the_lexer_reads_them() -> None:
    rng = random.Random(7)
    quick = 0
    for _ in range(4000):
        source = "".join(rng.choice(_PIECES) for _ in range(rng.randrange(1, 5)))
        read = linewise._quick(source)
        if read is not None:
            quick += 1
            assert _shape(read) == _shape(linewise._lexed(source)), source
    assert quick > 300  # the common shapes do take the quick way
