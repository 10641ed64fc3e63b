"""Every "not updated" in a sweep has a name from the closed set, and the right status."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from bot.config import Config
from bot.errors import RateLimited, UpstreamNotFound
from bot.http import Http, HttpSettings
from bot.model import Recipe, Release, Source
from bot.reasons import ERRORS, SKIPS, STOPS, WAITS, Reason
from bot.sweep import check_recipe


class Stub:
    """A checker that claims every URL and answers with what the test gives it."""

    OPTIONS = frozenset({"package"})

    def __init__(self, answer: list[Release] | Exception) -> None:
        self.answer = answer

    def detect(self, url: str) -> dict[str, Any] | None:
        return {"package": "attrs"} if "example.org" in url else None

    def releases(self, recipe: Recipe, options: Mapping[str, Any], ctx: Any) -> list[Release]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(HttpSettings(cache=None)) as client:
        yield client


def recipe(url: str = "https://example.org/attrs-1.0.tar.gz", **options: Any) -> Recipe:
    return Recipe("attrs", "attrs/meta.yaml", "conda-v0", "1.0", (Source(url),), options)


def check(http: Http, answer: list[Release] | Exception, subject: Recipe | None = None):
    registry = {"pypi": Stub(answer), "github": Stub([]), "listing": Stub([])}
    return check_recipe(subject or recipe(), Config(), http, registry)  # type: ignore[arg-type]


def test_a_rate_limit_is_a_skip_not_an_error(http: Http) -> None:
    """A spent request budget says nothing about the recipe: skipped, rate-limited."""
    result = check(http, RateLimited("GitHub's budget is spent", reset_at=0))
    assert (result.status, result.reason) == ("skipped", Reason.RATE_LIMITED)


def test_an_upstream_failure_is_an_error_with_its_reason(http: Http) -> None:
    """A 404 upstream is an error named not-found."""
    result = check(http, UpstreamNotFound("no such package"))
    assert (result.status, result.reason, result.error) == (
        "error",
        Reason.NOT_FOUND,
        "no such package",
    )


def test_a_recipe_no_checker_recognises_is_skipped(http: Http) -> None:
    """Nothing to ask is no failure: skipped with no-checker; the message says what to set."""
    result = check(http, [], recipe("https://elsewhere.invalid/attrs-1.0.tar.gz"))
    assert (result.status, result.reason) == ("skipped", Reason.NO_CHECKER)
    assert "extra.update_check.checker" in (result.error or "")


def test_disabled_no_releases_and_up_to_date_have_names(http: Http) -> None:
    """Disabled, an empty release list and the current version each give their own reason."""
    assert check(http, [], recipe(disabled=True)).reason is Reason.DISABLED
    assert check(http, []).reason is Reason.NO_RELEASES
    up = check(http, [Release("1.0")])
    assert (up.status, up.reason) == ("up-to-date", Reason.UP_TO_DATE)


def test_a_crashing_checker_is_an_internal_error(http: Http) -> None:
    """A bug in a checker keeps the sweep going, as an internal error."""
    result = check(http, ZeroDivisionError("bug"))
    assert (result.status, result.reason) == ("error", Reason.INTERNAL_ERROR)


def test_the_reason_groups_partition_the_closed_set() -> None:
    """Each reason is exactly one of a skip, an error, a wait or a stop."""
    groups = [SKIPS, ERRORS, WAITS, STOPS]
    assert set().union(*groups) == set(Reason)
    assert sum(len(group) for group in groups) == len(Reason)


def test_a_published_hash_that_changed_is_reported_as_a_reupload(http: Http) -> None:
    """Up to date, but the upstream now lists another sha256 for the pinned file: reported."""
    url = "https://example.org/attrs-1.0.tar.gz"
    subject = Recipe("attrs", "attrs/meta.yaml", "conda-v0", "1.0", (Source(url, "A" * 64),))
    release = Release(
        "1.0", hashes={"attrs-1.0.tar.gz": "b" * 64}, locations=frozenset({"https://example.org/"})
    )
    result = check(http, [release], subject)
    assert result.status == "up-to-date"
    assert [(r.url, r.recorded, r.published) for r in result.reuploads] == [
        (url, "a" * 64, "b" * 64)
    ]


def test_same_hash_another_host_or_another_version_is_no_reupload(http: Http) -> None:
    """Only the recipe's own version, a matching name and the upstream's own location count."""
    url = "https://example.org/attrs-1.0.tar.gz"
    subject = Recipe("attrs", "attrs/meta.yaml", "conda-v0", "1.0", (Source(url, "a" * 64),))
    where = frozenset({"https://example.org/"})
    cases = [
        Release("1.0", hashes={"attrs-1.0.tar.gz": "A" * 64}, locations=where),
        Release(
            "1.0", hashes={"attrs-1.0.tar.gz": "b" * 64}, locations=frozenset({"https://mirror/"})
        ),
        Release("1.0", hashes={"other-1.0.tar.gz": "b" * 64}, locations=where),
    ]
    for release in cases:
        assert check(http, [release], subject).reuploads == ()
