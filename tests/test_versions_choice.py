"""The version policy's rules at their edges: what `choose` returns and which releases pass.

tests/test_versions.py states each rule once; these state the boundaries (the exact minimum
age, ranges against pre-releases and loose versions, ignore entries that are tags or broken
regexes) and what a decision carries (its recipe, its reason, a detail a user can read).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.model import Recipe, Release, Skip, SkipReason, Update
from bot.versions import Policy, choose

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RECIPE = Recipe(name="demo", path="demo/meta.yaml", format="conda-v0", version="1.0")


def pick(
    releases: list[Release], policy: Policy | None = None, current: str | None = None
) -> Update | Skip:
    recipe = RECIPE if current is None else replace(RECIPE, version=current)
    return choose(recipe, releases, policy or Policy(), now=NOW)


def test_an_update_carries_the_recipe_and_the_release() -> None:
    """The decision names the recipe it is about and the release it moves to."""
    newest = Release("1.1", url="https://example.org/1.1")
    decision = pick([newest])
    assert isinstance(decision, Update)
    assert decision.recipe is RECIPE and decision.release is newest


def test_two_spellings_of_the_newest_version_still_give_an_update() -> None:
    """An upstream listing one version twice (a tag and a release) is not an error."""
    decision = pick([Release("1.1"), Release("1.1.0"), Release("1.0.5")])
    assert isinstance(decision, Update) and decision.new in {"1.1", "1.1.0"}


def test_unparseable_current_version_names_it() -> None:
    """The skip says which version could not be ordered, for check --json's `error`."""
    decision = pick([Release("1.0")], current="nightly-build")
    assert isinstance(decision, Skip)
    assert decision.reason is SkipReason.CURRENT_NOT_PARSEABLE
    assert decision.recipe.version == "nightly-build"
    assert "nightly-build" in decision.detail


def test_no_releases_carries_the_recipe_and_a_detail() -> None:
    """An empty upstream is skipped for that recipe with a message a user can read."""
    decision = pick([])
    assert isinstance(decision, Skip)
    assert decision.recipe is RECIPE and decision.reason is SkipReason.NO_RELEASES
    assert isinstance(decision.detail, str) and decision.detail.strip()


def test_everything_filtered_out_is_up_to_date_with_a_detail() -> None:
    """When the policy rejects every release the recipe is up to date, and the skip says why."""
    decision = pick([Release("2.0", yanked=True), Release("2.1rc1")])
    assert isinstance(decision, Skip)
    assert decision.recipe is RECIPE and decision.reason is SkipReason.UP_TO_DATE
    assert decision.latest is None
    assert isinstance(decision.detail, str) and decision.detail.strip()


def test_up_to_date_carries_the_recipe() -> None:
    """A recipe already on the newest release is skipped as up to date, naming that release."""
    decision = pick([Release("0.9"), Release("1.0.0")])
    assert isinstance(decision, Skip)
    assert decision.recipe is RECIPE and decision.reason is SkipReason.UP_TO_DATE
    assert decision.latest == "1.0.0"
    assert isinstance(decision.detail, str)


def test_a_release_exactly_the_minimum_age_is_old_enough() -> None:
    """`minimum_release_age: 3` lets a release published exactly three days ago through."""
    policy = Policy(minimum_release_age=timedelta(days=3))
    exact = Release("1.2", published=NOW - timedelta(days=3))
    just_too_young = Release("1.3", published=NOW - timedelta(days=3) + timedelta(seconds=1))
    decision = pick([exact, just_too_young], policy)
    assert isinstance(decision, Update) and decision.new == "1.2"


def test_an_ignore_entry_written_as_a_tag_matches_the_version() -> None:
    """`ignore: [v1.3]` ignores release 1.3: entries are compared as normalized versions."""
    decision = pick([Release("1.3"), Release("1.2")], Policy(ignore=("v1.3",)))
    assert isinstance(decision, Update) and decision.new == "1.2"


def test_a_broken_regex_in_ignore_does_not_disable_later_entries() -> None:
    """An entry that is no valid regex is skipped; the entries after it still apply."""
    decision = pick([Release("1.3"), Release("1.2")], Policy(ignore=("1.(", "1.3")))
    assert isinstance(decision, Update) and decision.new == "1.2"


def test_allowed_range_lets_prereleases_through_when_they_are_wanted() -> None:
    """With `prereleases: true`, a pre-release inside `allowed` is chosen."""
    policy = Policy(prereleases=True, allowed="<3")
    decision = pick([Release("2.1rc1"), Release("2.0")], policy)
    assert isinstance(decision, Update) and decision.new == "2.1rc1"


def test_allowed_range_reads_prereleases_as_pep440_does() -> None:
    """`allowed: >=2` excludes 2.0rc1, which PEP 440 places below 2.0."""
    policy = Policy(prereleases=True, allowed=">=2")
    decision = pick([Release("2.0rc1")], policy)
    assert isinstance(decision, Skip) and decision.reason is SkipReason.UP_TO_DATE


def test_allowed_range_excludes_loose_versions_by_their_numbers() -> None:
    """A loose version outside the range (3.0.0a, a patch letter) is not chosen."""
    policy = Policy(allowed="<3")
    decision = pick([Release("3.0.0a"), Release("1.1.1x")], policy, current="1.1.1w")
    assert isinstance(decision, Update) and decision.new == "1.1.1x"
