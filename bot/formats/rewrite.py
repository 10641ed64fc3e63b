"""Rewriting a conda recipe (meta.yaml or recipe.yaml) for a new version, surgically.

    read the text in every configuration      -> Parsed (old): sources per platform and variant
    edit the version, build number and literal URLs (bot.formats.edits)
    read again in the same configurations     -> pair each old source with its new self
    each source whose URL moved gets the hash of its new URL: published upstream for that
        file name, or downloaded; a URL that does not download is tried in other forms
        (`.tar.xz`, a `v` tag, a PEP 625 file name, GitHub's other tag-archive spelling)
    each source whose URL did not move keeps its hash, byte for byte, if it is pinned (a
        LICENSE at a commit, a dated data file); one that should have moved is a refusal
    replace each old hash where it is written (a `sha256:` line, a `{% set %}`, a context var)
    read again and verify                     -> version, URLs, hashes are what we meant
    audit the text                            -> no old hash of a moved source is left anywhere

The invariant: after a rewrite to a new version, every checksum of a source whose URL depends
on the version was computed (or published) for that exact URL, in every configuration in which
it applies; every other checksum is unchanged. Anything else is RewriteRefused. The final audit
reads the text, not the configurations, so a hash line no configuration reached (a variant
value the bot did not think of) is a refusal, never a stale hash.

Like bioconda's autobump: edit lines, refuse what cannot be edited safely, verify by
re-reading. Nothing here touches the network: `sha256_of` is the caller's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.errors import RewriteRefused
from bot.formats import audit, conda_v0, edits, lines, urls
from bot.formats.base import Configuration, FormatError, Parsed, SourceSite
from bot.formats.edits import Dialect
from bot.formats.hashing import HEX64, Hasher, Sha256Of
from bot.formats.variants import Variants

# What we are willing to write into a recipe as a version.
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+!-]*")
_DIGEST_LENGTHS = {"sha256": 64, "sha1": 40, "md5": 32}
_CHECKSUM_KEY = re.compile(r"^(?P<lead>[ \t]*(?:-[ \t]+)?)(?P<key>md5|sha1)(?=[ \t]*:)")
# Variables whose value pins a source to something other than the version.
_PINNING_NAMES = re.compile(r"commit|(?:^|_)rev(?:_|$)|revision|sha(?!256)|hash", re.IGNORECASE)


@dataclass(frozen=True)
class _Pair:
    """One source in one configuration: before the edit and after it."""

    render: int  # Rendered.index
    position: int  # the source's position in that configuration
    old: SourceSite
    new: SourceSite
    # Read in a configuration the recipe skips (`skip: true  # [win]`): updated when that can
    # be done (its URL downloads, its hash line is its own), never a reason to refuse; a hash
    # line only such configurations reach, left old, is for the final audit to refuse.
    skipped: bool = False

    @property
    def key(self) -> tuple[int, int]:
        return (self.render, self.position)

    @property
    def moves(self) -> bool:
        if self.old.git:
            return self.new.rev != self.old.rev
        return self.new.url != self.old.url


def rewrite_conda(
    text: str,
    version: str,
    sha256_of: Sha256Of,
    dialect: Dialect,
    *,
    published: Mapping[str, str] | None = None,
    published_at: Collection[str] | None = None,
    variants: Variants | None = None,
    record: Callable[[str, str], None] | None = None,
) -> str:
    """The recipe text moved to `version`; RewriteRefused when it cannot be done safely.

    `record(url, sha256)` is told of each published hash the result uses (none downloaded).
    """
    try:
        original = lines.split(text)
    except ValueError as error:
        raise RewriteRefused(str(error)) from None
    text_lines = [line.content for line in original]
    old = _parse(dialect, text_lines, "cannot read the recipe", variants, None)
    configurations = old.configurations
    check_request(old.version, version)
    if not any(render.sources for render in old.renders):
        raise RewriteRefused("the recipe has no source with a url or git_url to update")

    def parse(candidate: list[str], what: str) -> Parsed:
        return _parse(dialect, candidate, what, variants, configurations)

    edits.set_version(text_lines, dialect, old.version, version)
    edits.reset_build_number(text_lines, dialect)
    edits.substitute_urls(text_lines, old.version, version)
    moved = parse(text_lines, "the edited recipe cannot be read")
    if moved.version != version:
        raise RewriteRefused(f"after the edit the version reads {moved.version}, not {version}")
    pairs = _pairs(old, moved)
    _check_pinned(pairs, old.version, text_lines)

    hasher = Hasher(sha256_of, published or {}, published_at)
    used: list[tuple[str, str]] = []
    digests, written = _hash_sources(
        dialect, text_lines, pairs, version, hasher, parse, lambda *use: used.append(use)
    )
    removed = _write_hashes(text_lines, pairs, digests)
    kept = [
        lines.Line(content, line.ending)
        for index, (content, line) in enumerate(zip(text_lines, original, strict=True))
        if index not in removed
    ]
    final = parse([line.content for line in kept], "the rewritten recipe cannot be read")
    _verify(pairs, written, final, version, digests)
    allowed = _unmoved_digests(pairs) | {digest.lower() for digest in digests.values()}
    stale = audit.stale_checksum(
        (line.content for line in original), (line.content for line in kept), allowed
    )
    if stale is not None:
        number, digest = stale
        raise RewriteRefused(
            f"the checksum on line {number} ({digest[:12]}...) applies in no configuration "
            "the bot could read, so it cannot be updated"
        )
    if record is not None:
        for url, digest in dict(used).items():  # only once the result is certain
            record(url, digest)
    return lines.join(kept)


def check_request(current: str, version: str) -> None:
    if not _VERSION.fullmatch(version):
        raise RewriteRefused(f"{version!r} is not a version that can be written into a recipe")
    if version == current:
        raise RewriteRefused(f"already at {version}")


def _parse(
    dialect: Dialect,
    text_lines: list[str],
    what: str,
    variants: Variants | None,
    configurations: Sequence[Configuration] | None,
) -> Parsed:
    try:
        return dialect.parse("\n".join(text_lines), variants, configurations=configurations)
    except FormatError as error:
        raise RewriteRefused(f"{what}: {error}") from None


def _pairs(old: Parsed, moved: Parsed) -> list[_Pair]:
    """Every source of every configuration, paired with itself after the edit."""
    after = {render.index: render for render in moved.renders}
    pairs: list[_Pair] = []
    for render in old.renders:
        edited = after.get(render.index)
        if edited is None:
            raise RewriteRefused(
                f"after the edit the recipe cannot be read {_describe(render.configuration)}"
            )
        if len(edited.sources) != len(render.sources):
            raise RewriteRefused(
                f"the number of sources changed ({len(render.sources)} -> "
                f"{len(edited.sources)}) {_describe(render.configuration)}"
            )
        pairs.extend(
            _Pair(render.index, position, before, now, render.skipped)
            for position, (before, now) in enumerate(
                zip(render.sources, edited.sources, strict=True)
            )
        )
    return pairs


def _describe(configuration: Configuration) -> str:
    platform = configuration.get("target_platform")
    return f"on {platform}" if platform else "in one configuration"


def _check_pinned(pairs: list[_Pair], old_version: str, text_lines: list[str]) -> None:
    """Sources that did not move must be pinned; at least one source must move.

    Only built configurations count here when there are some: a platform the recipe skips
    may leave its sources as they are.
    """
    built = [pair for pair in pairs if not pair.skipped]
    pairs = built or pairs
    if not any(pair.moves for pair in pairs):
        first = pairs[0].old if pairs else None
        if first is not None and first.git:
            raise RewriteRefused(f"git source {first.url} has no version in its tag or rev")
        url = first.url if first is not None else "(no source)"
        if _holds_version(url, old_version):
            raise RewriteRefused(f"source URL did not change: {url}")
        raise RewriteRefused(f"URL has no version in it: {url}")
    for pair in pairs:
        if pair.moves and pair.old.git and pair.old.checksums:
            raise RewriteRefused(
                f"the git source {pair.old.url} has a checksum, which no download can give"
            )
        if pair.moves:
            for before, after in zip(pair.old.mirrors, pair.new.mirrors, strict=False):
                if before == after:
                    raise RewriteRefused(f"mirror URL did not follow the version: {before}")
            continue
        site = pair.old
        if site.git:
            raise RewriteRefused(
                f"git source {site.url} is pinned to {site.rev or 'its default branch'}, "
                "which does not follow the version"
            )
        if _holds_version(site.url, old_version):
            raise RewriteRefused(f"source URL did not change: {site.url}")
        written = text_lines[site.url_line] if site.url_line is not None else ""
        pinning = sorted(
            name
            for match in urls.TEMPLATE.finditer(written)
            for name in re.findall(r"[A-Za-z_]\w*", match.group())
            if _PINNING_NAMES.search(name)
        )
        if pinning:
            raise RewriteRefused(
                f"source {site.url} depends on {{{{ {pinning[0]} }}}}, which would have to "
                "change with the version"
            )


def _holds_version(url: str, version: str) -> bool:
    """Whether `url` holds `version` with any separators (`1.8-5` for 1.8.5)."""
    parts = re.split(r"[-_.]", version)
    if len(parts) < 2 or not all(part.isdigit() for part in parts):
        return urls.contains_version(url, version)
    pattern = r"[-_.]".join(re.escape(part) for part in parts)
    return re.search(rf"(?<![\d.]){pattern}(?![\d])(?![-_.]\d)", url) is not None


def _hash_sources(
    dialect: Dialect,
    text_lines: list[str],
    pairs: list[_Pair],
    version: str,
    hasher: Hasher,
    parse: Callable[[list[str], str], Parsed],
    record: Callable[[str, str], None] | None = None,
) -> tuple[dict[tuple[int, int], str], dict[tuple[int, int], SourceSite]]:
    """The new sha256 of each moved source that had a checksum, trying other forms of its URL.

    Returns the digests and every source as the text now reads (a form may have been taken).
    Sources whose URL is written on the same line (one line rendered for several platforms or
    variants) are hashed together: a form of the line is taken only if every URL it gives in
    a built configuration has a hash. Skipped configurations' URLs are hashed when they can be.
    """
    groups: dict[object, list[_Pair]] = {}
    for pair in pairs:
        if pair.moves and pair.old.checksums:
            line = pair.new.url_line
            groups.setdefault(line if line is not None else ("alone", pair.key), []).append(pair)
    digests: dict[tuple[int, int], str] = {}
    current = {pair.key: pair.new for pair in pairs}
    for members in groups.values():
        required = [pair for pair in members if not pair.skipped]
        line = members[0].new.url_line
        value = lines.value_of(text_lines, line) if line is not None else None
        chosen, failure = _choose_form(
            dialect, text_lines, value, required or members, current, version, hasher, parse
        )
        if chosen is None:
            if not required:
                continue  # a line only skipped configurations read: the audit decides
            url, error = failure or (members[0].new.url, "no usable form")
            hint = (
                " (the release asset is missing; the bot does not swap it for the tag archive)"
                if urls.is_release_asset(url)
                else ""
            )
            raise RewriteRefused(f"cannot download any form of {url}: {error}{hint}")
        trial_lines, sites = chosen
        if trial_lines != text_lines:
            _check_form_is_complete(members, sites)
        text_lines[:] = trial_lines
        current.update(sites)
        for pair in members:
            url = sites[pair.key].url
            digest = hasher.digest(url)
            if digest is None:
                continue  # a skipped configuration's file that does not download
            digests[pair.key] = digest
            if record is not None and hasher.published(url):
                record(url, digest)
    return digests, current


_Trial = tuple[list[str], dict[tuple[int, int], SourceSite]]


def _choose_form(
    dialect: Dialect,
    text_lines: list[str],
    value: lines.Value | None,
    members: list[_Pair],
    current: dict[tuple[int, int], SourceSite],
    version: str,
    hasher: Hasher,
    parse: Callable[[list[str], str], Parsed],
) -> tuple[_Trial | None, tuple[str, str] | None]:
    """The first form of the URL line whose every member URL has a hash, and the first failure.

    A form whose files are all published wins first (and needs no download); then the forms in
    the order `urls.alternatives` gives, each kept only if all its URLs download.
    """
    forms: list[str | None] = [None]
    if value is not None:
        written = value.text(text_lines)
        forms = [*urls.alternatives(written, version, dialect.version_reference,
                                    dialect=dialect.name)]  # fmt: skip
    trials = _memoized(
        trial
        for form in forms
        if (trial := _try_form(text_lines, value, form, current, members, parse)) is not None
    )

    def published(trial: _Trial) -> bool:
        return all(hasher.published(trial[1][pair.key].url) for pair in members)

    if hasher.publishes and hasher.may_publish(current[members[0].key].url):
        chosen = next((trial for trial in trials() if published(trial)), None)
        if chosen is None and value is not None:
            # The upstream lists the file under another spelling of the name (`AlgoTree-...`).
            respelled = hasher.respelled(value.text(text_lines), current[members[0].key].url)
            trial = _try_form(text_lines, value, respelled, current, members, parse)
            chosen = trial if trial is not None and published(trial) else None
        if chosen is not None:
            return chosen, None
    failure: tuple[str, str] | None = None
    for trial in trials():
        urls_of = [trial[1][pair.key].url for pair in members]
        failed = next((url for url in urls_of if hasher.digest(url) is None), None)
        if failed is None:
            return trial, None
        failure = failure or (failed, hasher.errors.get(failed, "no hash"))
    return None, failure


def _check_form_is_complete(members: list[_Pair], sites: dict[tuple[int, int], SourceSite]) -> None:
    """A URL moved to another form: its mirrors and its saved file name would have to follow."""
    for pair in members:
        site = sites[pair.key]
        if len(pair.old.mirrors) > 1:
            raise RewriteRefused(
                f"only {site.url} downloads, and its mirrors would need the same change"
            )
        if pair.old.file_name:
            raise RewriteRefused(
                f"only {site.url} downloads, and the source's file name "
                f"({pair.old.file_name}) would need the same change"
            )


_T = TypeVar("_T")


def _memoized(items: Iterator[_T]) -> Callable[[], Iterator[_T]]:
    """Iterate `items` lazily, as often as asked, computing each item once."""
    done: list[_T] = []

    def again() -> Iterator[_T]:
        yield from done
        for item in items:
            done.append(item)
            yield item

    return again


def _try_form(
    text_lines: list[str],
    value: lines.Value | None,
    form: str | None,
    current: dict[tuple[int, int], SourceSite],
    members: list[_Pair],
    parse: Callable[[list[str], str], Parsed],
) -> tuple[list[str], dict[tuple[int, int], SourceSite]] | None:
    """The text with `form` written on the line, and every source as it then reads."""
    if value is None or form is None or form == value.text(text_lines):
        return list(text_lines), dict(current)
    trial = list(text_lines)
    lines.replace(trial, value, form)
    try:
        parsed = parse(trial, "")
    except RewriteRefused:
        return None
    sites = dict(current)
    by_index = {render.index: render for render in parsed.renders}
    for key in current:
        render = by_index.get(key[0])
        if render is None or key[1] >= len(render.sources):
            return None
        sites[key] = render.sources[key[1]]
    if any(sites[pair.key].url == pair.old.url for pair in members):
        return None  # the form undid the version change
    return trial, sites


def _write_hashes(
    text_lines: list[str], pairs: list[_Pair], digests: dict[tuple[int, int], str]
) -> set[int]:
    """Replace each old checksum where it is written; returns the lines to delete.

    Built configurations decide first; a skipped configuration whose file would need another
    value on a shared line is left out (and taken out of `digests`).
    """
    replacements: dict[str, str] = {}  # old sha256 (lower case) -> new
    placeholders: dict[str, str] = {}  # a non-digest old value (`REPLACE_ME`, `0000`) -> new
    conversions: dict[SourceSite, str] = {}  # sources with md5/sha1 only -> new sha256
    removed: set[int] = set()
    for pair in sorted(pairs, key=lambda pair: pair.skipped):
        if pair.key not in digests:
            continue
        site, digest = pair.old, digests[pair.key]
        if site.sha256 is not None and HEX64.fullmatch(site.sha256):
            taken = replacements.setdefault(site.sha256.lower(), digest)
        elif site.sha256 is not None:
            taken = placeholders.setdefault(site.sha256, digest)
        else:
            taken = conversions.setdefault(site, digest)
        if taken != digest:
            if pair.skipped:
                del digests[pair.key]
                continue
            kind, value = next(iter(site.checksums))
            raise RewriteRefused(f"sources share the {kind} {value} but their new files differ")
        if site.sha256 is None:
            continue
        # conda-build checks every checksum given: a stale md5 next to the new sha256
        # would fail the build, so it goes.
        for kind, value in site.checksums:
            if kind != "sha256":
                removed.update(_checksum_lines(text_lines, site, kind, value))
    unmoved = _unmoved_digests(pairs)
    for old_digest in replacements.keys() & unmoved:
        raise RewriteRefused(
            f"the sha256 {old_digest} belongs to a source that moves and to one that does not"
        )
    for site, digest in conversions.items():
        kind, value = site.checksums[0]
        for line in _checksum_lines(text_lines, site, kind, value):
            content = _CHECKSUM_KEY.sub(r"\g<lead>sha256", text_lines[line], count=1)
            text_lines[line] = re.sub(re.escape(value), digest, content, flags=re.IGNORECASE)
        for kind, value in site.checksums[1:]:
            removed.update(_checksum_lines(text_lines, site, kind, value))
    for placeholder, digest in placeholders.items():
        _replace_placeholder(text_lines, placeholder, digest)
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


def _unmoved_digests(pairs: list[_Pair]) -> set[str]:
    return {value.lower() for pair in pairs if not pair.moves for _, value in pair.old.checksums}


_PLACEHOLDER_KEY = re.compile(r"sha256|\w*(?:sha|hash|checksum)\w*", re.IGNORECASE)


def _replace_placeholder(text_lines: list[str], placeholder: str, digest: str) -> None:
    """Write `digest` over a non-digest sha256 (`REPLACE_ME`), where a checksum is written."""
    found = 0
    for index, content in enumerate(text_lines):
        if placeholder not in content:
            continue
        for value in _values_on(text_lines, index):
            if value.text(text_lines).strip() == placeholder and _PLACEHOLDER_KEY.fullmatch(
                value.key or ""
            ):
                lines.replace(text_lines, value, digest)
                found += 1
                break
    if not found:
        raise RewriteRefused(
            f"the sha256 {placeholder!r} is not a digest and the bot cannot find where it is set"
        )


def _values_on(text_lines: list[str], index: int) -> list[lines.Value]:
    """A `key: value` on the line, or the value of each `{% set name = "..." %}` on it."""
    found = []
    value = lines.value_of(text_lines, index)
    if value is not None:
        found.append(value)
    for match in conda_v0.SET_STATEMENT.finditer(text_lines[index]):
        expression = match.group("expr")
        start, end = match.span("expr")
        if expression[:1] in "'\"" and expression[-1:] == expression[:1]:
            found.append(lines.Value(index, start + 1, end - 1, expression[0], match["name"]))
    return found


def _checksum_lines(text_lines: list[str], site: SourceSite, kind: str, value: str) -> list[int]:
    """The `md5: <value>` lines of a source; refuses when the value is set another way."""
    if not re.fullmatch(rf"[0-9a-fA-F]{{{_DIGEST_LENGTHS[kind]}}}", value):
        raise RewriteRefused(f"the {kind} of {site.url} is not a hex digest: {value!r}")
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


def _verify(
    pairs: list[_Pair],
    written: dict[tuple[int, int], SourceSite],
    final: Parsed,
    version: str,
    digests: dict[tuple[int, int], str],
) -> None:
    """Re-read result: the version, every URL and every hash must be what we meant."""
    if final.version != version:
        raise RewriteRefused(f"after the edit the version reads {final.version}, not {version}")
    renders = {render.index: render for render in final.renders}
    for pair in pairs:
        render = renders.get(pair.render)
        if render is None or pair.position >= len(render.sources):
            raise RewriteRefused("the rewritten recipe does not read in every configuration")
        site, meant = render.sources[pair.position], written[pair.key]
        if (site.url, site.rev) != (meant.url, meant.rev):
            raise RewriteRefused(f"the source {meant.url} does not read back as written")
        if pair.key in digests:
            if site.sha256 != digests[pair.key]:
                raise RewriteRefused(
                    f"the sha256 of {site.url} does not read back as {digests[pair.key]}"
                )
        elif not pair.moves and site.checksums != pair.old.checksums:
            raise RewriteRefused(f"the checksum of the pinned source {site.url} changed")
