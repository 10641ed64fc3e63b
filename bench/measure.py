"""Memory and CPU figures, from the kernel (Linux): no tracing, no slowdown.

The current process's come from /proc/self/status. `getrusage().ru_maxrss` would be wrong in a
child process: Linux carries the high-water mark over fork and exec, so a child started by a big
parent (the benchmark's server holds every upstream page) would report the parent's size as its
own. VmHWM belongs to the process's current address space only. A process tree's memory is
sampled from /proc/PID/smaps_rollup (`run_sampled`).
"""

from __future__ import annotations

import resource
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    return 0.0


def rss_mb() -> float:
    """The resident set size now."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """The largest resident set size this process has had."""
    return _status_mb("VmHWM")


def cpu_seconds() -> float:
    """CPU used by this process (every thread) and by its children that have ended: a sweep's
    checking processes (bot.fanout) are reaped before it returns."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@dataclass
class TreeMemory:
    """The peaks of a process together with its descendants (a sweep's checking processes).

    RSS counts a page once per process that maps it, so forked children that share their
    parent's pages add them again; PSS splits each shared page between its sharers, so the
    sum is what the processes cost the machine (and their cgroup). Both are sampled.
    """

    rss_mb: float = 0.0  # the largest sum of RSS seen
    pss_mb: float = 0.0  # the largest sum of PSS seen
    processes: int = 0  # the most processes seen at once

    def sample(self, pid: int) -> None:
        rss = pss = 0
        tree = _tree(pid)
        for member in tree:
            try:
                text = Path(f"/proc/{member}/smaps_rollup").read_text()
            except OSError:  # it has just exited
                continue
            for line in text.splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        self.rss_mb = max(self.rss_mb, rss / 1024)
        self.pss_mb = max(self.pss_mb, pss / 1024)
        self.processes = max(self.processes, len(tree))


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc/PID/task/TID/children."""
    found, queue = [], [pid]
    while queue:
        member = queue.pop()
        found.append(member)
        try:
            tasks = list(Path(f"/proc/{member}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                queue += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def run_sampled(
    command: Sequence[str], *, env: Mapping[str, str], interval: float = 0.2
) -> tuple[subprocess.CompletedProcess[str], TreeMemory]:
    """Run `command` (output captured) and sample its process tree's memory meanwhile.

    Five times a second: reading smaps_rollup walks the process's page tables under its
    memory map lock (about 0.7 ms at 100 MB), which its allocator then waits for; a sweep's
    memory grows for seconds, so its peak is not missed between two samples.
    """
    memory = TreeMemory()
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(env)
    ) as process:
        while True:
            try:
                out, err = process.communicate(timeout=interval)
                break
            except subprocess.TimeoutExpired:
                memory.sample(process.pid)
    return subprocess.CompletedProcess(command, process.returncode, out, err), memory
