"""pip constraints files: read the `name==1.2.3` pins, move one, render the YAML copy.

Lines are parsed with `packaging.requirements.Requirement` after pip's own comment rule (`#`
at the start of a line or after whitespace). Option lines (`-c other.txt`, `-r`, `--index-url`)
and requirements that are not a single `==` pin (`foo>=1`, `foo==1.*`, `foo @ https://...`) are
not pins: the bot leaves them alone.

A name pinned on several lines (say, under different markers) is one recipe when every pin has
the same version, and all of them move together. Pins of one name with different versions are
listed separately, and the rewrite refuses them: which of them should move is a human decision.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from bot.errors import RewriteRefused
from bot.formats import lines
from bot.formats.base import FormatError

_COMMENT = re.compile(r"(^|\s+)#.*$")
_PIN_VERSION = re.compile(r"==\s*(?P<version>[^\s,;\\]+)")


@dataclass(frozen=True)
class Constraint:
    """One requirement line: the parsed requirement, and where its `==` version sits."""

    line: int  # 0-based
    requirement: Requirement
    version: str | None  # the pinned version, None when the line is not a single `==` pin
    start: int = 0  # content[start:end] is the pinned version
    end: int = 0
    hashed: bool = False  # carries `--hash` options, which a new version would invalidate

    @property
    def key(self) -> str:
        return canonicalize_name(self.requirement.name)


def parse(text: str) -> list[Constraint]:
    """Every requirement line; FormatError names the first line pip could not parse either."""
    found = []
    for index, content in enumerate(lines.contents(text)):
        body = _COMMENT.sub("", content).strip()
        if not body or body.startswith("-"):
            continue
        start = content.index(body)
        # pip's per-requirement options (`--hash=...`) follow the requirement, after a space.
        options = re.search(r"\s-", body)
        spec = body[: options.start()] if options else body
        try:
            requirement = Requirement(spec)
        except InvalidRequirement as error:
            raise FormatError(f"line {index + 1}: invalid requirement {spec!r}: {error}") from None
        found.append(_with_pin(index, content, start, spec, requirement, "--hash" in body))
    return found


def _with_pin(
    index: int, content: str, start: int, spec: str, requirement: Requirement, hashed: bool
) -> Constraint:
    specifiers = list(requirement.specifier)
    pinned = (
        requirement.url is None
        and len(specifiers) == 1
        and specifiers[0].operator == "=="
        and not specifiers[0].version.endswith("*")
    )
    # Look for the pin in the requirement itself, before any `; marker`.
    head = content[: start + len(spec.split(";", 1)[0])]
    matches = list(_PIN_VERSION.finditer(head, start))
    if not pinned or len(matches) != 1:
        return Constraint(index, requirement, None, hashed=hashed)
    match = matches[0]
    return Constraint(
        index,
        requirement,
        match.group("version"),
        match.start("version"),
        match.end("version"),
        hashed,
    )


def pins(text: str) -> list[tuple[str, str]]:
    """(name as written, version) of each pinned name, once per distinct version, file order."""
    seen: list[tuple[str, str]] = []
    keys: set[tuple[str, str]] = set()
    for requirement in parse(text):
        if requirement.version is None:
            continue
        if (requirement.key, requirement.version) not in keys:
            keys.add((requirement.key, requirement.version))
            seen.append((requirement.requirement.name, requirement.version))
    return seen


def rewrite(text: str, version: str, name: str | None) -> str:
    """Move the `==` pin(s) of `name` to `version`, changing nothing else on any line."""
    if not name:
        raise RewriteRefused("a constraints file needs the name of the pin to move")
    try:
        original = lines.split(text)
        requirements = parse(lines.normalized(original))
    except (ValueError, FormatError) as error:
        raise RewriteRefused(f"cannot read the constraints file: {error}") from None
    key = canonicalize_name(name)
    mine = [requirement for requirement in requirements if requirement.key == key]
    if not mine:
        raise RewriteRefused(f"{name} is not in the constraints file")
    unpinned = [requirement for requirement in mine if requirement.version is None]
    if unpinned:
        raise RewriteRefused(f"{name} is not pinned with == on line {unpinned[0].line + 1}")
    hashed = [requirement for requirement in mine if requirement.hashed]
    if hashed:
        raise RewriteRefused(f"the pin of {name} on line {hashed[0].line + 1} has --hash options")
    versions = sorted({requirement.version or "" for requirement in mine})
    if len(versions) > 1:
        raise RewriteRefused(
            f"{name} is pinned {len(mine)} times with different versions ({', '.join(versions)})"
        )
    if versions[0] == version:
        raise RewriteRefused(f"already at {version}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+!-]*", version):
        raise RewriteRefused(f"{version!r} is not a version that can be written into a pin")
    edited = list(original)
    for requirement in mine:
        content = edited[requirement.line].content
        new = content[: requirement.start] + version + content[requirement.end :]
        edited[requirement.line] = lines.Line(new, edited[requirement.line].ending)
    result = lines.join(edited)
    _verify(requirements, parse(lines.normalized(edited)), key, version)
    return result


def _verify(
    before: Sequence[Constraint], after: Sequence[Constraint], key: str, version: str
) -> None:
    if len(before) != len(after):
        raise RewriteRefused("the number of requirements changed")
    for old, new in zip(before, after, strict=True):
        expected = version if old.key == key else old.version
        if (
            new.key != old.key
            or new.version != expected
            or new.requirement.marker != old.requirement.marker
        ):
            raise RewriteRefused(f"line {old.line + 1} does not read back as intended")


def render_yaml(text: str, source_name: str = "constraints.txt") -> str:
    """The YAML copy of a constraints file: every requirement, in file order, deterministic."""
    out = [
        f"# Generated by recipe-bot from {source_name}: edit that file, not this one.",
        "constraints:",
    ]
    for requirement in parse(text):
        parsed = requirement.requirement
        out.append(f"  - name: {_quote(parsed.name)}")
        if requirement.version is not None:
            out.append(f"    version: {_quote(requirement.version)}")
        if parsed.specifier:
            out.append(f"    specifier: {_quote(str(parsed.specifier))}")
        if parsed.url:
            out.append(f"    url: {_quote(parsed.url)}")
        if parsed.extras:
            out.append(
                f"    extras: [{', '.join(_quote(extra) for extra in sorted(parsed.extras))}]"
            )
        if parsed.marker is not None:
            out.append(f"    marker: {_quote(str(parsed.marker))}")
    if out[-1] == "constraints:":
        out[-1] = "constraints: []"
    return "\n".join(out) + "\n"


def _quote(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: no YAML type guessing, ever.
    return json.dumps(value)
