"""How upstream version strings are read and ordered: every spelling the policy meets.

tests/test_versions.py states the headline cases; these pin each parsing path (PEP 440, a
patch letter, numbers joined by `-`/`_`, loose pre-releases and suffixes) and how the paths
order against each other, so a version's place never depends on which path read it.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from bot.versions import ParsedVersion, normalize, parse_version


def parsed(text: str) -> ParsedVersion:
    version = parse_version(text)
    assert version is not None, text
    return version


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        # Numbers joined by `-` or `_` (CRAN's 1.3-7, conda's 1.3_6): release components.
        ("1.3_6", "1.3-7"),
        ("1.3-7", "1.3-10"),
        ("1.3", "1.3-7"),
        ("1.3-7", "1.4"),
        ("1.3-7", "2.0"),
        # PEP 440 pre-release words, in their documented order, and dev releases before them.
        ("1.0b2", "1.0rc1"),
        ("1.0a1.dev1", "1.0a1"),
        ("1.0.post1.dev1", "1.0.post1"),
        ("1.0.dev1", "1.0.dev2"),
        # An epoch outranks any release number.
        ("2.0", "1!1.0"),
        # Loose pre-releases (not PEP 440): by word, then by the number after it.
        ("1.0.0-alpha.1.x", "1.0.0-beta.1.x"),
        ("1.0.0-beta.1.x", "1.0.0-rc.1.x"),
        ("1.0.0-rc.1.x", "1.0.0"),
        ("1.0.0-rc.1.x", "1.0.1"),
        ("1.0.0-beta.x", "1.0.0-beta.1.x"),
        ("1.0.0-beta.2.x", "1.0.0-beta.10.x"),
        ("1.0-SNAPSHOT", "1.0.0-alpha.1.x"),
        # Loose suffixes that are no pre-release word: after the release, by their numbers.
        ("5.3.0-p1", "5.3.0-p2"),
        ("5.3.0-p2", "5.3.1"),
        ("5.3.0-p1", "6.0"),
        # A patch letter, OpenSSL's way: after the release, before the next one.
        ("1.1.1", "1.1.1a"),
        ("1.1.1a", "1.1.1b"),
        ("1.1.1z", "1.1.2"),
    ],
)
def test_each_parsing_path_orders_its_versions(older: str, newer: str) -> None:
    """Within every spelling, a newer version compares greater, never equal."""
    low, high = parsed(older), parsed(newer)
    assert low < high
    assert high > low
    assert low != high


@pytest.mark.parametrize(
    "chain",
    [
        # The pre-release words interleave across PEP 440 and loose spellings of one release.
        [
            "1.0.dev1",
            "1.0a1",
            "1.0.0-alpha.2.x",
            "1.0b1",
            "1.0.0-beta.2.x",
            "1.0rc1",
            "1.0.0-rc.2.x",
            "1.0",
        ],
        # Post-releases and patch suffixes interleave by their numbers.
        ["1.0", "1.0-p1", "1.0.post2", "1.0-p3", "1.0.post4", "1.0.1"],
    ],
)
def test_spellings_of_one_release_interleave(chain: list[str]) -> None:
    """Mixed spellings (an upstream that changed its tag style) still sort in one order."""
    versions = [parsed(text) for text in chain]
    for low, high in pairwise(versions):
        assert low < high, (low.text, high.text)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("1", "1.0"),
        ("2.0", "2"),
        ("1.3-7", "1.3_7"),
        ("1.3-7", "1.3.7"),
        ("2024_01_05", "2024.1.5"),
        ("v1.2", "1.2"),
        ("1!1.0", "1!1.0.0"),
    ],
)
def test_spellings_of_one_version_are_equal(left: str, right: str) -> None:
    """Trailing zeros, separators and tag prefixes do not make two versions differ."""
    one, other = parsed(left), parsed(right)
    assert one == other
    assert not one < other and not other < one
    assert hash(one) == hash(other)
    assert len({one, other}) == 1


@pytest.mark.parametrize("text", ["1.0", "1.3-7", "1.1.1w", "1.0.0-rc.1.x", "5.3.0-p1", "1.0rc1"])
def test_a_version_is_not_newer_than_itself(text: str) -> None:
    """`<` is strict: the same version is neither older nor newer than itself."""
    version = parsed(text)
    assert not version < parsed(text)
    assert version <= parsed(text) and version >= parsed(text)


@pytest.mark.parametrize(
    ("text", "prerelease"),
    [
        ("1.3-7", False),
        ("1.1.1w", False),
        ("5.3.0-p1", False),
        ("1.0-SNAPSHOT", True),
        ("2.1.0-nightly.20240101", True),
        ("1.0.0-beta.2.x", True),
        ("1.0a1", True),
        ("1.0.post1", False),
    ],
)
def test_prerelease_flag_on_every_parsing_path(text: str, prerelease: bool) -> None:
    """Whatever path reads a version, the prerelease flag is a real bool and is right."""
    assert parsed(text).prerelease is prerelease


@pytest.mark.parametrize(
    "text", ["v1.2", "1.3-7", "1.1.1w", "1.0.0-rc.1.x", "5.3.0-p1", "R_4_3_1", " 1.0 "]
)
def test_the_text_is_kept_as_the_upstream_wrote_it(text: str) -> None:
    """Parsing keeps the original spelling (for messages), whichever path read it."""
    assert parsed(text).text == text


def test_the_pep440_reading_is_kept_for_pep440_versions_only() -> None:
    """A PEP 440 version keeps its `Version` (ranges test it exactly); a loose one has none."""
    pep = parsed("1.0rc1").pep440
    assert pep is not None and str(pep) == "1.0rc1"
    assert parsed("1.3-7").pep440 is None
    assert parsed("1.1.1w").pep440 is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1_2_3", "1.2.3"),
        ("openssl-1_1_1w", "1.1.1w"),
        ("v2_0", "2.0"),
        # A dot already separates: the underscore is the upstream's own.
        ("1.2_3", "1.2_3"),
        ("1_2.3", "1_2.3"),
        ("2024_rc1", "2024_rc1"),  # an underscore before a word joins no numbers
        ("rc_1.0", "1.0"),
    ],
)
def test_normalize_turns_underscores_into_dots_only_between_numbers(
    text: str, expected: str
) -> None:
    """Underscores become dots in an underscore-only version; other text keeps them."""
    assert normalize(text) == expected
