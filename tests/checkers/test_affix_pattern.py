"""A detected listing pattern matches through `AffixPattern` exactly as its compiled regex would.

Names are generated (seeded) from the pieces real release files are made of, around every
prefix and suffix shape detection writes, and each is matched both ways.
"""

from __future__ import annotations

import copy
import pickle
import random
import re

import pytest

from checkers import listing
from checkers._options import VERSION_REGEX, InvalidValue
from checkers._tags import VERSION_GROUP, AffixPattern

HEADS = ["readline-", "pcre2-", "R_", "v", "tcl", "foo.", "pkg-1.", "", "x.y-", "a+b-", "ünï-", "1"]
TAILS = [".tar.gz", "-src.tar.gz", "", ".zip", "_x86.tgz", "-1.tar.xz", ".", "+git.tar.gz", "~"]
PIECES = ["1", "2", "10", "0", ".", "_", "-", "a", "b", "c", "p", "rc", "beta", "dev", "post", "x",
          ".tar", "~", "+", "١"]  # fmt: skip


def names(rng: random.Random, head: str, tail: str, count: int) -> list[str]:
    found = []
    for _ in range(count):
        # Mostly a number first, as versions are; sometimes not, as other names are.
        first = rng.choice(["1", "10", "2.0", ""])
        middle = first + "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))
        found.append(head + middle + tail)
    return found


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("tail", TAILS)
def test_affix_matches_what_the_regex_matches(head: str, tail: str) -> None:
    pattern = f"{re.escape(head)}{VERSION_GROUP}{re.escape(tail)}"
    affix = AffixPattern.for_pattern(pattern)
    assert affix is not None
    regex = re.compile(pattern)
    rng = random.Random(f"{head}|{tail}")
    # Other prefixes and suffixes too: near misses must miss both ways.
    samples = (
        names(rng, head, tail, 400) + names(rng, "", "", 100) + names(rng, head[:-1], tail, 50)
    )
    matched = 0
    for name in samples:
        want, got = regex.fullmatch(name), affix.fullmatch(name)
        assert (got and (got["version"], got.span("version"))) == (
            want and (want["version"], want.span("version"))
        ), name
        matched += want is not None
    assert matched > 20  # the samples do exercise matches, not only misses


FOO = re.escape("foo-")


@pytest.mark.parametrize(
    "pattern",
    [
        FOO + VERSION_GROUP + re.escape("a.tar.gz"),  # a letter after: VERSION's lookahead sees it
        FOO + VERSION_GROUP + re.escape("1.tar.gz"),  # a digit after
        FOO + VERSION_GROUP + re.escape(".1.tar.gz"),  # `.<digit>` after
        FOO + VERSION_GROUP + "١",  # a Unicode digit after
        rf"\w+-{VERSION_GROUP}\.tar\.gz",  # no literal before
        rf"{FOO}{VERSION_GROUP}\.tar\.(gz|xz)",  # no literal after
        r"foo\-(?P<version>\d+)\.tar\.gz",  # another version group
    ],
)
def test_other_patterns_are_compiled(pattern: str) -> None:
    assert AffixPattern.for_pattern(pattern) is None
    assert isinstance(VERSION_REGEX.parse(pattern), re.Pattern)


def test_two_version_groups_are_no_affix_and_no_regex() -> None:
    pattern = rf"foo-{VERSION_GROUP}-{VERSION_GROUP}"
    assert AffixPattern.for_pattern(pattern) is None
    with pytest.raises(InvalidValue, match="does not compile"):
        VERSION_REGEX.parse(pattern)


def test_detected_patterns_take_the_affix_path() -> None:
    detected = listing.detect("https://ftp.gnu.org/gnu/readline/readline-8.2.tar.gz")
    assert detected is not None
    parsed = VERSION_REGEX.parse(detected["pattern"])
    assert isinstance(parsed, AffixPattern)
    assert parsed.fullmatch("readline-8.3.tar.gz")["version"] == "8.3"  # type: ignore[index]
    assert parsed.fullmatch("readline-8.3.tar.gz.sig") is None
    assert parsed.search("see readline-8.3.tar.gz")  # the rest of re.Pattern, for plugins
    assert parsed.groupindex == {"version": 1}


def test_an_affix_pattern_copies_and_pickles_as_itself() -> None:
    affix = AffixPattern.for_pattern(re.escape("tool-") + VERSION_GROUP + re.escape(".tar.gz"))
    assert affix is not None
    for again in (copy.deepcopy(affix), pickle.loads(pickle.dumps(affix))):
        assert isinstance(again, AffixPattern) and again == affix
        assert again.fullmatch("tool-2.1.tar.gz")["version"] == "2.1"  # type: ignore[index]
