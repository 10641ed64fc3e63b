"""Benchmark a whole sweep: N generated recipes, their upstreams on 127.0.0.1 with latency.

    generate N recipes and their upstreams (bench.corpus), serve them (bench.upstream)
    -> cold sweep: a fresh cache; check every recipe, then rewrite and hash every outdated one
    -> warm sweep: the same cache; every page must come back 304 and no file be downloaded again
    -> the listing and the crawl recipes alone, checked by recipe-bot and by nvchecker

Each measured run is a child process (`--worker JOB`): its peak RSS is its own, and the server,
which stays in this process, does not compete for its GIL. Every answer is checked against what
the generator planned, and each tool's counters against the server's: a benchmark that gets
answers wrong measures nothing.

    python bench/sweep_bench.py [--recipes 2000] [--latency 0.05] [--concurrency 16]
                                [--kinds listing,crawl] [--processes N] [--skip-nvchecker]
                                [--json FILE] [--keep DIR]

The floor of a sweep is `requests x latency / concurrency`: the time the network alone needs
when every slot is busy all the time. Reading recipes overlaps with checking them (as `check`
and `run` do), so "read and check" is one wall time; the time spent reading within it is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # `python bench/sweep_bench.py` from a checkout: find `bench` and `bot`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import GITHUB_API_PATH, PYPI_PATH, Planned, generate, nvchecker_entry, save_plan
from bench.measure import cpu_seconds, peak_rss_mb, rss_mb, run_sampled
from bench.upstream import Upstream
from bot import log as logs
from bot.change import make_change
from bot.config import Config, HttpConfig
from bot.errors import RecipeBotError
from bot.http import Http
from bot.model import Update
from bot.recipes import Entry, Recipes, Unread, load_recipes, stream_recipes
from bot.store import Table
from bot.sweep import CheckResult, sweep
from checkers import load_registry

ROOT = Path(__file__).resolve().parents[1]
TARGET_COLD_SECONDS = 30.0
TARGET_FLOOR_RATIO = 1.2  # reading and checking, cold, against the network's floor
TARGET_PEAK_MB = 150.0
NVCHECKER_KINDS = ("listing", "crawl")  # what nvchecker can be pointed at offline
# Where recipe-bot must keep up with nvchecker: on crawls it reads 3 pages where nvchecker is
# handed the one with the links, by design.
PARITY_KINDS = ("listing",)


@dataclass
class SweepFigures:
    """One recipe-bot sweep, as measured inside its process."""

    load_s: float = 0.0  # reading recipes: time spent in the reader, within check_s
    check_s: float = 0.0  # reading and checking every recipe (they overlap), wall time
    check_cpu_s: float = 0.0  # CPU used meanwhile, checking processes included: immune to load
    hash_s: float = 0.0  # rewriting the outdated recipes, downloading and hashing their files
    requests: int = 0  # the HTTP layer's own counters
    check_requests: int = 0  # of those, sent while reading and checking
    not_modified: int = 0
    bytes: int = 0
    reparsed: int = 0  # bodies of 304 pages parsed again
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # the first few, to say what went wrong
    hashes: dict[str, int] = field(default_factory=dict)  # by origin: downloaded, cached, published
    hash_errors: list[str] = field(default_factory=list)
    outcomes: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # status, latest
    rss_start_mb: float = 0.0  # after the imports
    rss_peak_mb: float = 0.0  # this process's own (VmHWM)
    # With its checking processes (bot.fanout), sampled: PSS counts a page they share once.
    tree_pss_peak_mb: float = 0.0
    tree_rss_peak_mb: float = 0.0
    processes: int = 0  # the most processes seen at once, this one included
    server: dict[str, int] = field(default_factory=dict)  # what the server saw meanwhile
    # The benchmark's own process meanwhile: the server, and the memory sampler. Both share
    # the CPUs with the tool measured, so a costly server slows a CPU-bound tool down.
    server_cpu_s: float = 0.0

    @property
    def wall_s(self) -> float:
        return self.check_s + self.hash_s

    @property
    def peak_mb(self) -> float:
        """What the sweep cost in memory: its own peak, or with its checking processes."""
        return max(self.rss_peak_mb, self.tree_pss_peak_mb)

    def floor_s(self, latency: float, concurrency: int) -> float:
        """What reading and checking cannot beat: the check requests' latency, all slots busy."""
        return self.check_requests * latency / concurrency

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SweepFigures:
        outcomes = {name: (status, latest) for name, (status, latest) in raw["outcomes"].items()}
        return cls(**{**raw, "outcomes": outcomes})


def bench_config(
    base: str, concurrency: int, cache: Path | None, processes: int | None = None
) -> Config:
    """The bot's settings for the benchmark: its PyPI and GitHub pointed at the local server.

    `per_host` equals `concurrency` because every upstream here is one host, 127.0.0.1; a real
    sweep spreads over many hosts (pypi.org, api.github.com, each listing's server), and the
    default `per_host: 4` would make this benchmark measure one host's cap instead of the bot.
    `processes` None is the bot's default: as many as the CPUs allow (bot.fanout).
    """
    return Config(
        checkers={"pypi": {"url": base + PYPI_PATH}, "github": {"api_url": base + GITHUB_API_PATH}},
        http=HttpConfig(
            concurrency=concurrency,
            per_host=concurrency,
            cache=str(cache) if cache else None,
            processes=processes,
        ),
    )


# --- measured in the worker process -------------------------------------------------------


def measure_sweep(root: Path, config: Config, *, rewrite: bool = True) -> SweepFigures:
    """Load, check and (when `rewrite`) rewrite and hash every outdated recipe, timing each."""
    figures = SweepFigures()
    with Http(config.http_settings({})) as http:
        started, cpu = time.perf_counter(), cpu_seconds()
        entries = stream_recipes(root, config, cache=http.store.table("recipes"))
        results = sweep(_Timed(entries, figures), config, http, load_registry())
        figures.check_s = time.perf_counter() - started
        figures.check_cpu_s = cpu_seconds() - cpu
        figures.check_requests = http.stats.snapshot()["requests"]
        if rewrite:
            started = time.perf_counter()
            _rewrite_all(results, root, http, config.http.concurrency, figures)
            figures.hash_s = time.perf_counter() - started
        stats = http.stats.snapshot()
    figures.requests = stats["requests"]
    figures.not_modified = stats["not_modified"]
    figures.bytes = stats["bytes"]
    figures.reparsed = stats["reparsed"]
    figures.statuses = dict(Counter(result.status for result in results))
    figures.errors = [f"{r.name}: {r.error}" for r in results if r.status == "error"][:5]
    figures.outcomes = {result.name: (result.status, result.latest) for result in results}
    return figures


def measure_read(root: Path, config: Config) -> SweepFigures:
    """Only read the recipes, into the cache: what a repository's recipes cost to know."""
    figures = SweepFigures()
    with Http(config.http_settings({})) as http:
        started = time.perf_counter()
        entries = load_recipes(root, config, cache=http.store.table("recipes"))
        figures.load_s = time.perf_counter() - started
    figures.statuses = {"read": len(entries)}
    return figures


class _Timed:
    """The entries, adding the time spent reading each to `figures.load_s`; they say what the
    recipes say to the sweep (`expected`, `one_by_one`, `read_later`, `read`), which decides
    its processes by it. What the checking processes read is not counted: each adds its
    time to its own copy of the figures, which it never sends back."""

    def __init__(self, entries: Recipes, figures: SweepFigures, later: bool = False) -> None:
        self._entries, self._figures, self._later = entries, figures, later
        self.expected = entries.expected

    def read(self, unread: Unread, cache: Table | None) -> Entry:
        started = time.perf_counter()
        try:
            return self._entries.read(unread, cache)
        finally:
            self._figures.load_s += time.perf_counter() - started

    def one_by_one(self) -> _Timed:
        return _Timed(self._entries.one_by_one(), self._figures)

    def read_later(self) -> _Timed:
        return _Timed(self._entries, self._figures, later=True)

    def __iter__(self) -> Iterator[Entry | Unread]:
        iterator = iter(self._entries.read_later() if self._later else self._entries)
        while True:
            started = time.perf_counter()
            entry = next(iterator, None)
            self._figures.load_s += time.perf_counter() - started
            if entry is None:
                return
            yield entry


def _rewrite_all(
    results: Sequence[CheckResult], root: Path, http: Http, concurrency: int, figures: SweepFigures
) -> None:
    """What a run does for each outdated recipe: its new text, with a hash for each new source.

    On a thread pool like the checks: the first run over a repository has many updates at once.
    """
    updates = [result.update for result in results if result.update is not None]
    origins: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for outcome in pool.map(lambda update: _rewrite_one(update, root, http), updates):
            if isinstance(outcome, str):
                figures.hash_errors.append(outcome)
            else:
                origins.update(outcome)
    figures.hashes = dict(origins)


def _rewrite_one(update: Update, root: Path, http: Http) -> list[str] | str:
    """The origin of each hash the rewrite used, or what went wrong."""
    try:
        change = make_change(update, root, http)
    except RecipeBotError as exc:
        return f"{update.recipe.name}: {exc.message}"
    return [record.origin for record in change.hashes]


def worker(job_file: Path) -> None:
    """Run one recipe-bot sweep and print its figures as one JSON line."""
    job = json.loads(job_file.read_text())
    start_mb = rss_mb()
    with open(job["log"], "w") as log:
        # As the CLI logs when stderr is no terminal: a JSON line per recipe, which costs.
        logs.configure(level="INFO", stream=log, json=True)
        config = bench_config(
            job["base"], job["concurrency"], Path(job["cache"]), job.get("processes")
        )
        if job.get("read_only"):
            figures = measure_read(Path(job["root"]), config)
        else:
            figures = measure_sweep(Path(job["root"]), config, rewrite=job["rewrite"])
    figures.rss_start_mb, figures.rss_peak_mb = start_mb, peak_rss_mb()
    print(json.dumps(asdict(figures)))


# --- the orchestrator ---------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    """What every phase shares: the scratch directory, the server and the settings."""

    work: Path
    upstream: Upstream
    concurrency: int
    latency: float
    processes: int | None = None  # the bot's `http.processes`; None: its default

    def run(self, name: str, *command: str) -> dict[str, Any]:
        """One measured child process: the JSON line it prints, plus the server's counters."""
        paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
        self.upstream.reset()
        cpu = time.process_time()
        done, memory = run_sampled([sys.executable, "-m", *command], env=env)
        server_cpu_s = time.process_time() - cpu
        if done.returncode != 0:
            sys.exit(f"the {name} run failed:\n{done.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        figures["server"] = asdict(self.upstream.counters())
        figures["server_cpu_s"] = server_cpu_s
        figures.update(
            tree_pss_peak_mb=memory.pss_mb,
            tree_rss_peak_mb=memory.rss_mb,
            processes=memory.processes,
        )
        return figures

    def sweep(
        self, name: str, root: Path, cache: Path, *, rewrite: bool, read_only: bool = False
    ) -> SweepFigures:
        job = {
            "base": self.upstream.base,
            "concurrency": self.concurrency,
            "processes": self.processes,
            "log": str(self.work / f"{name}.log"),
            "root": str(root),
            "cache": str(cache),
            "rewrite": rewrite,
            "read_only": read_only,
        }
        job_file = self.work / f"{name}.job.json"
        job_file.write_text(json.dumps(job))
        raw = self.run(name, "bench.sweep_bench", "--worker", str(job_file))
        return SweepFigures.from_json(raw)

    def nvchecker(self, name: str, config: Path) -> dict[str, Any]:
        return self.run(name, "bench.nvchecker_run", str(config), str(self.work / f"{name}.log"))


def wrong_answers(figures: SweepFigures, plans: Sequence[Planned]) -> list[str]:
    """Recipes whose status or latest version is not what the generator planned."""
    wrong = []
    for plan in plans:
        expected = ("outdated" if plan.outdated else "up-to-date", plan.latest)
        got = figures.outcomes.get(plan.name)
        if got != expected:
            wrong.append(f"{plan.name} ({plan.checker}): expected {expected}, got {got}")
    return wrong


def nvchecker_config(plans: Sequence[Planned], base: str, concurrency: int, newver: Path) -> str:
    lines = [
        "[__config__]",
        f"max_concurrency = {concurrency}",
        f"oldver = '{newver.with_suffix('.old.json')}'",
        f"newver = '{newver}'",
        "",
    ]
    for plan in plans:
        lines.append(f"[{plan.name}]")
        # TOML literal strings: a regex's backslashes stay as written.
        lines += [f"{key} = '{value}'" for key, value in nvchecker_entry(plan, base).items()]
        lines.append("")
    return "\n".join(lines)


def nvchecker_wrong(newver: Path, plans: Sequence[Planned]) -> list[str]:
    found = json.loads(newver.read_text())["data"] if newver.exists() else {}
    wrong = []
    for plan in plans:
        got = found.get(plan.name, {}).get("version")
        if got != plan.latest:
            wrong.append(f"{plan.name}: nvchecker found {got}, expected {plan.latest}")
    return wrong


@dataclass(frozen=True)
class Comparison:
    kind: str
    recipes: int
    bot: SweepFigures  # recipes read from the cache, pages fetched afresh
    bot_cold: SweepFigures  # nothing cached: every recipe read, every page fetched
    nvchecker: dict[str, Any]
    wrong: list[str]

    @property
    def bot_s(self) -> float:
        return self.bot.check_s  # what nvchecker does too: read (its config), then check


def compare(bench: Bench, root: Path, plans: Sequence[Planned], kind: str) -> Comparison:
    """recipe-bot (checks only, a fresh cache) and nvchecker on the recipes of one kind."""
    subset = [plan for plan in plans if plan.checker == kind]
    subset_root = bench.work / f"only-{kind}"
    for plan in subset:  # a tree of only these recipes: each tool reads just what it checks
        shutil.copytree(root / plan.name, subset_root / plan.name)
    cache = bench.work / f"bot-{kind}.sqlite"
    cold = bench.sweep(f"bot-{kind}-cold", subset_root, cache, rewrite=False)
    cache.unlink()
    for stale in cache.parent.glob(cache.name + "-*"):  # the WAL files of that cache
        stale.unlink()
    # nvchecker is handed its recipes (a config file); the recipe-bot run to compare with it
    # has its recipes read already (the recipe cache, by content), and no page cached.
    bench.sweep(f"bot-{kind}-read", subset_root, cache, rewrite=False, read_only=True)
    bot = bench.sweep(f"bot-{kind}", subset_root, cache, rewrite=False)
    newver = bench.work / f"nvchecker-{kind}.json"
    config = bench.work / f"nvchecker-{kind}.toml"
    config.write_text(nvchecker_config(subset, bench.upstream.base, bench.concurrency, newver))
    nvchecker = bench.nvchecker(f"nvchecker-{kind}", config)
    wrong = wrong_answers(bot, subset) + wrong_answers(cold, subset)
    wrong += nvchecker_wrong(newver, subset)
    return Comparison(kind, len(subset), bot, cold, nvchecker, wrong)


# --- the report ---------------------------------------------------------------------------


def _mb(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def print_sweep(label: str, figures: SweepFigures, latency: float, concurrency: int) -> None:
    server = figures.server
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(figures.statuses.items()))
    hashes = ", ".join(f"{n} {origin}" for origin, n in sorted(figures.hashes.items())) or "none"
    floor = figures.floor_s(latency, concurrency)
    print(f"{label}:")
    print(
        f"  wall time       {figures.wall_s:7.2f} s  (read and check {figures.check_s:.2f} s, "
        f"of it reading {figures.load_s:.2f} s; rewrite and hash {figures.hash_s:.2f} s)"
    )
    print(
        f"  CPU, read+check {figures.check_cpu_s:7.2f} s  (with its checking processes; the "
        f"server's process, whole run: {figures.server_cpu_s:.2f} s)"
    )
    print(
        f"  floor           {floor:7.2f} s  ({figures.check_requests} check requests x "
        f"{latency * 1000:.0f} ms / {concurrency}; read and check = "
        f"{figures.check_s / floor if floor else 0:.2f}x the floor)"
    )
    print(
        f"  requests sent   {figures.requests:7d}    (server saw {server['requests']}: "
        f"{server['conditional']} conditional, {server['requests'] - server['conditional']} "
        f"unconditional, {server['downloads']} file downloads)"
    )
    print(f"  304s            {figures.not_modified:7d}    (server sent {server['not_modified']})")
    print(f"  304s re-parsed  {figures.reparsed:7d}")
    print(f"  downloaded      {_mb(figures.bytes):>10} (server sent {_mb(server['bytes'])})")
    print(
        f"  peak memory     {figures.rss_peak_mb:7.1f} MB (RSS; {figures.rss_start_mb:.1f} MB "
        "after imports)"
    )
    if figures.processes > 1:
        print(
            f"  with checkers   {figures.tree_pss_peak_mb:7.1f} MB (PSS of {figures.processes} "
            f"processes, sampled; RSS summed {figures.tree_rss_peak_mb:.1f} MB)"
        )
    print(f"  results         {statuses}; new hashes: {hashes}")
    for error in figures.errors + figures.hash_errors:
        print(f"  ! {error}")


def print_comparison(rows: Sequence[Comparison], concurrency: int, latency: float) -> None:
    print(
        f"\nnvchecker on the same recipes (its regex source; max_concurrency = {concurrency}); "
        "recipe-bot reads and checks them with no page cached (recipes read from its cache; "
        "nothing cached at all in brackets):"
    )
    for row in rows:
        nv_s, nv_requests = row.nvchecker["check_s"], row.nvchecker["server"]["requests"]
        floor = row.bot.floor_s(latency, concurrency)
        print(
            f"  {row.kind:8} {row.recipes:5d} recipes: recipe-bot {row.bot_s:6.2f} s "
            f"({row.bot_cold.check_s:.2f} s; {row.bot.server['requests']} requests, "
            f"{row.bot.peak_mb:.0f} MB); nvchecker {nv_s:6.2f} s ({nv_requests} requests, "
            f"{row.nvchecker['rss_peak_mb']:.0f} MB); ratio {row.bot_s / nv_s:.2f}; "
            f"floor {floor:.2f} s = {row.bot_s / floor:.2f}x"
        )
        print(
            f"  {'':8} CPU: recipe-bot {row.bot.check_cpu_s:.2f} s, "
            f"nvchecker {row.nvchecker.get('cpu_s', 0.0):.2f} s; the server meanwhile "
            f"{row.bot.server_cpu_s:.2f} s and {row.nvchecker['server_cpu_s']:.2f} s"
        )
        for wrong in row.wrong[:5]:
            print(f"    ! {wrong}")


Check = tuple[str, bool, str]


def sweep_targets(
    cold: SweepFigures, warm: SweepFigures, wrong: int, latency: float, concurrency: int
) -> list[Check]:
    peak = max(cold.peak_mb, warm.peak_mb)
    floor = cold.floor_s(latency, concurrency)
    unconditional = warm.server["requests"] - warm.server["conditional"]
    return [
        (
            f"cold sweep under {TARGET_COLD_SECONDS:.0f} s",
            cold.wall_s < TARGET_COLD_SECONDS,
            f"{cold.wall_s:.2f} s",
        ),
        (
            "no errors, every answer as planned",
            not (wrong or cold.errors or warm.errors or cold.hash_errors or warm.hash_errors),
            f"{wrong} wrong",
        ),
        (
            f"cold read and check within {TARGET_FLOOR_RATIO}x the floor",
            cold.check_s <= TARGET_FLOOR_RATIO * floor,
            f"{cold.check_s:.2f} s vs floor {floor:.2f} s = {cold.check_s / floor:.2f}x",
        ),
        (
            "warm read and check no slower than cold",
            warm.check_s <= cold.check_s,
            f"{warm.check_s:.2f} s vs {cold.check_s:.2f} s",
        ),
        (
            "warm sweep sends only conditional requests",
            unconditional == 0,
            f"{warm.server['conditional']} of {warm.server['requests']}; "
            f"{unconditional} unconditional",
        ),
        ("warm sweep re-parses no page", warm.reparsed == 0, f"{warm.reparsed} re-parsed"),
        (
            "warm sweep downloads no file again",
            warm.server["downloads"] == 0,
            f"{warm.server['downloads']} downloads; "
            f"{warm.hashes.get('cached', 0)} hashes from the cache",
        ),
        (f"peak memory under {TARGET_PEAK_MB:.0f} MB", peak < TARGET_PEAK_MB, f"{peak:.0f} MB"),
    ]


def parity_targets(rows: Sequence[Comparison], latency: float, concurrency: int) -> list[Check]:
    checks = []
    for row in rows:
        if row.kind in PARITY_KINDS:
            nv_s = row.nvchecker["check_s"]
            floor = row.bot.floor_s(latency, concurrency)
            checks += [
                (
                    f"no page cached, no slower than nvchecker ({row.kind})",
                    row.bot_s <= nv_s,
                    f"{row.bot_s:.2f} s vs {nv_s:.2f} s",
                ),
                (
                    f"no page cached, within {TARGET_FLOOR_RATIO}x the floor ({row.kind})",
                    row.bot_s <= TARGET_FLOOR_RATIO * floor,
                    f"{row.bot_s:.2f} s vs floor {floor:.2f} s = {row.bot_s / floor:.2f}x",
                ),
                # The strictest reading of "cold": no recipe read before either. nvchecker is
                # still handed its recipes in one config file.
                (
                    f"nothing cached, no slower than nvchecker ({row.kind})",
                    row.bot_cold.check_s <= nv_s,
                    f"{row.bot_cold.check_s:.2f} s vs {nv_s:.2f} s",
                ),
                (
                    f"nothing cached, within {TARGET_FLOOR_RATIO}x the floor ({row.kind})",
                    row.bot_cold.check_s <= TARGET_FLOOR_RATIO * floor,
                    f"{row.bot_cold.check_s:.2f} s vs floor {floor:.2f} s = "
                    f"{row.bot_cold.check_s / floor:.2f}x",
                ),
            ]
    return checks


def print_targets(checks: Sequence[Check]) -> bool:
    print("\ntargets:")
    for label, met, detail in checks:
        print(f"  [{'met ' if met else 'MISS'}] {label}: {detail}")
    return all(met for _, met, _ in checks)


def benchmark(args: argparse.Namespace) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="recipe-bot-bench-") as scratch,
        Upstream(args.latency) as upstream,
    ):
        bench = Bench(Path(scratch), upstream, args.concurrency, args.latency, args.processes)
        root = bench.work / "recipes"
        plans = generate(root, args.recipes, upstream, seed=args.seed, kinds=args.kinds)
        save_plan(plans, bench.work / "plan.json")
        mix = ", ".join(f"{n} {kind}" for kind, n in Counter(p.checker for p in plans).items())
        print(
            f"{args.recipes} recipes ({mix}; {sum(p.outdated for p in plans)} outdated), "
            f"{args.latency * 1000:.0f} ms per request, concurrency {args.concurrency}, "
            f"{os.cpu_count()} CPUs, processes {args.processes or 'as the CPUs allow'}\n"
        )
        cold = bench.sweep("cold", root, bench.work / "cache.sqlite", rewrite=True)
        print_sweep("cold sweep (fresh cache)", cold, args.latency, args.concurrency)
        warm = bench.sweep("warm", root, bench.work / "cache.sqlite", rewrite=True)
        print_sweep("warm sweep (same cache)", warm, args.latency, args.concurrency)
        wrong = wrong_answers(cold, plans) + wrong_answers(warm, plans)
        for line in wrong[:10]:
            print(f"  ! wrong: {line}")
        rows: list[Comparison] = []
        if not args.skip_nvchecker:
            kinds = {plan.checker for plan in plans}
            rows = [compare(bench, root, plans, kind) for kind in NVCHECKER_KINDS if kind in kinds]
        if rows:
            print_comparison(rows, args.concurrency, args.latency)
        wrong_total = len(wrong) + sum(len(row.wrong) for row in rows)
        checks = sweep_targets(cold, warm, wrong_total, args.latency, args.concurrency)
        met = print_targets(checks + parity_targets(rows, args.latency, args.concurrency))
        if args.json:
            report = {
                "args": {k: str(v) for k, v in vars(args).items()},
                "cold": asdict(cold),
                "warm": asdict(warm),
                "nvchecker": [asdict(row) for row in rows],
            }
            args.json.write_text(json.dumps(report, indent=1))
        if args.keep:
            shutil.copytree(bench.work, args.keep, dirs_exist_ok=True)
    return 0 if met else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--recipes", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2024, help="the same seed, the same corpus")
    parser.add_argument(
        "--kinds",
        type=lambda text: tuple(filter(None, text.split(","))),
        default=(),
        help="only these checkers of the mix, e.g. listing (default: pypi,github,listing,crawl)",
    )
    parser.add_argument(
        "--processes", type=int, help="recipe-bot's http.processes (default: as the CPUs allow)"
    )
    parser.add_argument("--skip-nvchecker", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", type=Path, help="copy the work directory (recipes, logs) here")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    return benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
