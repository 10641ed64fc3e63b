"""Version parsing and the one selection policy.

Checkers report every release; `choose` alone decides. Its rules, in order:

1. Yanked releases are never chosen.
2. Prereleases (by the upstream's flag or by the version itself: `1.0rc1`, `2.0-beta.3`,
   `1.0.dev2`) are chosen only when the policy allows them or the current version is one.
3. Versions in `ignore` (exact, or a regex matching the whole version) are never chosen.
4. Versions outside `allowed` (a PEP 440 specifier such as `<20`) are never chosen.
5. Releases younger than `minimum_release_age` are not chosen yet, when the upstream dates them.
6. Of what is left, the highest version wins, if it is higher than the current one.

Ordering is PEP 440 (via `packaging`), with a fallback for what real upstreams publish:
`v1.2` and `R_4_3_1` (prefixes dropped), `1_2_3` (underscores as dots), `1.1.1w` (a trailing
letter is a patch level, as OpenSSL uses it, not an alpha), `2019.03.09` (dates), `5.3.0-p1`
and `2.0-beta-3` (suffixes: pre-release words sort before the release, others after).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache, total_ordering

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from bot.model import Recipe, Release, Skip, SkipReason, Update

_PREFIX = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+]*[-_])*?[vVrR]?(?=\d)")
_LETTER_PATCH = re.compile(r"^(\d+(?:\.\d+)*)([a-z])$")
_LOOSE = re.compile(r"^(\d+(?:[._]\d+)*)(.*)$")
# Numbers joined by `-` or `_` only (CRAN's `1.3-7`, conda's `1.3_6` for it, `2024_01_05`): each
# part is a release component, so `1.3-7` and `1.3_7` are equal and sort above `1.3_6`. PEP 440
# would read `1.3-7` as the post-release 1.3.post7, which `1.3_6` (1.3.6) would outrank.
_SEPARATED = re.compile(r"^\d+(?:[._-]\d+)*[_-]\d+(?:[._-]\d+)*$")
# The number may follow a separator (semver's `1.0.0-beta.2.x`): without it, beta.2 and beta.10
# would both read as beta 0 and tie.
_PRE_WORDS = re.compile(
    r"(?i)(alpha|beta|preview|pre|rc|dev|snapshot|nightly|a(?=\d)|b(?=\d)|c(?=\d))[-_.]?(\d*)"
)
_PRE_RANK = {
    "dev": -1,
    "snapshot": -1,
    "nightly": -1,
    "alpha": 0,
    "a": 0,
    "beta": 1,
    "b": 1,
    "c": 2,
    "pre": 2,
    "preview": 2,
    "rc": 2,
}


@total_ordering
@dataclass(frozen=True)
class ParsedVersion:
    """A version reduced to a sort key; `text` is kept as the upstream wrote it."""

    text: str
    key: tuple[object, ...] = field(repr=False)
    prerelease: bool
    pep440: Version | None = field(default=None, repr=False, compare=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParsedVersion) and self.key == other.key

    def __lt__(self, other: ParsedVersion) -> bool:
        return self.key < other.key

    def __hash__(self) -> int:
        return hash(self.key)


def normalize(text: str) -> str:
    """Drop tag decorations: `v1.2` -> `1.2`, `R_4_3_1` -> `4.3.1`, `release-1_2` -> `1.2`."""
    text = text.strip()
    stripped = _PREFIX.sub("", text, count=1)
    if "." not in stripped and "_" in stripped and re.match(r"^\d+(_\d+)+", stripped):
        stripped = stripped.replace("_", ".")
    return stripped


# A sweep meets the same strings again and again (every listing's history, "1.0.0" in many
# projects); parsing them anew was 5% of a sweep's CPU. ParsedVersion is immutable.
@lru_cache(maxsize=16384, typed=True)
def parse_version(text: str) -> ParsedVersion | None:
    """Parse any upstream version; None when it has no leading number at all."""
    clean = normalize(str(text))
    if _SEPARATED.match(clean):
        release = tuple(int(part) for part in re.split(r"[._-]", clean))
        return ParsedVersion(str(text), (0, _trim(release), (0,), (-1,), (1,)), False)
    letter = _LETTER_PATCH.match(clean)
    if letter is None:
        try:
            version = Version(clean)
        except InvalidVersion:
            pass
        else:
            return ParsedVersion(str(text), _pep440_key(version), version.is_prerelease, version)
    match = _LOOSE.match(clean)
    if match is None:
        return None
    release = tuple(int(part) for part in re.split(r"[._]", match.group(1)))
    suffix = match.group(2).strip("-_.+~")
    if letter is not None:  # 1.1.1w: the letter is a patch level after 1.1.1
        return ParsedVersion(
            str(text), (0, _trim(release), (0,), (0, ord(letter.group(2)) - 96), (1,)), False
        )
    pre = _PRE_WORDS.search(suffix) if suffix else None
    if pre is not None:
        rank = _PRE_RANK[pre.group(1).lower()]
        number = int(pre.group(2) or 0)
        return ParsedVersion(str(text), (0, _trim(release), (-1, rank, number), (-1,), (1,)), True)
    # Any other suffix (`-p1`, `-1`, `.final`): after the plain release, ordered by its numbers.
    numbers = tuple(int(n) for n in re.findall(r"\d+", suffix))
    post = (0, *numbers) if suffix else (-1,)
    return ParsedVersion(str(text), (0, _trim(release), (0,), post, (1,)), False)


def _pep440_key(version: Version) -> tuple[object, ...]:
    if version.pre is None and version.post is None and version.dev is not None:
        pre: tuple[object, ...] = (-2,)  # 1.0.dev1 sorts before 1.0a1
    elif version.pre is None:
        pre = (0,)
    else:
        pre = (-1, {"a": 0, "b": 1, "rc": 2}[version.pre[0]], version.pre[1])
    post = (-1,) if version.post is None else (0, version.post)
    dev = (1,) if version.dev is None else (0, version.dev)
    return (version.epoch, _trim(version.release), pre, post, dev)


def _trim(release: tuple[int, ...]) -> tuple[int, ...]:
    """1.0 == 1.0.0."""
    end = len(release)
    while end > 1 and release[end - 1] == 0:
        end -= 1
    return release[:end]


@dataclass(frozen=True)
class Policy:
    """The common options: `versions:` in the config, overridden per recipe."""

    prereleases: bool = False
    ignore: tuple[str, ...] = ()
    allowed: str | None = None  # a PEP 440 specifier
    minimum_release_age: timedelta = timedelta(0)

    def ignores(self, version: str) -> bool:
        for entry in self.ignore:
            if entry == version or normalize(entry) == normalize(version):
                return True
            try:
                if re.fullmatch(entry, version):
                    return True
            except re.error:
                continue  # a plain version string that is not a valid regex
        return False

    def allows(self, version: ParsedVersion) -> bool:
        if not self.allowed:
            return True
        specifier = SpecifierSet(self.allowed)
        candidate = version.pep440 or _approximate(version)
        return candidate is not None and specifier.contains(candidate, prereleases=True)


def _approximate(version: ParsedVersion) -> Version | None:
    """A PEP 440 stand-in for a loose version, good enough to test it against a range."""
    release = version.key[1]
    assert isinstance(release, tuple)
    return Version(".".join(str(part) for part in release))


def choose(
    recipe: Recipe, releases: Sequence[Release], policy: Policy, *, now: datetime
) -> Update | Skip:
    """Pick the release to update `recipe` to, by the rules in this module's docstring."""
    current = parse_version(recipe.version)
    if current is None:
        return Skip(
            recipe, SkipReason.CURRENT_NOT_PARSEABLE, f"cannot order version {recipe.version!r}"
        )
    if not releases:
        return Skip(recipe, SkipReason.NO_RELEASES, "the upstream lists no releases")
    allow_pre = policy.prereleases or current.prerelease
    candidates = list(_acceptable(releases, policy, allow_pre=allow_pre, now=now))
    if not candidates:
        return Skip(
            recipe, SkipReason.UP_TO_DATE, "no release passes the version policy", latest=None
        )
    best_version, best = max(candidates, key=lambda pair: pair[0].key)  # tuples compare in C
    if best_version <= current:
        return Skip(recipe, SkipReason.UP_TO_DATE, "", latest=best.version)
    return Update(recipe, best)


def _acceptable(
    releases: Iterable[Release], policy: Policy, *, allow_pre: bool, now: datetime
) -> Iterable[tuple[ParsedVersion, Release]]:
    for release in releases:
        parsed = parse_version(release.version)
        if parsed is None or release.yanked:
            continue
        if (release.prerelease or parsed.prerelease) and not allow_pre:
            continue
        if policy.ignores(release.version) or not policy.allows(parsed):
            continue
        if (
            policy.minimum_release_age
            and release.published is not None
            and now - release.published < policy.minimum_release_age
        ):
            continue
        yield parsed, release
