"""Benchmark the command line at scale: `check` and `list` over N generated recipes (10,000).

    generate N recipes and their upstreams (bench.corpus), serve them (bench.upstream),
    write a recipe-bot.yaml pointing the checkers at the server
    -> recipe-bot check (fresh cache) -> recipe-bot check (same cache)
    -> recipe-bot list, recipe-bot list --json (the recipes cached by the checks)

Each command is `python -m bench.cli_bench --run OUT -- ARGS`, a process of its own, so its
peak memory (VmHWM) is its own; its wall time is measured around the whole process (interpreter
start and imports included: what a user waits for). Output goes to a file, as in a pipe.

    python bench/cli_bench.py [--recipes 10000] [--latency 0.05] [--concurrency 20]
                              [--processes N] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # `python bench/cli_bench.py` from a checkout: find `bench` and `bot`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import GITHUB_API_PATH, PYPI_PATH, generate
from bench.measure import peak_rss_mb, run_sampled
from bench.upstream import Upstream

ROOT = Path(__file__).resolve().parents[1]
TARGET_LIST_SECONDS = 1.5
TARGET_PEAK_MB = 150.0


def run_command(out: Path, argv: list[str]) -> None:
    """In the child: run the CLI with stdout to `out`; print its exit code, time and peak RSS.

    The time is the command's own, after `bot.cli` is imported (the imports the command makes
    itself included); the parent measures the whole process around it.
    """
    from bot.cli import main

    started = time.perf_counter()
    with out.open("w") as stdout, contextlib.redirect_stdout(stdout):
        code = main(argv)
    seconds = time.perf_counter() - started
    print(json.dumps({"exit": code, "command_s": seconds, "rss_peak_mb": peak_rss_mb()}))


def write_config(
    root: Path, base: str, concurrency: int, cache: Path, processes: int | None = None
) -> None:
    # per_host = concurrency: every upstream here is one host (see bench/sweep_bench.py).
    http: dict[str, Any] = {
        "concurrency": concurrency,
        "per_host": concurrency,
        "cache": str(cache),
    }
    if processes is not None:  # else the bot's default: as many as the CPUs allow
        http["processes"] = processes
    checkers = {"pypi": {"url": base + PYPI_PATH}, "github": {"api_url": base + GITHUB_API_PATH}}
    root.joinpath("recipe-bot.yaml").write_text(json.dumps({"checkers": checkers, "http": http}))


def measure(work: Path, name: str, *args: str) -> dict[str, Any]:
    out = work / f"{name}.out"
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    started = time.perf_counter()
    done, memory = run_sampled(
        [sys.executable, "-m", "bench.cli_bench", "--run", str(out), "--", *args], env=env
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["exit"] != 0:
        sys.exit(f"{name} exited {figures['exit']}:\n{done.stderr[-3000:]}")
    figures.update(seconds=seconds, output_bytes=out.stat().st_size)
    # `check` forks its checking processes (bot.fanout): the memory they cost, PSS counting
    # each page they share once, is what the command costs; the sampled RSS sum overcounts.
    figures.update(
        tree_pss_peak_mb=memory.pss_mb, tree_rss_peak_mb=memory.rss_mb, processes=memory.processes
    )
    figures["peak_mb"] = max(figures["rss_peak_mb"], memory.pss_mb)
    return figures


def benchmark(args: argparse.Namespace) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="recipe-bot-cli-bench-") as scratch,
        Upstream(args.latency) as upstream,
    ):
        work = Path(scratch)
        root = work / "recipes"
        plans = generate(root, args.recipes, upstream, seed=args.seed)
        write_config(root, upstream.base, args.concurrency, work / "cache.sqlite", args.processes)
        print(
            f"{args.recipes} recipes ({sum(p.outdated for p in plans)} outdated), "
            f"{args.latency * 1000:.0f} ms per request, concurrency {args.concurrency}, "
            f"{os.cpu_count()} CPUs, processes {args.processes or 'as the CPUs allow'}; "
            "whole processes, output to a file\n"
        )
        runs = {}
        for name, command in (
            ("check, fresh cache", ["check", str(root)]),
            ("check, same cache", ["check", str(root)]),
            ("list", ["list", str(root)]),
            ("list --json", ["list", str(root), "--json"]),
        ):
            upstream.reset()
            figures = measure(work, name.replace(" ", "_").replace(",", ""), *command)
            figures["requests"] = upstream.counters().requests
            runs[name] = figures
            print(
                f"  {name:20} {figures['seconds']:7.2f} s  (command {figures['command_s']:.2f} s)"
                f"  peak {figures['peak_mb']:6.1f} MB ({figures['processes']} processes; own "
                f"{figures['rss_peak_mb']:.1f} MB, RSS summed {figures['tree_rss_peak_mb']:.1f} MB)"
                f"  {figures['requests']:6d} requests  "
                f"{figures['output_bytes'] / 1e6:.1f} MB out"
            )
        outdated = sum(plan.outdated for plan in plans)
        printed = (work / "check_same_cache.out").read_text().count("\n")
        checks = [
            ("check prints every outdated recipe", printed == outdated, f"{printed} lines"),
            *(
                (
                    f"`{name}` under {TARGET_LIST_SECONDS} s, whole process (recipes cached)",
                    runs[name]["seconds"] < TARGET_LIST_SECONDS,
                    f"{runs[name]['seconds']:.2f} s (the command itself "
                    f"{runs[name]['command_s']:.2f} s)",
                )
                for name in ("list", "list --json")
            ),
            (
                f"peak memory under {TARGET_PEAK_MB:.0f} MB",
                max(run["peak_mb"] for run in runs.values()) < TARGET_PEAK_MB,
                f"{max(run['peak_mb'] for run in runs.values()):.0f} MB (with the checking "
                "processes: PSS, each shared page once)",
            ),
        ]
        print("\ntargets:")
        for label, met, detail in checks:
            print(f"  [{'met ' if met else 'MISS'}] {label}: {detail}")
        if args.json:
            args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                             "runs": runs}, indent=1))  # fmt: skip
    return 0 if all(met for _, met, _ in checks) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--recipes", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--processes", type=int, help="recipe-bot's http.processes (default: as the CPUs allow)"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        run_command(args.run, args.command)
        return 0
    return benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
