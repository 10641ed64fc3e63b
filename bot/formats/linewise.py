"""Rendering a meta.yaml line by line: what it renders to as a whole, without compiling it whole.

Compiling Jinja was half of reading a meta.yaml, and no two recipes have the same text. But most
recipes keep every Jinja statement within a line: `{% set %}` lines and `{{ }}` values. For such
a text, rendering line by line, each line with the variables the lines before it set, gives the
text the whole template gives: a top-level `{% set %}` writes the context that later lines read,
and a name read before it is set comes from the context, as here. Then

- a line without Jinja is text, and is not compiled;
- a `{{ }}` value is compiled once per process and shared by every recipe (`{{ version }}`,
  `{{ compiler('c') }}`, `{{ name[0] }}`), the text around it is kept as it is;
- `{% set version = "1.0" %}` is read from its tokens, not compiled;
- any other line is compiled alone, once per process.

`Lines.compile` returns None, and the text renders as a whole, when that might not be the same:
a line that does not parse alone (a statement continued on the next line, a block, a syntax
error), a statement other than output, `set` and `do` (`if`, `for`, `macro`, `import`, ...), a
raw block or a comment, whitespace control (`{%-` strips the line break before it) or a "\r"
(Jinja reads "\r\n" as one line break).
"""

from __future__ import annotations

import functools
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, nodes

from bot.formats import jinja
from bot.formats.base import FormatError

_STANDALONE = (nodes.Output, nodes.Assign, nodes.ExprStmt)  # output, `set` and `do`
_WHITESPACE_CONTROL = re.compile(r"\{[{%#][-+]|[-+][}%#]\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
# Names Jinja gives a meaning of its own depending on the whole template (`{{ self }}` is the
# template unless the template sets `self`): a line that uses one renders with the whole text.
_SPECIAL = frozenset({"self", "loop", "caller", "varargs", "kwargs", "super"})
_CONSTANTS = frozenset({"true", "false", "none"})  # and True, False, None: Jinja's literals
_CLOSING = {"variable_begin": "variable_end", "block_begin": "block_end"}
# What Jinja's lexer makes of `{{ }}` and `{% %}` and the text around them; nothing else.
_TOKENS = frozenset(
    {*_CLOSING, *_CLOSING.values(), "data", "whitespace", "name", "operator", "string"}
    | {"integer", "float"}
)
_LINES_KEPT = 4096  # distinct Jinja lines kept compiled


@dataclass(frozen=True)
class Variable:
    """`{{ version }}`: rendered as Jinja's code for it does, without making a context."""

    name: str

    def render(self, parent: dict[str, Any]) -> str:
        try:
            if self.name in parent:
                return str(parent[self.name])
            return str(jinja.sandbox("conda-v0").environment.undefined(name=self.name))
        except Exception as error:  # `str()` of what the recipe stored: see jinja.describe
            raise FormatError(jinja.describe(error)) from error


class Values:
    """A line of text and `{{ }}` values: `  url: https://x.org/{{ name }}-{{ version }}.tgz`."""

    def __init__(
        self, parts: tuple[str | Variable | Template, ...], reads: frozenset[str] = frozenset()
    ) -> None:
        self.parts = parts  # text as written, and each `{{ }}` as a variable or compiled
        # The names its values read: the Variables' and those in the compiled parts.
        names = {part.name for part in parts if isinstance(part, Variable)}
        self.reads = _shared(reads | names) if names else reads

    def render(self, parent: dict[str, Any], size: int) -> tuple[str, dict[str, Any]]:
        texts = []
        for part in self.parts:
            if isinstance(part, str):
                text = part
            elif isinstance(part, Variable):
                text = part.render(parent)
            else:
                text = jinja.render_context(part, part.new_context(parent, shared=True), size)
            size += len(text)
            if size > jinja.MAX_OUTPUT:
                raise FormatError(jinja.TOO_LARGE)
            texts.append(text)
        return "".join(texts), {}


class Assignments:
    """A line that sets variables to literals: `{% set version = "1.0" %}  # [unix]`."""

    reads: frozenset[str] = frozenset()  # literals only

    def __init__(self, values: tuple[tuple[str, str | int], ...], text: str) -> None:
        self.values = values
        self.text = text  # what it renders to: the text around the tags

    def render(self, parent: dict[str, Any], size: int) -> tuple[str, dict[str, Any]]:
        return self.text, dict(self.values)


class Statements:
    """Any other line that stands alone, compiled: `{% set url = base ~ "/" ~ name %}`."""

    def __init__(self, template: Template, reads: frozenset[str]) -> None:
        self.template = template
        self.reads = reads  # the names it loads

    def render(self, parent: dict[str, Any], size: int) -> tuple[str, dict[str, Any]]:
        context = self.template.new_context(parent, shared=True)
        return jinja.render_context(self.template, context, size), context.vars


Line = Values | Assignments | Statements

_SHARED_READS: dict[frozenset[str], frozenset[str]] = {}


def _shared(names: frozenset[str]) -> frozenset[str]:
    """One set object for each set of names: a few (`{name, version}`) serve most lines, and
    the compiled lines kept (`_LINES_KEPT`) would otherwise hold a set each."""
    if len(_SHARED_READS) >= _LINES_KEPT:
        return names
    return _SHARED_READS.setdefault(names, names)


class Lines:
    """A meta.yaml text compiled line by line."""

    def __init__(self, pieces: list[Line | None]) -> None:
        self._pieces = pieces  # per line; None for plain text

    def reads(self) -> frozenset[str]:
        """Every name a render of these lines may read (each line's own; see `Values.reads`).

        A render's text and exports depend on the lines kept and on these names' values, and
        on nothing else but the globals: the sandbox's are pure functions and constants.
        """
        return frozenset().union(*(piece.reads for piece in self._pieces if piece is not None))

    @classmethod
    def compile(cls, text_lines: list[str]) -> Lines | None:
        """The text's lines compiled, or None when it must render as a whole."""
        pieces: list[Line | None] = []
        for content in text_lines:
            if not jinja.has_markup(content):
                pieces.append(None)
                continue
            piece = line(content)
            if piece is None:
                return None
            pieces.append(piece)
        return cls(pieces)

    def render(self, kept: list[str], variables: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """What `jinja.render_template` gives for "\\n".join(kept): the text and exported names.

        `kept` are the compiled lines, some blanked by their selector.
        """
        base = {**jinja.sandbox("conda-v0").environment.globals, **variables}
        parent = base
        assigned: dict[str, Any] = {}  # what the lines so far set: the whole template's context
        texts = []
        size = -1
        for content, piece in zip(kept, self._pieces, strict=True):
            size += 1  # the line break before this line, counted before the line renders
            if size > jinja.MAX_OUTPUT:
                raise FormatError(jinja.TOO_LARGE)
            if piece is None or not content:
                text = content
            else:
                text, values = piece.render(parent, size)
                if values:
                    assigned.update(values)
                    parent = {**base, **assigned}
            size += len(text)
            if size > jinja.MAX_OUTPUT:
                raise FormatError(jinja.TOO_LARGE)
            texts.append(text)
        # Jinja exports the top-level names that do not start with "_".
        exported = {name: value for name, value in assigned.items() if not name.startswith("_")}
        return "\n".join(texts), exported


@functools.lru_cache(maxsize=_LINES_KEPT)
def line(source: str) -> Line | None:
    """One line with Jinja, compiled to render alone; None when it cannot."""
    if "\r" in source or _WHITESPACE_CONTROL.search(source):
        return None
    return _quick(source) or _lexed(source)


# `{{ name }}` and `{% set name = "text" %}` (or a number), spelled plainly: most of the lines
# with Jinja that are a recipe's own (its name, version and URLs), so rarely shared by two.
_QUICK_TAG = re.compile(
    r"\{\{[ \t]*(?P<variable>[A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}"
    r"|\{%[ \t]*set[ \t]+(?P<name>[A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*"
    r'(?:"(?P<text>[^"\\{}%\n]*)"|(?P<number>0|[1-9][0-9]*))[ \t]*%\}'
)


def _quick(source: str) -> Values | Assignments | None:
    """What `_lexed` makes of a line of text and `_QUICK_TAG`s, without Jinja's lexer.

    None when the line has anything else (a `{` in its text, a name Jinja reads otherwise):
    then the lexer decides.
    """
    parts: list[str | Variable | Template] = []
    values: list[tuple[str, str | int]] = []
    texts: list[str] = []
    position = 0
    for match in _QUICK_TAG.finditer(source):
        text = source[position : match.start()]
        if "{" in text:
            return None
        if text:
            parts.append(text)
            texts.append(text)
        position = match.end()
        name = match["variable"] or match["name"]
        if not _plain_name(name) or name in _SPECIAL:
            return None
        if match["variable"]:
            parts.append(Variable(name))
        else:
            number = match["number"]
            values.append((name, int(number) if number else match["text"]))
    text = source[position:]
    if "{" in text or position == 0:
        return None
    if text:
        parts.append(text)
        texts.append(text)
    if not values:
        return Values(tuple(parts))
    if len(parts) == len(texts):
        return Assignments(tuple(values), "".join(texts))
    return None


def _lexed(source: str) -> Line | None:
    """The line as Jinja's lexer (and, past the simple shapes, its parser) reads it."""
    environment = jinja.sandbox("conda-v0").environment
    try:
        tokens = [(kind, value) for _, kind, value in environment.lex(source)]
    except Exception:
        return None  # what Jinja's parser would refuse too
    if any(kind not in _TOKENS or (kind == "name" and value in _SPECIAL) for kind, value in tokens):
        # Raw blocks and comments (`{% raw %}` alone at the end of a text is read as nothing),
        # and `self` & co.
        return None
    if "".join(value for _, value in tokens) == source:
        simple = _simple(tokens)
        if simple is not None:
            return simple
    try:
        tree = environment.parse(source)
    except Exception:
        return None  # a statement that continues on another line, or a syntax error
    if not all(isinstance(node, _STANDALONE) for node in tree.body):
        return None
    try:
        return Statements(environment.from_string(tree), _loaded_names(tree))
    except Exception:
        return None


def _simple(tokens: list[tuple[str, str]]) -> Values | Assignments | None:
    """The line as text and values, or as literal assignments; None for anything else."""
    parts: list[str | Variable | Template] = []
    values: list[tuple[str, str | int]] = []
    texts: list[str] = []
    reads: frozenset[str] = frozenset()
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        if kind == "data":
            parts.append(value)
            texts.append(value)
            index += 1
            continue
        closing = _CLOSING.get(kind)
        end = next((i for i in range(index, len(tokens)) if tokens[i][0] == closing), None)
        if closing is None or end is None:
            return None
        tag = tokens[index : end + 1]
        index = end + 1
        inside = [token for token in tag[1:-1] if token[0] != "whitespace"]
        if kind == "variable_begin" and _is_variable(inside):
            parts.append(Variable(inside[0][1]))
        elif kind == "variable_begin":
            source = "".join(v for _, v in tag)
            try:
                parts.append(jinja.sandbox("conda-v0").template(source))
            except FormatError:
                return None
            reads |= _tag_reads(source)
        else:
            assignment = _literal_set(inside)
            if assignment is None:
                return None
            values.append(assignment)
    if not values:
        return Values(tuple(parts), reads)
    if len(parts) == len(texts):  # no `{{ }}` next to the assignments
        return Assignments(tuple(values), "".join(texts))
    return None


@functools.lru_cache(maxsize=_LINES_KEPT)
def _tag_reads(source: str) -> frozenset[str]:
    """The names one `{{ }}` loads; recipes share most of them (`{{ compiler('c') }}`)."""
    return _loaded_names(jinja.sandbox("conda-v0").environment.parse(source))


def _loaded_names(tree: nodes.Template) -> frozenset[str]:
    return frozenset(node.name for node in tree.find_all(nodes.Name) if node.ctx == "load")


def _is_variable(tokens: list[tuple[str, str]]) -> bool:
    """`{{ name }}`: one name, not a literal (`true`, `None`) nor an operator (`not`, `in`)."""
    return len(tokens) == 1 and tokens[0][0] == "name" and _plain_name(tokens[0][1])


def _plain_name(name: str) -> bool:
    return (
        bool(_NAME.fullmatch(name))
        and not keyword.iskeyword(name)
        and name.lower() not in _CONSTANTS
    )


def _literal_set(tokens: list[tuple[str, str]]) -> tuple[str, str | int] | None:
    """`set name = "text"` or `set name = 12`, as Jinja's lexer reads them."""
    if len(tokens) != 4 or tokens[0] != ("name", "set") or tokens[2] != ("operator", "="):
        return None
    (kind, name), (literal, written) = tokens[1], tokens[3]
    if kind != "name" or not _plain_name(name):
        return None
    if literal == "string" and written[:1] in ("'", '"') and "\\" not in written:
        return name, written[1:-1]  # no escapes: the text between the quotes
    if literal == "integer" and _DECIMAL.fullmatch(written):
        return name, int(written)
    return None
