"""Versions out of names: git tags, file names, directory names. Shared by the checkers.

Upstreams spell one version many ways (`v1.2.3`, `release-1_2_3`, `curl-8_5_0`, `R_4_3_1`,
`readline-8.0.tar.gz`); these helpers turn each into the plain `1.2.3` the recipe carries, or
None when a name holds no version. Which version is newest is not decided here (bot.versions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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


def version_from_tag(tag: str, pattern: re.Pattern[str] | None = None) -> str | None:
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
    return _DIGIT_UNDERSCORE.sub(".", raw)


def match_version(pattern: re.Pattern[str], *names: str) -> str | None:
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
