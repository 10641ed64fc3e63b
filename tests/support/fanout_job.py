"""One sweep in a process of its own, as `check` runs it; prints what it found as JSON.

    python tests/support/fanout_job.py JOB.json

The sweep forks its checking processes only when no foreign thread is running, and a pytest
process has the test servers' threads: so tests of the forked sweep run it here. JOB names the
upstream's base URL, the recipes, the cache, `processes`, and optionally `kill`: a recipe whose
check kills the checking process it runs in (never the main one), as the OOM killer would.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is no installed package

from bench.sweep_bench import bench_config
from bot import fanout, formats
from bot import log as logs
from bot.http import Http
from bot.model import Recipe
from bot.recipes import stream_recipes
from bot.sweep import CheckResult, sweep
from checkers import Checker, load_registry
from checkers.api import CheckContext

MAIN = os.getpid()


class Sabotage:
    """A checker that, in a child only, kills the process checking `victim` (as the OOM
    killer would) or, with `hang`, never returns from it (as a deadlocked child would)."""

    def __init__(self, inner: Checker, victim: str, *, hang: bool) -> None:
        self._inner, self._victim, self._hang = inner, victim, hang

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def releases(self, recipe: Recipe, options: Any, context: CheckContext) -> Any:
        if recipe.name == self._victim and os.getpid() != MAIN:
            if self._hang:
                threading.Event().wait()
            os.kill(os.getpid(), signal.SIGKILL)
        return self._inner.releases(recipe, options, context)


def trace_reads(record: Path) -> None:
    """Append the parsing process's id to `record` for every recipe file parsed."""
    parse = formats.read_recipe

    def traced(*args: Any, **kwargs: Any) -> Any:
        with record.open("a") as file:  # one short append a line: lines of processes never mix
            file.write(f"{os.getpid()} {gc.get_freeze_count()}\n")
        return parse(*args, **kwargs)

    formats.read_recipe = traced  # type: ignore[assignment]


class Interrupted(Exception):
    """Raised from `on_result`, as Ctrl-C would be, after `interrupt` results."""


def main(job_file: str) -> None:
    job = json.loads(Path(job_file).read_text())
    # A StringIO, which no child can write to: their lines reach it through this process.
    log = io.StringIO()
    logs.configure(level="INFO", stream=log, json=True)
    config = bench_config(job["base"], job["concurrency"], Path(job["cache"]))
    config = replace(config, http=replace(config.http, processes=job["processes"]))
    registry = load_registry()
    if job.get("victim"):
        registry = {
            name: Sabotage(checker, job["victim"], hang=job.get("hang", False))
            for name, checker in registry.items()
        }
    if job.get("fork_fails"):  # as when the process table or memory is full

        def refuse() -> int:
            raise OSError(11, "Resource temporarily unavailable")

        os.fork = refuse
    if job.get("stall"):  # seconds of silence after which a child with work counts as hung
        fanout.STALL_SECONDS, fanout.POLL_SECONDS = job["stall"], job["stall"] / 4
    reads = Path(job["cache"]).with_suffix(".reads")
    reads.unlink(missing_ok=True)  # a job before this one, on the same cache
    trace_reads(reads)
    seen: list[str] = []
    passed: list[CheckResult] = []  # what on_result was given

    def on_result(result: CheckResult) -> None:
        seen.append(result.name)
        passed.append(result)
        if len(seen) == job.get("interrupt"):
            raise Interrupted

    results: list[CheckResult] = []
    with Http(config.http_settings({})) as http:
        entries = stream_recipes(Path(job["root"]), config, cache=http.store.table("recipes"))
        with contextlib.suppress(Interrupted):
            keep = job.get("keep", True)
            results = sweep(entries, config, http, registry, on_result=on_result, keep=keep)
        stats = http.stats.snapshot()
    try:  # every checking process reaped: none left running, none a zombie
        os.waitpid(-1, os.WNOHANG)
        children_left = True
    except ChildProcessError:
        children_left = False
    events = [json.loads(line) for line in log.getvalue().splitlines()]
    lines = reads.read_text().splitlines() if reads.exists() else []
    readers = [int(line.split()[0]) for line in lines]
    # Objects frozen in each process that parsed (the children inherit the parent's freeze).
    frozen = [int(line.split()[1]) for line in lines]
    print(
        json.dumps(
            {
                "results": [[r.name, r.status, r.latest] for r in results],
                "passed": [[r.name, r.status, r.latest] for r in passed],
                "frozen_after": gc.get_freeze_count(),
                "seen": seen,
                "stats": stats,
                "events": [e for e in events if e["event"] != "recipe_checked"],
                "checked": sorted(e["recipe"] for e in events if e["event"] == "recipe_checked"),
                "children_left": children_left,
                # Recipe files parsed by this process and by the checking processes.
                "parsed_here": readers.count(MAIN),
                "parsed_elsewhere": len(readers) - readers.count(MAIN),
                "frozen_elsewhere": min(
                    (count for pid, count in zip(readers, frozen, strict=True) if pid != MAIN),
                    default=None,
                ),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
