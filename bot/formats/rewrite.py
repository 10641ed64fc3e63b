"""Rewriting a conda recipe (meta.yaml or recipe.yaml) for a new version, surgically.

    read the text                       -> Parsed (old)
    edit the version, build number and literal URLs (bot.formats.edits)
    read again                          -> every URL moved, same number of sources
    hash each new URL; on failure try other forms of its line (`.tar.xz`, `v` tag)
    replace each old hash where it is written (a `sha256:` line, a `{% set %}`, a context var)
    read again and verify               -> version, URLs, hashes are what we meant

Like bioconda's autobump: edit lines, refuse what cannot be edited safely, verify by
re-reading. Nothing here touches the network: `sha256_of` is the caller's.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.errors import RewriteRefused
from bot.formats import edits, lines, urls
from bot.formats.base import FormatError, Parsed, SourceSite
from bot.formats.edits import Dialect

Sha256Of = Callable[[str], str]

# What we are willing to write into a recipe as a version.
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+!-]*")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_DIGEST_LENGTHS = {"sha256": 64, "sha1": 40, "md5": 32}
_CHECKSUM_KEY = re.compile(r"^(?P<lead>[ \t]*(?:-[ \t]+)?)(?P<key>md5|sha1)(?=[ \t]*:)")


def rewrite_conda(text: str, version: str, sha256_of: Sha256Of, dialect: Dialect) -> str:
    """The recipe text moved to `version`; RewriteRefused when it cannot be done safely."""
    try:
        original = lines.split(text)
    except ValueError as error:
        raise RewriteRefused(str(error)) from None
    text_lines = [line.content for line in original]
    old = _parse(dialect, text_lines, "cannot read the recipe")
    check_request(old.version, version)
    for site in old.sources:
        _check_versioned(site, old.version, text_lines)
        _check_digests(site)

    edits.set_version(text_lines, dialect, old.version, version)
    edits.reset_build_number(text_lines, dialect)
    edits.substitute_urls(text_lines, old.version, version)
    moved = _parse(dialect, text_lines, "the edited recipe cannot be read")
    _check_moved(old, moved, version)

    digests = _hash_sources(dialect, text_lines, old, moved, version, _Hasher(sha256_of))
    removed = _write_hashes(text_lines, old, digests)
    kept = [
        lines.Line(content, line.ending)
        for index, (content, line) in enumerate(zip(text_lines, original, strict=True))
        if index not in removed
    ]
    final = _parse(dialect, [line.content for line in kept], "the rewritten recipe cannot be read")
    _verify(old, final, version, digests)
    return lines.join(kept)


def check_request(current: str, version: str) -> None:
    if not _VERSION.fullmatch(version):
        raise RewriteRefused(f"{version!r} is not a version that can be written into a recipe")
    if version == current:
        raise RewriteRefused(f"already at {version}")


def _parse(dialect: Dialect, text_lines: list[str], what: str) -> Parsed:
    try:
        return dialect.parse("\n".join(text_lines))
    except FormatError as error:
        raise RewriteRefused(f"{what}: {error}") from None


def _check_versioned(site: SourceSite, version: str, text_lines: list[str]) -> None:
    if site.git:
        if not site.rev or not urls.contains_version(site.rev, version):
            raise RewriteRefused(f"git source {site.url} has no version in its tag or rev")
        return
    if urls.contains_version(site.url, version):
        return
    # A templated URL may hold the version in a derived form (`{{ version|replace('.', '') }}`);
    # the check after the edit (did the URL move?) judges those.
    line = text_lines[site.url_line] if site.url_line is not None else ""
    if not urls.TEMPLATE.search(line):
        raise RewriteRefused(f"URL has no version in it: {site.url}")


def _check_digests(site: SourceSite) -> None:
    # Old checksums are found in the text by their value: it must be a real digest, not `TODO`.
    for kind, value in site.checksums:
        if not re.fullmatch(rf"[0-9a-fA-F]{{{_DIGEST_LENGTHS[kind]}}}", value):
            raise RewriteRefused(f"the {kind} of {site.url} is not a hex digest: {value!r}")


def _check_moved(old: Parsed, moved: Parsed, version: str) -> None:
    if moved.version != version:
        raise RewriteRefused(f"after the edit the version reads {moved.version}, not {version}")
    if len(moved.sources) != len(old.sources):
        raise RewriteRefused(
            f"the number of sources changed ({len(old.sources)} -> {len(moved.sources)})"
        )
    for before, after in zip(old.sources, moved.sources, strict=True):
        if before.git and after.rev == before.rev:
            raise RewriteRefused(f"git revision did not change: {before.rev}")
        if not before.git and after.url == before.url:
            raise RewriteRefused(f"source URL did not change: {before.url}")


class _Hasher:
    """Calls `sha256_of` at most once per URL and remembers why a URL failed."""

    def __init__(self, sha256_of: Sha256Of) -> None:
        self._sha256_of = sha256_of
        self._digests: dict[str, str | None] = {}
        self.errors: dict[str, str] = {}

    def digest(self, url: str) -> str | None:
        if url not in self._digests:
            try:
                digest = self._sha256_of(url)
            except Exception as error:  # the contract: sha256_of raises anything on failure
                self.errors[url] = str(error) or type(error).__name__
                digest = None
            if digest is not None and not (isinstance(digest, str) and _HEX64.fullmatch(digest)):
                raise RewriteRefused(f"the sha256 given for {url} is not 64 hex digits: {digest!r}")
            self._digests[url] = digest.lower() if digest else None
        return self._digests[url]


def _hash_sources(
    dialect: Dialect,
    text_lines: list[str],
    old: Parsed,
    moved: Parsed,
    version: str,
    hasher: _Hasher,
) -> dict[int, str]:
    """The new sha256 of each source that had a checksum, trying other forms of failing URLs.

    Sources whose URL is written on the same line (one line rendered for several platforms)
    are hashed together: a form of the line is accepted only if every URL it gives downloads.
    """
    groups: dict[object, list[int]] = {}
    for index, site in enumerate(moved.sources):
        if old.sources[index].checksums:
            key = site.url_line if site.url_line is not None else ("alone", index)
            groups.setdefault(key, []).append(index)
    digests: dict[int, str] = {}
    current = moved
    for members in groups.values():
        line = current.sources[members[0]].url_line
        value = lines.value_of(text_lines, line) if line is not None else None
        forms = (
            urls.alternatives(value.text(text_lines), version, dialect.version_reference)
            if value is not None
            else [None]
        )
        first_failure: tuple[str, str] | None = None
        for form in forms:
            trial, parsed = _try_form(dialect, text_lines, value, form, current, len(old.sources))
            if parsed is None:
                continue
            found = []
            for member in members:
                url = parsed.sources[member].url
                digest = hasher.digest(url)
                if digest is None:
                    first_failure = first_failure or (url, hasher.errors[url])
                    break
                found.append(digest)
            else:
                text_lines[:] = trial
                current = parsed
                digests.update(zip(members, found, strict=True))
                break
        else:
            url, error = first_failure or (current.sources[members[0]].url, "no usable form")
            raise RewriteRefused(f"cannot download any form of {url}: {error}")
    return digests


def _try_form(
    dialect: Dialect,
    text_lines: list[str],
    value: lines.Value | None,
    form: str | None,
    current: Parsed,
    count: int,
) -> tuple[list[str], Parsed | None]:
    if value is None or form is None or form == value.text(text_lines):
        return text_lines, current
    trial = list(text_lines)
    lines.replace(trial, value, form)
    try:
        parsed = dialect.parse("\n".join(trial))
    except FormatError:
        return trial, None
    return trial, parsed if len(parsed.sources) == count else None


def _write_hashes(text_lines: list[str], old: Parsed, digests: dict[int, str]) -> set[int]:
    """Replace each old checksum where it is written; returns the lines to delete."""
    replacements: dict[str, str] = {}
    removed: set[int] = set()
    for index, digest in digests.items():
        site = old.sources[index]
        if site.sha256 is not None:
            previous = replacements.setdefault(site.sha256.lower(), digest)
            if previous != digest:
                raise RewriteRefused(
                    f"sources share the sha256 {site.sha256} but their new files differ"
                )
            # conda-build checks every checksum given: a stale md5 next to the new sha256
            # would fail the build, so it goes.
            for kind, value in site.checksums:
                if kind != "sha256":
                    removed.update(_checksum_lines(text_lines, site, kind, value))
        else:
            kind, value = site.checksums[0]
            for line in _checksum_lines(text_lines, site, kind, value):
                content = _CHECKSUM_KEY.sub(r"\g<lead>sha256", text_lines[line], count=1)
                text_lines[line] = re.sub(re.escape(value), digest, content, flags=re.IGNORECASE)
            for kind, value in site.checksums[1:]:
                removed.update(_checksum_lines(text_lines, site, kind, value))
    for old_digest, new_digest in replacements.items():
        holders = [
            index for index, content in enumerate(text_lines) if old_digest in content.lower()
        ]
        if not holders:
            raise RewriteRefused(f"cannot find where the sha256 {old_digest} is written")
        pattern = re.compile(re.escape(old_digest), re.IGNORECASE)
        for index in holders:
            text_lines[index] = pattern.sub(new_digest, text_lines[index])
    return removed


def _checksum_lines(text_lines: list[str], site: SourceSite, kind: str, value: str) -> list[int]:
    """The `md5: <value>` lines of a source; refuses when the value is set another way."""
    holders = [
        index for index, content in enumerate(text_lines) if value.lower() in content.lower()
    ]
    if not holders:
        raise RewriteRefused(f"cannot find where the {kind} of {site.url} is written")
    for index in holders:
        match = _CHECKSUM_KEY.match(text_lines[index])
        if match is None or match.group("key") != kind:
            raise RewriteRefused(
                f"the {kind} of {site.url} is set on line {index + 1} in a way the bot cannot "
                "replace by a sha256"
            )
    return holders


def _verify(old: Parsed, final: Parsed, version: str, digests: dict[int, str]) -> None:
    """Re-read result: the version, every URL and every hash must be what we meant."""
    _check_moved(old, final, version)
    for index, digest in digests.items():
        site = final.sources[index]
        if site.sha256 != digest:
            raise RewriteRefused(f"the sha256 of {site.url} does not read back as {digest}")
