"""Recipe text as lines: split keeping each line's ending, find YAML blocks and values by eye.

The rewrite edits text, never re-dumps YAML, so it needs to know where things are written:
which lines belong to the top-level `source:` block, where the value of `version:` starts and
ends on its line, which quote it uses. These helpers read YAML the way a person skims it
(indentation, `key:` prefixes), which is enough for recipes and is checked afterwards by
re-reading the edited text with the real parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Line breaks YAML honours but `str.split("\n")` does not; they would make our line numbers
# disagree with the YAML parser's, so such files are refused rather than mis-edited.
_ODD_BREAKS = re.compile("\r(?!\n)|[\x85\u2028\u2029]")

# conda-build selectors: a trailing comment ending in `[expr]`, e.g. `url: ...  # [win]`.
_SELECTOR = re.compile(r"^(?P<content>.*?)(?:^|\s+)#[^#\[\]]*\[(?P<selector>[^\[\]]+)\]\s*$")

_KEY = re.compile(r"^(?P<lead>[ \t]*(?:-[ \t]+)?)(?P<key>[A-Za-z_][\w.-]*)[ \t]*:(?=[ \t]|$)[ \t]*")
_ITEM = re.compile(r"^(?P<lead>[ \t]*-[ \t]+)")


@dataclass(frozen=True)
class Line:
    content: str
    ending: str  # "\n", "\r\n" or "" for a last line without a newline


def split(text: str) -> list[Line]:
    """Split text into lines, each keeping its own ending, so CRLF files stay CRLF."""
    match = _ODD_BREAKS.search(text)
    if match:
        number = text.count("\n", 0, match.start()) + 1
        raise ValueError(f"unsupported line break character {match.group()!r} on line {number}")
    lines = []
    for piece in text.split("\n"):
        if piece.endswith("\r"):
            lines.append(Line(piece[:-1], "\r\n"))
        else:
            lines.append(Line(piece, "\n"))
    last = lines.pop()  # the text after the final "\n" (usually empty)
    if last.content:
        lines.append(Line(last.content, ""))
    return lines


def join(lines: list[Line]) -> str:
    return "".join(line.content + line.ending for line in lines)


def normalized(lines: list[Line]) -> str:
    """The text with "\n" endings, line for line, as the parsers read it."""
    return "".join(line.content + ("\n" if line.ending else "") for line in lines)


def normalized_text(text: str) -> str:
    """`normalized(split(text))`, and the same errors, without making a Line of each line
    when every line already ends in "\n" (most recipes: the text is its own normal form)."""
    if "\r" in text or _ODD_BREAKS.search(text):
        return normalized(split(text))
    return text


def contents(text: str) -> list[str]:
    """Normalized text split into line contents (index = 0-based line number)."""
    return text.split("\n")


def split_selector(content: str) -> tuple[str, str | None]:
    """`url: x  # [win]` -> (`url: x`, `win`); lines without a selector come back unchanged."""
    if "#" not in content:
        return content, None  # most lines: the regex would try every position to find none
    match = _SELECTOR.match(content)
    if not match or not match.group("content").strip():
        return content, None
    return match.group("content"), match.group("selector").strip()


def _indent(content: str) -> int:
    return len(content) - len(content.lstrip(" \t"))


def _is_structure(content: str) -> bool:
    """Whether a line can end a block: comments, blanks and Jinja statements cannot."""
    stripped = content.strip()
    return bool(stripped) and not stripped.startswith(("#", "{%", "{#"))


def block_ranges(lines: list[str], key: str) -> list[range]:
    """Line ranges (after the key line) of each top-level `key:` block with nested content."""
    head = re.compile(rf"^{re.escape(key)}[ \t]*:[ \t]*(?:#.*)?$")
    ranges = []
    for start, content in enumerate(lines):
        if not head.match(content):
            continue
        end = start + 1
        while end < len(lines) and not (_is_structure(lines[end]) and _indent(lines[end]) == 0):
            end += 1
        ranges.append(range(start + 1, end))
    return ranges


def block_children(lines: list[str], block: str, key: str) -> list[int]:
    """Indexes of the `key:` lines directly under each top-level `block:` (all selectors)."""
    found = []
    for span in block_ranges(lines, block):
        child_indent = None
        for index in span:
            content = lines[index]
            if not _is_structure(content):
                continue
            if child_indent is None:
                child_indent = _indent(content)
            match = _KEY.match(content)
            if (
                match
                and _indent(content) == child_indent
                and "-" not in match.group("lead")
                and match.group("key") == key
            ):
                found.append(index)
    return found


@dataclass(frozen=True)
class Value:
    """Where a scalar value sits on its line: content[start:end] is the text inside any quotes."""

    line: int
    start: int
    end: int
    quote: str  # "", "'" or '"'
    key: str | None  # None for a list item (`- value`)

    def text(self, lines: list[str]) -> str:
        return lines[self.line][self.start : self.end]


def value_of(lines: list[str], index: int) -> Value | None:
    """The scalar of a `key: value` or `- value` line, or None for anything else."""
    content = split_selector(lines[index])[0]
    match = _KEY.match(content)
    key: str | None
    if match:
        key = match.group("key")
    else:
        match = _ITEM.match(content)
        key = None
        if not match:
            return None
    start = match.end()
    rest = content[start:]
    if not rest.strip():
        return None
    if rest[0] in "'\"":
        quote = rest[0]
        close = _closing_quote(rest, quote)
        if close is None:
            return None  # a quoted scalar that continues on the next line: not ours to edit
        return Value(index, start + 1, start + close, quote, key)
    comment = re.search(r"[ \t]+#", rest)
    plain = rest[: comment.start()] if comment else rest
    return Value(index, start, start + len(plain.rstrip()), "", key)


def _closing_quote(text: str, quote: str) -> int | None:
    position = 1
    while position < len(text):
        char = text[position]
        if quote == '"' and char == "\\":
            position += 2
            continue
        if char == quote:
            if quote == "'" and text[position + 1 : position + 2] == "'":
                position += 2  # '' is an escaped quote inside single quotes
                continue
            return position
        position += 1
    return None


def replace(lines: list[str], value: Value, new: str) -> None:
    """Replace the text of `value` on its line in place, keeping quotes and comments."""
    content = lines[value.line]
    lines[value.line] = content[: value.start] + new + content[value.end :]
