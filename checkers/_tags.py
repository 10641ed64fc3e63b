"""Versions out of names: git tags, file names, directory names. Shared by the checkers.

Upstreams spell one version many ways (`v1.2.3`, `release-1_2_3`, `curl-8_5_0`, `R_4_3_1`,
`readline-8.0.tar.gz`); these helpers turn each into the plain `1.2.3` the recipe carries, or
None when a name holds no version. Which version is newest is not decided here (bot.versions).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from bot.model import Release

# A version inside a file name: dotted (or underscored) numbers, an optional single letter
# (OpenSSL's 1.1.1w) and pre/post-release parts (3.13.0a2, 9.6p1, 2.0.0-beta.1). Deliberately
# not "anything up to the extension", so `readline-8.0-patches.tar.gz` is not version
# "8.0-patches". CRAN numbers its releases `1.0-15` (a dotted version, `-`, a number): that
# `-15` is part of the version, or every CRAN recipe would look up to date forever.
VERSION = (
    r"\d+(?:[._]\d+)*(?:[a-z](?![A-Za-z0-9]))?"
    r"(?:(?:(?<=\.\d)|(?<=\.\d\d)|(?<=\.\d\d\d))-\d+(?!\.?\d))?"
    r"(?:[-_.~+]?(?:alpha|beta|pre|rc|dev|post|a|b|c|p)\.?\d+)*"
)
_VERSION_AT_START = re.compile(rf"[vV]?(?P<version>{VERSION})")
VERSION_GROUP = f"(?P<version>{VERSION})"
_VERSION_ONLY = re.compile(VERSION_GROUP)

ARCHIVE_EXTENSIONS = (
    ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tar.lz", ".tar.lzma", ".tar.Z", ".tar",
    ".tgz", ".tbz2", ".tbz", ".txz", ".tzst", ".zip", ".7z", ".gz", ".bz2", ".xz", ".zst",
    ".jar", ".whl", ".gem", ".crate", ".rpm", ".deb", ".dmg", ".msi", ".exe", ".AppImage",
)  # fmt: skip

# `<prefix>-`, `<prefix>_`, `<prefix>/` before the version: a project name (`curl-`,
# `pcre2-`), `release-`, `R_`. Lazy, so `pcre2-10.42` keeps `pcre2` whole.
_TAG_PREFIX = re.compile(r"^[A-Za-z][\w.+-]*?[-_/][vV]?(?=\d)")
# Go spells its tags `go1.21.0`: letters glued to a dotted version.
_GLUED_PREFIX = re.compile(r"^[A-Za-z]+(?=\d+\.\d)")
_TAG_VERSION = re.compile(r"\d[0-9A-Za-z._+~-]*")
_DIGIT_UNDERSCORE = re.compile(r"(?<=\d)_(?=\d)")
_VERSIONISH_DIR = re.compile(r"v?\d+(?:\.(?:\d+|x))*", re.IGNORECASE)


class NamePattern(Protocol):
    """What a version pattern option holds: a compiled regex, or an `AffixPattern` like one."""

    @property
    def pattern(self) -> str: ...
    @property
    def groupindex(self) -> Mapping[str, int]: ...
    def fullmatch(self, string: str) -> re.Match[str] | None: ...


class AffixPattern:
    """`literal(?P<version>VERSION)literal`, matched without compiling a regex of its own.

    Every detected listing pattern has this shape, and every recipe has its own: thousands of
    patterns overflow `re`'s cache, and compiling one (VERSION is long) cost a tenth of a cold
    sweep's CPU. This matches the same names with the one shared VERSION regex, bounded to
    the part between the literals. It is exact because the literals fix where the version
    starts and ends; lookbehinds see the prefix as in the whole regex (`pos` does not hide
    it), and `for_pattern` refuses a suffix that VERSION's lookaheads would see differently.
    Anything but `fullmatch` goes to the real regex, compiled on first use.
    """

    __slots__ = ("_head", "_tail", "pattern")
    groupindex: Mapping[str, int] = _VERSION_ONLY.groupindex

    def __init__(self, pattern: str, head: str, tail: str) -> None:
        self.pattern, self._head, self._tail = pattern, head, tail

    @classmethod
    def for_pattern(cls, pattern: str) -> AffixPattern | None:
        """The affix form of `pattern`, or None when it is any other regex."""
        return _affix_form(pattern)

    @classmethod
    def _parse(cls, pattern: str) -> AffixPattern | None:
        escaped_head, group, escaped_tail = pattern.partition(VERSION_GROUP)
        if not group or VERSION_GROUP in escaped_tail:
            return None
        head, tail = _literal(escaped_head), _literal(escaped_tail)
        if head is None or tail is None or not _lookaheads_agree(tail):
            return None
        return cls(pattern, head, tail)

    def fullmatch(self, string: str) -> re.Match[str] | None:
        head, tail = self._head, self._tail
        end = len(string) - len(tail)
        if end <= len(head) or not string.startswith(head) or not string.endswith(tail):
            return None
        return _VERSION_ONLY.fullmatch(string, len(head), end)

    def __getattr__(self, name: str) -> Any:  # search, finditer, flags...: the regex itself
        if name.startswith("_"):  # copy and pickle probe these: they get this object, not re's
            raise AttributeError(name)
        return getattr(_compiled(self.pattern), name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AffixPattern) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"AffixPattern({self.pattern!r})"


@functools.lru_cache(maxsize=16_384)
def _affix_form(pattern: str) -> AffixPattern | None:
    # One recipe's pattern is read three times a check (detection, the options' check, the
    # checker); an AffixPattern never changes, so the three may share one.
    return AffixPattern._parse(pattern)


def _literal(escaped: str) -> str | None:
    """The text `escaped` matches when it is `re.escape` of some text, else None."""
    text = re.sub(r"\\(.)", r"\1", escaped, flags=re.DOTALL)
    return text if re.escape(text) == escaped else None


def _lookaheads_agree(tail: str) -> bool:
    # VERSION ends with lookaheads: `(?![A-Za-z0-9])` after a letter, `(?!\.?\d)` after a CRAN
    # `-N`. The whole regex lets them see the suffix; a bounded match sees the end of the
    # string. Both say the same unless the suffix starts with an ASCII letter, a digit or
    # `.<digit>` (`\d` is any Unicode digit).
    return not (tail[:1].isascii() and tail[:1].isalnum()) and not _DIGIT_NEXT.match(tail)


_DIGIT_NEXT = re.compile(r"\.?\d")


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def version_from_tag(tag: str, pattern: NamePattern | None = None) -> str | None:
    """The version a git tag names, or None (`latest`, `nightly`, a pattern that does not match)."""
    tag = tag.strip().removeprefix("refs/tags/")
    if pattern is not None:
        return match_version(pattern, tag)
    if tag[:1] in ("v", "V") and tag[1:2].isdigit():
        rest = tag[1:]
    elif tag[:1].isdigit():
        rest = tag
    elif match := _TAG_PREFIX.match(tag) or _GLUED_PREFIX.match(tag):
        rest = tag[match.end() :]
    else:
        return None
    return clean_version(rest) if _TAG_VERSION.fullmatch(rest) else None


def clean_version(raw: str) -> str:
    """`1_2_3` -> `1.2.3`: underscores between digits are a spelling of dots (boost, R, curl)."""
    return _DIGIT_UNDERSCORE.sub(".", raw) if "_" in raw else raw


def match_version(pattern: NamePattern, *names: str) -> str | None:
    """The `version` group of the first name the pattern matches whole, cleaned; else None."""
    for name in names:
        if name and (match := pattern.fullmatch(name)) and match["version"]:
            return clean_version(match["version"])
    return None


def split_archive(filename: str) -> tuple[str, str] | None:
    """`readline-8.0.tar.gz` -> (`readline-8.0`, `.tar.gz`); None when it is no archive."""
    for extension in ARCHIVE_EXTENSIONS:  # longest first where they overlap (.tar.gz, .gz)
        if filename.endswith(extension) and len(filename) > len(extension):
            return filename[: -len(extension)], extension
    return None


def find_version(stem: str) -> re.Match[str] | None:
    """Where the version sits in a file name without extension, or None.

    The first run of digits that starts the name or follows a separator (`-`, `_`, `.`), or
    follows letters and has a dot: `bzip2-1.0.8` is 1.0.8 (not 2), `tcl8.6.13-src` is 8.6.13.
    """
    for start, char in enumerate(stem):
        before = stem[start - 1] if start else "-"
        if before.isdigit() or not (char.isdigit() or (char in "vV" and before in "-_.")):
            continue
        match = _VERSION_AT_START.match(stem, start)
        if match is None or not _ends_cleanly(stem, match.end()):
            continue
        if before in "-_." or "." in match["version"]:
            return match
    return None


def _ends_cleanly(stem: str, end: int) -> bool:
    # A version runs up to the end of the name or a separator: `x86_64` and `2to3` are no
    # versions, and `1.2.3-src` keeps `-src` as a literal tail.
    return end == len(stem) or stem[end] in "-_.+~"


def looks_like_version_dir(name: str) -> bool:
    """`2.80`, `3.12.1`, `v6.x`: a directory that holds one release series."""
    return bool(_VERSIONISH_DIR.fullmatch(name.strip("/")))


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """A loose natural-order key (numbers compare as numbers), for picking newest directories."""
    parts = re.findall(r"\d+|[A-Za-z]+", version)
    return tuple((1, int(part)) if part.isdigit() else (0, part.lower()) for part in parts)


def dedupe(releases: Iterable[Release]) -> list[Release]:
    """One release per version, the first seen (callers yield the best source first)."""
    seen: dict[str, Release] = {}
    for release in releases:
        seen.setdefault(release.version, release)
    return list(seen.values())
