"""The version policy: ordering real upstream versions and choosing the one to update to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.model import Recipe, Release, Skip, SkipReason, Update
from bot.versions import Policy, choose, normalize, parse_version

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def recipe(version: str) -> Recipe:
    return Recipe(name="demo", path="demo/meta.yaml", format="conda-v0", version=version)


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("1.2.3", "1.2.4"),
        ("1.2.3", "1.2.3a"),  # OpenSSL-style patch letter comes after the release
        ("1.1.1w", "3.0.0"),
        ("2019.03.09", "2019.10.01"),
        ("1_2_3", "1_2_10"),
        ("v1.2", "v1.10"),
        ("R_4_3_1", "R_4_4_0"),
        ("1.0rc1", "1.0"),
        ("1.0.dev1", "1.0a1"),
        ("1.0a1", "1.0b1"),
        ("2.0-beta-3", "2.0"),
        ("5.3.0", "5.3.0-p1"),
        ("1.0", "1.0.post1"),
        ("9", "10"),
    ],
)
def test_ordering(older: str, newer: str) -> None:
    """Real-world version strings order the way their projects mean them."""
    low, high = parse_version(older), parse_version(newer)
    assert low is not None and high is not None
    assert low < high


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v1.2.3", "1.2.3"),
        ("R_4_3_1", "4.3.1"),
        ("release-1_2_3", "1.2.3"),
        ("zstd-1.5.6", "1.5.6"),
        ("2.0", "2.0"),
    ],
)
def test_normalize_drops_tag_decorations(text: str, expected: str) -> None:
    """Tag prefixes and underscore separators are reduced to a plain version."""
    assert normalize(text) == expected


def test_equal_versions_compare_equal() -> None:
    """Trailing zeros do not make a version newer."""
    assert parse_version("1.0") == parse_version("1.0.0")


def test_text_without_numbers_is_not_a_version() -> None:
    """A tag like 'latest' has no place in the ordering."""
    assert parse_version("latest") is None


@pytest.mark.parametrize(
    ("text", "prerelease"),
    [("1.0rc1", True), ("2.0-beta-3", True), ("1.0.dev2", True), ("1.2.3a", False), ("1.0", False)],
)
def test_prerelease_detection(text: str, prerelease: bool) -> None:
    """Prereleases are recognised from the version text itself."""
    parsed = parse_version(text)
    assert parsed is not None and parsed.prerelease is prerelease


def pick(current: str, releases: list[Release], policy: Policy | None = None) -> Update | Skip:
    return choose(recipe(current), releases, policy or Policy(), now=NOW)


def test_newest_release_wins() -> None:
    """The highest acceptable version is chosen, whatever order the upstream lists them in."""
    decision = pick("1.0", [Release("1.2"), Release("1.10"), Release("1.9")])
    assert isinstance(decision, Update) and decision.new == "1.10"


def test_prereleases_are_skipped_by_default() -> None:
    """A stable recipe is not moved to a release candidate, whether flagged or spelled so."""
    decision = pick("1.0", [Release("1.1rc1"), Release("1.1", prerelease=True), Release("1.0.1")])
    assert isinstance(decision, Update) and decision.new == "1.0.1"


def test_prereleases_allowed_when_current_is_one() -> None:
    """A recipe already on a prerelease follows the prereleases."""
    decision = pick("2.0rc1", [Release("2.0rc2")])
    assert isinstance(decision, Update) and decision.new == "2.0rc2"


def test_prereleases_allowed_by_policy() -> None:
    """`prereleases: true` lets a stable recipe move to a prerelease."""
    decision = pick("1.0", [Release("1.1rc1")], Policy(prereleases=True))
    assert isinstance(decision, Update) and decision.new == "1.1rc1"


def test_yanked_is_never_chosen() -> None:
    """A yanked release is ignored even when it is the newest."""
    decision = pick("1.0", [Release("1.2", yanked=True), Release("1.1")])
    assert isinstance(decision, Update) and decision.new == "1.1"


def test_ignore_takes_versions_and_regexes() -> None:
    """`ignore` entries match exactly or as a whole-version regex."""
    policy = Policy(ignore=("1.3", r"1\.2\..*"))
    decision = pick("1.0", [Release("1.3"), Release("1.2.5"), Release("1.1")], policy)
    assert isinstance(decision, Update) and decision.new == "1.1"


def test_allowed_range_is_honoured() -> None:
    """`allowed: <20` keeps a recipe on its major line."""
    decision = pick("19.1.0", [Release("20.1.0"), Release("19.3.0")], Policy(allowed="<20"))
    assert isinstance(decision, Update) and decision.new == "19.3.0"


def test_allowed_range_applies_to_loose_versions() -> None:
    """A non-PEP 440 version is tested against the range by its numbers."""
    decision = pick("1.1.1w", [Release("3.0.0"), Release("1.1.1x")], Policy(allowed="<3"))
    assert isinstance(decision, Update) and decision.new == "1.1.1x"


def test_minimum_release_age() -> None:
    """A release younger than the minimum age waits; an undated one does not."""
    policy = Policy(minimum_release_age=timedelta(days=3))
    fresh = Release("1.2", published=NOW - timedelta(days=1))
    aged = Release("1.1", published=NOW - timedelta(days=5))
    decision = pick("1.0", [fresh, aged], policy)
    assert isinstance(decision, Update) and decision.new == "1.1"
    undated = pick("1.0", [Release("1.3")], policy)
    assert isinstance(undated, Update) and undated.new == "1.3"


def test_up_to_date_reports_latest() -> None:
    """When nothing is newer, the skip says so and names the newest version seen."""
    decision = pick("1.2", [Release("1.2"), Release("1.1")])
    assert isinstance(decision, Skip)
    assert decision.reason is SkipReason.UP_TO_DATE and decision.latest == "1.2"


def test_no_releases_is_not_up_to_date() -> None:
    """An upstream listing nothing is its own reason, never 'up to date'."""
    decision = pick("1.0", [])
    assert isinstance(decision, Skip) and decision.reason is SkipReason.NO_RELEASES


def test_unparseable_current_version() -> None:
    """A recipe whose version cannot be ordered is skipped with a named reason."""
    decision = pick("latest", [Release("1.0")])
    assert isinstance(decision, Skip) and decision.reason is SkipReason.CURRENT_NOT_PARSEABLE


def test_unparseable_releases_are_dropped() -> None:
    """Tags with no version in them do not win over real versions."""
    decision = pick("1.0", [Release("nightly"), Release("1.1")])
    assert isinstance(decision, Update) and decision.new == "1.1"
