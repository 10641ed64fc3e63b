"""The cycle of `recipe-bot serve`, never two at once, whatever asks for it.

APScheduler's `max_instances=1` keeps one job from overlapping itself; the Runner also keeps
the cron job and the webhook job from overlapping each other. A webhook that comes during a run
asks for one more run right after it (the run may have read GitLab before the event). The last
run is remembered for /healthz.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from bot import health

log = structlog.get_logger()

EXIT_OK, EXIT_FAILED = 0, 1

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Runner:
    """Runs `job` (the cycle, returning an exit code) for one trigger at a time."""

    def __init__(
        self,
        job: Callable[[], int],
        *,
        clock: Clock = utc_now,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._job = job
        self._clock = clock
        self._timer = timer
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._running = False
        self._again = False  # a webhook came during the run: run once more right after it
        self._closed = False
        self._last: health.RunRecord | None = None

    @property
    def running(self) -> bool:
        with self._lock:
            return self._running

    @property
    def last(self) -> health.RunRecord | None:
        with self._lock:
            return self._last

    def run(self, trigger: str) -> None:
        """The job APScheduler calls; returns at once when another run is going."""
        with self._lock:
            if self._closed or self._running:
                if self._running and not self._closed and trigger == "webhook":
                    self._again = True
                why = "shutting down" if self._closed else "a run is in progress"
                log.info("service_run_skipped", trigger=trigger, why=why, queued=self._again)
                return
            self._running = True
        try:
            while True:
                self._once(trigger)
                with self._lock:
                    # Deciding and going idle under one lock: a webhook is either seen here or
                    # finds the runner idle and schedules its own run, never lost in between.
                    if self._again and not self._closed:
                        self._again = False
                        trigger = "webhook"
                        continue
                    self._running = False
                    self._idle.notify_all()
                    return
        except BaseException:
            with self._lock:
                self._running = self._again = False
                self._idle.notify_all()
            raise

    def queue_if_running(self) -> bool:
        """If a run is going, ask for one more right after it (True); else do nothing (False)."""
        with self._lock:
            if self._running and not self._closed:
                self._again = True
                return True
            return False

    def close(self) -> None:
        """No new runs from now on; the current one (if any) finishes."""
        with self._lock:
            self._closed = True

    def wait_idle(self, timeout: float) -> bool:
        """Whether no run is going, waiting up to `timeout` seconds for the current one."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._running, timeout=timeout)

    def _once(self, trigger: str) -> None:
        started, start = self._clock(), self._timer()
        log.info("service_run_started", trigger=trigger)
        try:
            code = int(self._job())
        except Exception:
            log.exception("service_run_crashed", trigger=trigger)
            code = EXIT_FAILED
        record = health.RunRecord(started, self._clock(), code, self._timer() - start, trigger)
        with self._lock:
            self._last = record
        (log.info if record.ok else log.warning)(
            "service_run_finished",
            trigger=trigger,
            exit_code=code,
            duration=round(record.duration, 2),
        )
