"""Memory figures of the current process, from the kernel (Linux): no tracing, no slowdown.

Both come from /proc/self/status. `getrusage().ru_maxrss` would be wrong in a child process:
Linux carries the high-water mark over fork and exec, so a child started by a big parent (the
benchmark's server holds every upstream page) would report the parent's size as its own.
VmHWM belongs to the process's current address space only.
"""

from __future__ import annotations

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
