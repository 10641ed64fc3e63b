"""Benchmark hashing one large download through the HTTP layer (`Http.sha256`).

    serve a generated file of --size bytes from 127.0.0.1 (made while it is sent: no disk, no RAM)
    -> a child process hashes it with Http.sha256, recording its RSS before, at peak and after
    -> the digest is checked against the file's known content

The child has only the HTTP layer in it, so its memory figures are the download's: the peak may
exceed the RSS before by about the chunk size (1 MiB) and buffers, never by the file's size.

    python bench/hash_bench.py [--size 1GB] [--no-verify]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

if not __package__:  # `python bench/hash_bench.py` from a checkout: find `bench` and `bot`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import peak_rss_mb, rss_mb
from bench.upstream import Upstream, file_sha256
from bot.http import Http, HttpSettings

ROOT = Path(__file__).resolve().parents[1]
PATH = "/releases/big-1.0.0.tar.gz"
TARGET_GROWTH_MB = 16.0  # "flat": a few chunks' worth, whatever the file's size
UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}
_SIZE = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmg]i?)?b?\s*$")


def measure(url: str) -> dict[str, float | str]:
    """Hash `url` through a fresh Http; time and memory around it."""
    with Http(HttpSettings(cache=None)) as http:
        before = rss_mb()
        started = time.perf_counter()
        digest = http.sha256(url)
        seconds = time.perf_counter() - started
        received = http.stats.snapshot()["bytes"]
    return {
        "sha256": digest,
        "seconds": seconds,
        "bytes": received,
        "rss_before_mb": before,
        "rss_peak_mb": peak_rss_mb(),
        "rss_after_mb": rss_mb(),
    }


def parse_size(text: str) -> int:
    """`1GB`, `512MiB`, `1e6` -> bytes."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 1GB or 512MiB)")
    return int(float(match[1]) * UNITS[(match[2] or "").lower()])


def run_child(url: str) -> dict[str, float | str]:
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    done = subprocess.run(
        [sys.executable, "-m", "bench.hash_bench", "--worker", url],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"the hashing process failed:\n{done.stderr[-3000:]}")
    result: dict[str, float | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(size: int, result: dict[str, float | str], expected: str | None) -> bool:
    seconds, received = float(result["seconds"]), int(result["bytes"])
    before, peak, after = (
        float(result[key]) for key in ("rss_before_mb", "rss_peak_mb", "rss_after_mb")
    )
    print(f"hashed {received / 1e9:.2f} GB in {seconds:.2f} s: {received / 1e6 / seconds:.0f} MB/s")
    print(f"RSS before {before:.1f} MB, peak {peak:.1f} MB, after {after:.1f} MB")
    flat = peak - before < TARGET_GROWTH_MB
    print(
        f"[{'met ' if flat else 'MISS'}] memory flat: peak - before = {peak - before:.1f} MB "
        f"(limit {TARGET_GROWTH_MB:.0f} MB; the file is {size / 2**20:.0f} MiB)"
    )
    right = received == size and expected in (None, result["sha256"])
    verdict = (
        "not verified" if expected is None else "verified" if right else f"expected {expected}"
    )
    print(f"[{'met ' if right else 'MISS'}] sha256 {result['sha256']} ({verdict})")
    return flat and right


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--size", type=parse_size, default=parse_size("1GB"), help="e.g. 1GB, 512MiB"
    )
    parser.add_argument("--no-verify", action="store_true", help="skip hashing the file a 2nd time")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker)))
        return 0
    with Upstream(latency=0.0) as upstream:
        upstream.add_file(PATH, args.size)
        result = run_child(upstream.base + PATH)
    expected = None if args.no_verify else file_sha256(PATH, args.size)
    return 0 if report(args.size, result, expected) else 1


if __name__ == "__main__":
    sys.exit(main())
