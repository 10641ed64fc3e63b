"""The benchmark measures what it claims: a small corpus, no latency, the same code paths.

Timings are not asserted here (they belong to bench/*.py runs on a quiet machine); what is
asserted is that the benchmark's sweeps are correct, so its figures mean something.
"""

from __future__ import annotations

import re
import sys
import tomllib
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # bench/ is no installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import Planned, generate, nvchecker_entry
from bench.hash_bench import parse_size
from bench.sweep_bench import bench_config, measure_sweep, nvchecker_config, wrong_answers
from bench.upstream import Upstream, file_sha256
from bot.http import Http, HttpSettings

RECIPES = 20


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream(latency=0.0) as server:
        yield server


@pytest.fixture
def plans(tmp_path: Path, upstream: Upstream) -> list[Planned]:
    # Half of them outdated, so that every checker has some updates to hash.
    return generate(tmp_path / "recipes", RECIPES, upstream, seed=7, outdated_share=0.5)


def test_the_corpus_has_the_documented_mix(plans: list[Planned]) -> None:
    """40% PyPI, 25% GitHub, 25% listings, 10% crawled sites, each recipe in its own folder."""
    assert Counter(plan.checker for plan in plans) == {
        "pypi": 8,
        "github": 5,
        "listing": 5,
        "crawl": 2,
    }
    assert len({plan.name for plan in plans}) == RECIPES


def test_cold_sweep_finds_every_planned_answer_and_hashes_the_updates(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    """Every recipe reads, checks to the planned status and version, and every update hashes."""
    config = bench_config(upstream.base, 4, tmp_path / "cache.sqlite")
    cold = measure_sweep(tmp_path / "recipes", config)
    assert cold.errors == [] and cold.hash_errors == []
    assert wrong_answers(cold, plans) == []
    outdated = [plan for plan in plans if plan.outdated]
    on_pypi = sum(plan.checker == "pypi" for plan in outdated)
    # PyPI publishes its hashes; every other update downloads its file, once.
    assert cold.hashes == {"published": on_pypi, "downloaded": len(outdated) - on_pypi}
    assert upstream.counters().downloads == len(outdated) - on_pypi
    assert cold.requests == upstream.counters().requests


def test_warm_sweep_only_revalidates_and_downloads_nothing(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    """With the cold sweep's cache every request is conditional, answered 304, no file refetched."""
    config = bench_config(upstream.base, 4, tmp_path / "cache.sqlite")
    measure_sweep(tmp_path / "recipes", config)
    upstream.reset()
    warm = measure_sweep(tmp_path / "recipes", config)
    seen = upstream.counters()
    assert wrong_answers(warm, plans) == []
    assert seen.requests == seen.conditional == seen.not_modified == warm.not_modified > 0
    assert seen.downloads == 0 and warm.bytes == 0
    assert "downloaded" not in warm.hashes and warm.hashes.get("cached", 0) > 0


def test_nvchecker_is_given_pages_where_it_finds_the_same_answer(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    """The comparison is fair: on the page it is given, nvchecker's regex finds the latest."""
    subset = [plan for plan in plans if plan.checker in ("listing", "crawl")]
    config = tomllib.loads(nvchecker_config(subset, upstream.base, 4, tmp_path / "new.json"))
    assert config["__config__"]["max_concurrency"] == 4
    for plan in subset:
        entry = nvchecker_entry(plan, upstream.base)
        assert config[plan.name] == entry
        with urllib.request.urlopen(entry["url"]) as response:
            page = response.read().decode()
        found = re.findall(entry["regex"], page)
        assert str(max(found, key=Version)) == plan.latest


def test_hashing_a_generated_download_gives_its_known_digest(upstream: Upstream) -> None:
    """The hash benchmark's file is made on the fly, and its digest is known in advance."""
    size = parse_size("3MiB") + 17  # not a whole number of chunks
    upstream.add_file("/big.tar.gz", size)
    with Http(HttpSettings(cache=None)) as http:
        assert http.sha256(upstream.base + "/big.tar.gz") == file_sha256("/big.tar.gz", size)
        assert http.stats.snapshot()["bytes"] == size


def test_sizes_read_as_people_write_them() -> None:
    """`1GB` is 10^9 bytes, `1GiB` 2^30: both spellings are accepted."""
    assert parse_size("1GB") == 10**9
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("1e6") == 10**6
