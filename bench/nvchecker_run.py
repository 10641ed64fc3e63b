"""Run nvchecker's own command line on a config file, timed, in a process of its own.

    python -m bench.nvchecker_run CONFIG LOG
        ->  one JSON line: check_s, cpu_s, rss_start_mb, rss_peak_mb

Separate from bench.sweep_bench so that nvchecker's memory figure holds nvchecker only, not
recipe-bot's imports.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench.measure import peak_rss_mb, rss_mb


def main(config_file: Path, log_file: Path) -> None:
    start_mb = rss_mb()
    from nvchecker import __main__ as nvchecker_main

    with log_file.open("w") as log:
        sys.argv = ["nvchecker", "-c", str(config_file), "--logger", "json",
                    "--json-log-fd", str(log.fileno())]  # fmt: skip
        started, cpu = time.perf_counter(), time.process_time()
        nvchecker_main.main()  # its imports are done: this is the run itself
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"check_s": seconds, "cpu_s": cpu, "rss_start_mb": start_mb,
                      "rss_peak_mb": peak_rss_mb()}))  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
