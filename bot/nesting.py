"""A bound on how deeply a YAML text nests, checked before any YAML parser sees it.

Recipes and config files come from anyone who can open a merge request. ruamel's C parser
crashes the process (a segmentation fault, nothing to catch) on 50,000 nested `[`, and the
Python composer recurses once per level; either would take every other recipe down with it.
"""

from __future__ import annotations

import functools
import re


class TooDeep(ValueError):
    """The text nests deeper than the bound; the message names the line."""


MAX_NESTING = 100  # recipes nest a handful of levels; 50,000 `[` crash the C parser outright


def check_nesting(text: str, limit: int = MAX_NESTING) -> None:
    """TooDeep when `text` nests collections deeper than `limit`.

    Counted: flow brackets outside quotes and comments, and block nesting (the stack of
    indents, as YAML reads them, plus the `- ` that open sequences on one line).
    """
    if text.count("[") + text.count("{") > limit:
        depth = 0
        for line_number, line in enumerate(text.split("\n"), start=1):
            for char in _QUOTED_OR_COMMENT.sub("", line):
                if char in "[{":
                    depth += 1
                    if depth > limit:
                        raise TooDeep(_message(limit, line_number))
                elif char in "]}":
                    depth = max(depth - 1, 0)
    if not _deep_indent(" -", limit).search(text):
        return  # shallow: see _deep_indent
    indents: list[int] = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        stripped = line.lstrip(" -")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        while indents and indents[-1] >= indent:
            indents.pop()
        indents.append(indent)
        # `- - - x` opens one sequence per dash on a single line.
        if len(indents) + line[:indent].count("-") > limit:
            raise TooDeep(_message(limit, line_number))


def _message(limit: int, line_number: int) -> str:
    return f"YAML nested more than {limit} levels deep at line {line_number}"


_QUOTED_OR_COMMENT = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"|(?:^|\s)#.*$")


def safe_for_c_parser(text: str, limit: int = MAX_NESTING) -> bool:
    """Whether the C parser may see `text`: depth counted without any YAML lexing at all.

    `check_nesting` reads quotes and comments the way YAML mostly does, and a plain scalar with
    an apostrophe (`[it's, [[[...`) can hide brackets from it. The C parser must never see
    such a text (it would crash the process), so it gets only texts whose every bracket,
    `- ` and `? ` counted blindly stays under the limit; the others go to the pure parser,
    whose recursion ends in a RecursionError that is caught.
    """
    if len(text) > C_PARSER_MAX_CHARS or _OTHER_BREAKS.search(text):
        return False  # too long to vouch for, or line breaks the count below does not see
    depth = 0
    opened = text.count("[") + text.count("{")
    for char in text if opened > limit else "":  # fewer brackets than the limit: shallow
        if char in "[{":
            depth += 1
            if depth > limit:
                return False
        elif char in "]}":
            depth = max(depth - 1, 0)
    if not _deep_indent(" -?:\t", limit).search(text):
        return True  # shallow: see _deep_indent
    indents: list[int] = []
    for line in text.split("\n"):
        stripped = line.lstrip(" -?:\t")
        if not stripped:
            continue
        indent = len(line) - len(stripped)
        while indents and indents[-1] >= indent:
            indents.pop()
        indents.append(indent)
        prefix = line[:indent]
        if len(indents) + sum(prefix.count(mark) for mark in "-?:") > limit:
            return False
    return True


@functools.cache
def _deep_indent(marks: str, limit: int) -> re.Pattern[str]:
    """A line whose indent (its leading `marks`) is at least half the limit.

    Without one, the block nesting counted below stays within the limit, so the count is not
    needed: the indents on its stack all differ and are under half the limit, so there are
    fewer than half the limit of them, and the marks within an indent are fewer still.
    """
    return re.compile(f"^[{re.escape(marks)}]{{{(limit + 1) // 2}}}", re.MULTILINE)


# The C parser has been seen to crash at 50,000 levels and not at 16,000: no text shorter than
# this can nest that deep, whatever the count above misses. Longer recipes are rare; they are
# read by the pure parser, about seven times slower.
C_PARSER_MAX_CHARS = 16_384
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")
