"""A sweep checked in several processes finds what one process finds, and loses nothing.

The forked sweeps run in a process of their own (tests/support/fanout_job.py): this one has
the test server's threads, and the sweep rightly refuses to fork beside foreign threads. The
upstream is the benchmark's (bench/upstream.py): PyPI, GitHub, listings and crawled sites,
with validators, so a second sweep must be answered 304 throughout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import fanout, forking
from bot.config import ConfigError, parse_config
from bot.store import Store
from bot.sweep import checks_at_once

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench/ is no installed package
    sys.path.insert(0, str(ROOT))

from bench.corpus import Planned, generate  # noqa: E402
from bench.upstream import Upstream  # noqa: E402

RECIPES = 120
JOB = ROOT / "tests" / "support" / "fanout_job.py"


# --- the forked sweep, end to end ---------------------------------------------------------


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream(latency=0.0) as server:
        yield server


@pytest.fixture
def plans(tmp_path: Path, upstream: Upstream) -> list[Planned]:
    return generate(tmp_path / "recipes", RECIPES, upstream, seed=11, outdated_share=0.4)


def run_job(tmp_path: Path, upstream: Upstream, name: str, **job: Any) -> dict[str, Any]:
    spec = {
        "base": upstream.base,
        "root": str(tmp_path / "recipes"),
        "cache": str(tmp_path / "cache.sqlite"),
        "concurrency": 8,
        **job,
    }
    job_file = tmp_path / f"{name}.json"
    job_file.write_text(json.dumps(spec))
    done = subprocess.run(
        [sys.executable, str(JOB), str(job_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def expected(plans: list[Planned]) -> list[list[str]]:
    return [
        [plan.name, "outdated" if plan.outdated else "up-to-date", plan.latest]
        for plan in sorted(plans, key=lambda plan: plan.name)
    ]


def events(found: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [event for event in found["events"] if event["event"] == name]


def test_two_processes_find_every_planned_answer_in_order(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    found = run_job(tmp_path, upstream, "cold", processes=2)
    started = events(found, "checking_in_processes")[0]
    assert started["processes"] == 2 and started["slots"] == [4, 4]
    # The children read what is not cached before checking it: half more checks than slots.
    assert started["checks"] == [checks_at_once(4, reading=True)] * 2 == [6, 6]
    assert found["results"] == expected(plans)  # the recipes' order, every answer right
    assert found["seen"] == [name for name, *_ in found["results"]]  # on_result, in order
    # The children's log lines, once each, reached this process's log (a StringIO).
    assert found["checked"] == sorted(plan.name for plan in plans)
    # The children's counters are merged into the main process's: what the server saw.
    assert found["stats"]["requests"] == upstream.counters().requests > 0
    # Nothing was cached: every recipe was parsed once, the first ones by the checking
    # processes (with nothing to do yet, they are short of work).
    assert found["parsed_here"] + found["parsed_elsewhere"] == RECIPES
    assert found["parsed_elsewhere"] >= 1
    # What the children inherited stayed frozen there (no collection copies those pages);
    # here it is collectable again once the sweep is over.
    assert found["frozen_elsewhere"] > 1000 and found["frozen_after"] == 0


def test_the_main_process_reads_while_its_children_are_busy(tmp_path: Path) -> None:
    """With replies that take a while, the children have work enough after the first few
    recipes, so the main process reads the rest itself (and keeps them in the cache): their
    threads keep their interpreter for their checks. A recipe that cannot be read is
    reported as such, and the others go on."""
    broken = tmp_path / "recipes" / "zz-broken" / "meta.yaml"  # the last in path order
    broken.parent.mkdir(parents=True)
    broken.write_text("package:\n  name: zz-broken\n  version: [1.0\n")
    with Upstream(latency=0.02) as slow:
        plans = generate(tmp_path / "recipes", RECIPES, slow, seed=11, outdated_share=0.4)
        want = [*expected(plans), ["zz-broken", "error", None]]
        found = run_job(tmp_path, slow, "busy", processes=2)
        assert found["results"] == want
        assert found["parsed_here"] + found["parsed_elsewhere"] == RECIPES + 1
        # The first ones, which the idle children were short of (on a calm machine 14: their
        # checks and a few more each, then never again); the rest, most of them, here. On a
        # busy machine the children read more: the main process cannot keep up.
        assert found["parsed_elsewhere"] >= 1 and found["parsed_here"] >= RECIPES // 2
        slow.reset()
        warm = run_job(tmp_path, slow, "warm", processes=2)
    assert warm["parsed_here"] + warm["parsed_elsewhere"] == 0  # all kept in the cache
    assert warm["results"] == want


def test_a_sweep_that_keeps_nothing_passes_every_result_in_order(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    found = run_job(tmp_path, upstream, "unkept", processes=2, keep=False)
    assert found["results"] == []
    assert found["passed"] == expected(plans)


def test_the_children_fill_the_cache_and_a_second_sweep_is_all_304s(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    run_job(tmp_path, upstream, "cold", processes=2)
    upstream.reset()
    warm = run_job(tmp_path, upstream, "warm", processes=2)
    assert warm["results"] == expected(plans)
    # What the children parsed, they kept in the recipes' cache: nobody parses it again.
    assert warm["parsed_here"] + warm["parsed_elsewhere"] == 0
    server = upstream.counters()
    assert server.requests == server.conditional == server.not_modified > 0
    assert warm["stats"]["not_modified"] == server.not_modified
    assert warm["stats"]["reparsed"] == 0


def test_one_process_and_three_agree(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    one = run_job(tmp_path, upstream, "one", processes=1, cache=str(tmp_path / "one.sqlite"))
    three = run_job(tmp_path, upstream, "three", processes=3, cache=str(tmp_path / "3.sqlite"))
    assert not events(one, "checking_in_processes")
    assert events(three, "checking_in_processes")[0]["slots"] == [3, 3, 2]  # 8, shared out
    assert one["results"] == three["results"] == expected(plans)


def test_a_killed_child_loses_nothing(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    """A child killed mid-sweep (the OOM killer, say): what it had not answered is checked by
    the main process, every result is there once and in order, and the death is logged."""
    victim = sorted(plan.name for plan in plans)[RECIPES // 3]
    found = run_job(tmp_path, upstream, "kill", processes=2, victim=victim)
    assert found["results"] == expected(plans)
    died = events(found, "checking_process_died")
    assert len(died) == 1
    assert died[0]["exit_code"] == -9 and died[0]["unanswered"] >= 1
    assert not found["children_left"]
    # Of the recipes it was given, those it was to read are read again here: every recipe
    # once, and at most those it had not answered twice.
    parsed = found["parsed_here"] + found["parsed_elsewhere"]
    assert RECIPES <= parsed <= RECIPES + died[0]["unanswered"]


def test_a_hung_child_is_killed_and_its_work_checked_here(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    """A child that answers nothing while it has work (a deadlock) is killed after the stall
    time; what it had not answered is checked by the main process."""
    victim = sorted(plan.name for plan in plans)[-1]
    found = run_job(tmp_path, upstream, "hang", processes=2, victim=victim, hang=True, stall=1.0)
    assert found["results"] == expected(plans)
    assert len(events(found, "checking_process_stalled")) == 1
    assert events(found, "checking_process_died")[0]["exit_code"] == -9
    assert not found["children_left"]


def test_a_sweep_that_cannot_fork_checks_everything_here(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    found = run_job(tmp_path, upstream, "nofork", processes=2, fork_fails=True)
    assert found["results"] == expected(plans)
    assert events(found, "cannot_fork") and not events(found, "checking_in_processes")
    assert found["seen"] == [name for name, *_ in found["results"]]


def test_an_interrupted_sweep_leaves_no_process_behind(
    tmp_path: Path, upstream: Upstream, plans: list[Planned]
) -> None:
    """An exception in the main process (Ctrl-C, say) ends the sweep, and its children."""
    found = run_job(tmp_path, upstream, "interrupt", processes=2, interrupt=10)
    assert len(found["seen"]) == 10 and found["results"] == []
    assert not found["children_left"]


# --- when to fork, and how many ------------------------------------------------------------


def test_checks_at_once_leave_no_slot_waiting_for_a_check() -> None:
    assert [checks_at_once(n) for n in (1, 4, 8, 20)] == [2, 5, 10, 25]
    assert [checks_at_once(n, reading=True) for n in (1, 4, 8, 20)] == [2, 6, 12, 30]


def test_shares_add_up_and_differ_by_one_at_most() -> None:
    for total in range(1, 40):
        for parts in range(1, total + 1):
            shares = [fanout.share(total, parts, index) for index in range(parts)]
            assert sum(shares) == total
            assert max(shares) - min(shares) <= 1


def test_processes_follow_the_setting_within_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "usable_cpus", lambda: 8)
    limits = {"concurrency": 16, "per_host": 4}
    assert fanout.processes_for(3, expected=5, **limits) == 3  # asked: even for a few recipes
    assert fanout.processes_for(8, expected=None, **limits) == 4  # never more than per_host
    assert fanout.processes_for(2, expected=None, concurrency=1, per_host=4) == 1
    # Unset: the CPUs (at most four), and at least a hundred recipes for each process.
    assert fanout.processes_for(None, expected=10_000, **limits) == 4
    assert fanout.processes_for(None, expected=None, **limits) == 1  # how many, unknown
    assert fanout.processes_for(None, expected=250, **limits) == 2
    assert fanout.processes_for(None, expected=99, **limits) == 1
    monkeypatch.setattr(fanout, "usable_cpus", lambda: 1)
    assert fanout.processes_for(None, expected=10_000, **limits) == 1


@pytest.mark.parametrize(
    ("files", "cpus"),
    [
        ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs of quota: two processes gain
        ({"cpu.max": "100000 100000\n"}, 1),
        ({"cpu.max": "max 100000\n"}, None),  # no quota: the affinity decides
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu.max": "garbage\n"}, None),
        ({}, None),
    ],
)
def test_usable_cpus_respect_a_cgroup_quota(
    tmp_path: Path, files: dict[str, str], cpus: int | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    affinity = len(os.sched_getaffinity(0))
    assert fanout.usable_cpus(tmp_path) == (min(affinity, cpus) if cpus else affinity)


def test_processes_setting_is_validated() -> None:
    assert parse_config({"http": {"processes": 2}}).http.processes == 2
    assert parse_config({}).http.processes is None
    with pytest.raises(ConfigError, match=r"http\.processes"):
        parse_config({"http": {"processes": 0}})


def test_a_foreign_thread_forbids_forking() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with forking.quiet() as safe:
            assert not safe
    finally:
        stop.set()
        thread.join()
    with forking.quiet() as safe:
        assert safe == (threading.active_count() == 1)


def test_parked_threads_allow_forking_and_wait_for_it() -> None:
    """A parkable thread between two pieces of work allows a fork, and its next piece waits
    until the fork is done; one in the middle of a piece makes the fork wait, then give up."""
    stop, inside, release = threading.Event(), threading.Event(), threading.Event()
    worked: list[str] = []

    def background() -> None:
        with forking.parkable():
            stop.wait()
            with forking.working():
                worked.append("after")
            inside.set()
            with forking.working():
                release.wait()

    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    if others:
        pytest.skip(f"threads left by other tests: {others}")
    thread = threading.Thread(target=background)
    thread.start()
    try:
        with forking.quiet() as safe:
            assert safe
            stop.set()
            thread.join(0.2)
            assert worked == []  # its work waits while the fork is under way
        inside.wait(5)
        assert worked == ["after"]
        with forking.quiet(timeout=0.1) as safe:
            assert not safe  # it is working: the fork does not wait for ever
    finally:
        stop.set()
        release.set()
        thread.join()


# --- a store let go of before a fork --------------------------------------------------------


def test_a_released_store_keeps_its_writes_and_reconnects(tmp_path: Path) -> None:
    path = str(tmp_path / "cache.sqlite")
    store = Store(path, flush_every=3600)
    pages = store.table("pages")
    pages.put("a", b"1")
    assert pages.get("a") == b"1"
    store.release()
    # Nothing of SQLite is left open, and no flusher runs.
    assert not [t for t in threading.enumerate() if t.name == "store-flush"]
    assert Store(path).table("pages").get("a") == b"1"  # committed, seen from another store
    assert pages.get("a") == b"1"  # and this one reconnects
    pages.put("b", b"2")
    store.close()
    assert Store(path).table("pages").get("b") == b"2"


def test_children_get_a_cpu_each_only_when_the_cpus_are_exactly_theirs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cpuset of as many CPUs as children (a machine or pod of their own): one each. More
    CPUs than children (a shared node under a quota): nobody is pinned."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {5, 3})
    assert fanout._own_cpus(2) == [3, 5]
    assert fanout._own_cpus(1) == []
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(32)))
    assert fanout._own_cpus(4) == []
