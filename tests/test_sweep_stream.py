"""A sweep checks recipes while the others are still being read, and keeps their order.

The checks run on real threads; the reading side is a generator, as bot.recipes.stream_recipes
gives one.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import Config, HttpConfig
from bot.http import Http, HttpSettings
from bot.model import Recipe, Release, Source
from bot.recipes import Entry, Unreadable, load_recipes, stream_recipes
from bot.sweep import CheckResult, sweep

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class SlowChecker:
    """Answers `2.0` for every recipe after a per-recipe delay, noting which checks started."""

    OPTIONS = frozenset({"package"})

    def __init__(self, delays: Mapping[str, float]) -> None:
        self.delays = delays
        self.started: dict[str, threading.Event] = {name: threading.Event() for name in delays}

    def detect(self, url: str) -> dict[str, Any] | None:
        return {"package": url.rsplit("/", 1)[-1]}

    def releases(self, recipe: Recipe, options: Mapping[str, Any], ctx: Any) -> list[Release]:
        self.started[recipe.name].set()
        time.sleep(self.delays[recipe.name])
        return [Release("2.0")]


def recipe(name: str) -> Recipe:
    return Recipe(name, f"{name}/meta.yaml", "conda-v0", "1.0", (Source(f"https://x.org/{name}"),))


def run(entries: Any, checker: SlowChecker, seen: list[str] | None = None) -> list[CheckResult]:
    config = Config(http=HttpConfig(concurrency=8, cache=None))
    with Http(HttpSettings(cache=None)) as http:
        return sweep(
            entries,
            config,
            http,
            {"pypi": checker, "github": checker, "listing": checker},
            now=NOW,
            on_result=(lambda result: seen.append(result.name)) if seen is not None else None,
        )


def test_checking_starts_before_reading_ends() -> None:
    """The generator cannot yield its second recipe until the first one's check has started."""
    checker = SlowChecker({"first": 0.0, "second": 0.0})
    overlapped: list[bool] = []

    def reading() -> Iterator[Entry]:
        yield recipe("first")
        # A sweep that read everything before checking would wait here for the full timeout.
        overlapped.append(checker.started["first"].wait(timeout=10))
        yield recipe("second")

    results = run(reading(), checker)
    assert overlapped == [True]
    assert [result.status for result in results] == ["outdated", "outdated"]


def test_results_keep_the_order_of_entries_whatever_finishes_first() -> None:
    """Checks that finish in another order still come back, and are reported, in entry order."""
    names = [f"recipe{number:02d}" for number in range(30)]
    rng = random.Random(3)
    checker = SlowChecker({name: rng.uniform(0, 0.02) for name in names})
    seen: list[str] = []
    results = run((recipe(name) for name in names), checker, seen)
    assert [result.name for result in results] == names
    assert seen == names


def test_a_list_of_entries_still_works_with_unreadable_ones_in_place() -> None:
    """A plain list is accepted too; an unreadable entry keeps its place as an error result."""
    checker = SlowChecker({"a": 0.0, "c": 0.0})
    entries: list[Entry] = [recipe("a"), Unreadable("b/meta.yaml", "broken"), recipe("c")]
    results = run(entries, checker)
    assert [(result.name, result.status) for result in results] == [
        ("a", "outdated"),
        ("b", "error"),
        ("c", "outdated"),
    ]


def test_stream_recipes_reads_what_load_recipes_reads(tmp_path: Path) -> None:
    """The stream yields the same entries in the same path order, names filtering included."""
    for name, version in (("zlib", "1.3"), ("attrs", "23.1.0"), ("six", "1.16.0")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "meta.yaml").write_text(
            f"package:\n  name: {name}\n  version: {version}\n"
            f"source:\n  url: https://example.org/{name}-{version}.tar.gz\n"
        )
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "meta.yaml").write_text("package: [\n")
    config = Config()
    streamed = stream_recipes(tmp_path, config)
    assert len(streamed.files) == 4
    assert list(streamed) == load_recipes(tmp_path, config)
    assert [entry.name for entry in streamed] == ["attrs", "broken", "six", "zlib"]
    assert [e.name for e in stream_recipes(tmp_path, config, ["six", "zlib"])] == ["six", "zlib"]


def test_a_sweep_that_keeps_nothing_still_passes_every_result_in_order() -> None:
    """`keep=False`: the caller keeps what it needs of each result; the sweep returns none."""
    names = [f"recipe{number:02d}" for number in range(12)]
    rng = random.Random(5)
    checker = SlowChecker({name: rng.uniform(0, 0.02) for name in names})
    passed: list[CheckResult] = []
    config = Config(http=HttpConfig(concurrency=8, cache=None))
    with Http(HttpSettings(cache=None)) as http:
        registry = {"pypi": checker, "github": checker, "listing": checker}
        returned = sweep([recipe(name) for name in names], config, http, registry, now=NOW,
                         on_result=passed.append, keep=False)  # fmt: skip
    assert returned == []
    assert [(result.name, result.status) for result in passed] == [
        (name, "outdated") for name in names
    ]
