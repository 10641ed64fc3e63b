"""The line edits of an update, for both conda dialects: version, build number, literal URLs.

Each edit finds the one place a thing is written and changes only the value on that line,
keeping quotes, comments and selectors. Where a thing is written in more than one place, or by
an expression, the edit refuses: guessing which copy counts is how recipes get broken.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import RewriteRefused
from bot.formats import conda_v0, conda_v1, jinja, lines, urls
from bot.formats.base import Parsed

# Keys in a source entry whose value may hold the version.
_URL_KEYS = frozenset({"url", "fn", "file_name", "git_rev", "git_tag", "tag", "rev"})
_LITERAL = re.compile(r"\d[\w.+!-]*")


@dataclass(frozen=True)
class Dialect:
    """What the rewrite needs to know about a recipe format."""

    name: jinja.Dialect
    parse: Callable[..., Parsed]  # (text, variants=None, *, configurations=None)
    # Where a template variable is set: `{% set name = ... %}` or `context: name: ...`.
    definitions: Callable[[list[str], str], list[lines.Value]]
    package_blocks: tuple[str, ...]  # top-level blocks that hold `version:`
    reference: re.Pattern[str]  # a value that is just one variable, e.g. `{{ version }}`
    version_reference: re.Pattern[str]  # the version variable anywhere in a value

    def names_in(self, written: str, *, expression: bool = False) -> set[str]:
        """The variables a value's `{{ }}` (or, with `expression`, a bare expression) reads."""
        return jinja.names_in(self.name, written if not expression else self.wrap(written))

    def wrap(self, expression: str) -> str:
        opening = "${{" if self.name == "conda-v1" else "{{"
        if expression.lstrip().startswith(opening):
            return expression
        return f"{opening} {expression} }}}}"

    def is_literal(self, value: lines.Value, written: str) -> bool:
        if urls.TEMPLATE.search(written):
            return False
        return bool(value.quote) or bool(_LITERAL.fullmatch(written))


CONDA_V0 = Dialect(
    name="conda-v0",
    parse=conda_v0.parse,
    definitions=conda_v0.definitions,
    package_blocks=("package",),
    reference=re.compile(r"(?<!\$)\{\{\s*(?P<name>\w+)\s*\}\}"),
    version_reference=re.compile(r"(?<!\$)\{\{\s*version\s*\}\}"),
)

CONDA_V1 = Dialect(
    name="conda-v1",
    parse=conda_v1.parse,
    definitions=conda_v1.definitions,
    package_blocks=("package", "recipe"),
    reference=re.compile(r"\$\{\{\s*(?P<name>\w+)\s*\}\}"),
    version_reference=re.compile(r"\$\{\{\s*version\s*\}\}"),
)


def set_version(text_lines: list[str], dialect: Dialect, old: str, new: str) -> None:
    """Write `new` where the version is set: a variable, or the literal under `package:`.

    A package version derived from a variable (`{{ version|replace("-", "_") }}`, or
    `{{ safe_version }}` with `{% set safe_version = version|replace("-", ".") %}`) is not a
    second place the version is set: the derivation is followed to the literal it starts from.
    """
    places: dict[int, lines.Value] = {}
    computed: list[int] = []
    direct: set[int] = set()  # the `version` variable's definitions and a literal package version
    for value in dialect.definitions(text_lines, "version"):
        places.setdefault(value.line, value)
        direct.add(value.line)
    for block in dialect.package_blocks:
        for index in lines.block_children(text_lines, block, "version"):
            written_at = lines.value_of(text_lines, index)
            if written_at is None:
                raise RewriteRefused(f"cannot read the version on line {index + 1}")
            written = written_at.text(text_lines).strip()
            # The whole value, quotes included: `"{{ version|replace("-", "_") }}"` has quotes
            # inside, which end the quoted scalar early for a reader that does not know Jinja.
            whole = lines.split_selector(text_lines[index])[0].split(":", 1)[1].strip()
            if "{{" in whole:
                names = dialect.names_in(whole.strip("'\"")) or dialect.names_in(written)
                _follow(text_lines, dialect, names, places, computed, set())
            else:
                places.setdefault(written_at.line, written_at)
                direct.add(written_at.line)
    # `{{ version }}{{ dev }}` with `{% set dev = "" %}`: of the literals the package version is
    # made of, the one that reads as the recipe's version is where it is set.
    followed = [value for line, value in places.items() if line not in direct]
    holding = [value for value in places.values() if value.text(text_lines) == old]
    if followed and len(holding) == 1 and len(places) > 1:
        places = {holding[0].line: holding[0]}
    if not places:
        if computed:
            raise RewriteRefused(f"version is computed by an expression on line {computed[0] + 1}")
        raise RewriteRefused("cannot find where the version is set")
    if len(places) > 1:
        where = ", ".join(str(line + 1) for line in sorted(places))
        raise RewriteRefused(f"version is set in {len(places)} places (lines {where})")
    (value,) = places.values()
    written = value.text(text_lines)
    if not dialect.is_literal(value, written):
        raise RewriteRefused(f"version is computed by an expression on line {value.line + 1}")
    if written != old:
        raise RewriteRefused(
            f"the version written on line {value.line + 1} ({written}) is not the recipe's ({old})"
        )
    lines.replace(text_lines, value, new)


def _follow(
    text_lines: list[str],
    dialect: Dialect,
    names: set[str],
    places: dict[int, lines.Value],
    computed: list[int],
    seen: set[str],
) -> None:
    """The literal definitions the variables `names` come from, through derived variables."""
    for name in sorted(names - seen):
        seen.add(name)
        for definition in dialect.definitions(text_lines, name):
            written = definition.text(text_lines)
            if dialect.is_literal(definition, written):
                places.setdefault(definition.line, definition)
                continue
            before = len(places)
            _follow(text_lines, dialect, dialect.names_in(written, expression=True), places,
                    computed, seen)  # fmt: skip
            if len(places) == before:
                computed.append(definition.line)  # derived from nothing the recipe sets


def reset_build_number(text_lines: list[str], dialect: Dialect) -> None:
    """Set the top-level `build: number:` (or the variable it uses) to 0."""
    for index in lines.block_children(text_lines, "build", "number"):
        value = lines.value_of(text_lines, index)
        if value is None:
            continue
        reference = dialect.reference.fullmatch(value.text(text_lines).strip())
        targets = dialect.definitions(text_lines, reference.group("name")) if reference else [value]
        for target in targets:
            written = target.text(text_lines)
            # An expression (`{{ build|int + 1 }}`) is left alone: a stale build number is
            # harmless, a mangled one is not.
            if written.isdigit() and written != "0":
                lines.replace(text_lines, target, "0")


def substitute_urls(text_lines: list[str], old: str, new: str) -> None:
    """Replace the old version by the new in the literal parts of the source block's URLs."""
    for span in lines.block_ranges(text_lines, "source"):
        for index in span:
            value = lines.value_of(text_lines, index)
            if value is None:
                continue
            written = value.text(text_lines)
            if value.key in _URL_KEYS or (value.key is None and "://" in written):
                changed = urls.substitute(written, old, new)
                if changed != written:
                    lines.replace(text_lines, value, changed)
