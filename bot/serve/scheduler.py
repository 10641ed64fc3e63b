"""When `recipe-bot serve` runs: APScheduler 3, a croniter trigger and a daemon-thread executor.

    "scheduled-run"   CroniterTrigger(serve.schedule, timezone): the cycle on the cron schedule
    "webhook-run"     a one-off DateTrigger a few seconds out, one at a time

The cron expression keeps standard cron semantics (0 and 7 are Sunday) through croniter:
APScheduler 3's `CronTrigger.from_crontab` numbers weekdays from Monday, so "6,0" would move.
Jobs run in daemon threads, so that the service's shutdown wait stays bounded.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from croniter import croniter

SCHEDULED_JOB, WEBHOOK_JOB, EXECUTOR = "scheduled-run", "webhook-run", "recipe-bot"
# A run whose fire time was missed (the host slept, the process stalled) still happens, however
# late; coalescing makes all the missed fire times one run.
MISFIRE_GRACE_TIME: int | None = None

Run = Callable[[str], None]  # the job: called with its trigger, "schedule" or "webhook"


class CroniterTrigger(BaseTrigger):
    """An APScheduler 3 trigger for a 5-field cron expression in a time zone, with croniter's
    standard semantics (day-of-month OR day-of-week, 0 and 7 both Sunday, DST handled)."""

    def __init__(self, expression: str, timezone: str) -> None:
        if len(expression.split()) != 5 or not croniter.is_valid(expression):
            raise ValueError(f"not a 5-field cron expression: {expression!r}")
        self.expression = expression
        self.timezone = ZoneInfo(timezone)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first fire time strictly after the previous one; with none, the first at or
        after `now`."""
        if previous_fire_time is None:
            start = now.astimezone(self.timezone) - timedelta(microseconds=1)
        else:
            start = previous_fire_time.astimezone(self.timezone)
        following: datetime = croniter(self.expression, start).get_next(datetime)
        # Belt and braces around DST folds: APScheduler loops until the time passes `now`.
        for _ in range(3):
            if previous_fire_time is None or following > previous_fire_time:
                break
            following = croniter(self.expression, following).get_next(datetime)
        return following

    def __str__(self) -> str:
        return f"cron[{self.expression!r}, {self.timezone.key}]"

    def __repr__(self) -> str:
        return f"<CroniterTrigger ({self.expression!r}, timezone={self.timezone.key!r})>"


class DaemonThreadExecutor(BaseExecutor):
    """Runs each job in its own daemon thread. A thread pool's workers are joined when the
    interpreter exits, which would make the shutdown wait unbounded."""

    def __init__(self) -> None:
        super().__init__()
        self._threads: set[threading.Thread] = set()
        self._threads_lock = threading.Lock()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        thread = threading.Thread(
            target=self._run, args=(job, run_times), name=f"recipe-bot-{job.id}", daemon=True
        )
        with self._threads_lock:
            self._threads.add(thread)
        thread.start()

    def _run(self, job: Any, run_times: list[datetime]) -> None:
        try:
            events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
        except BaseException:
            _, exc, tb = sys.exc_info()
            self._run_job_error(job.id, exc, tb)
        else:
            self._run_job_success(job.id, events)
        finally:
            with self._threads_lock:
                self._threads.discard(threading.current_thread())

    def shutdown(self, wait: bool = True) -> None:
        if wait:
            with self._threads_lock:
                threads = list(self._threads)
            for thread in threads:
                thread.join()


def new_scheduler(timezone: str) -> BackgroundScheduler:
    return BackgroundScheduler(timezone=ZoneInfo(timezone))


def schedule_runs(scheduler: Any, executor: Any, run: Run, expression: str, timezone: str) -> None:
    """Add the executor and the cron job to `scheduler` (APScheduler 3), then start it."""
    scheduler.add_executor(executor, EXECUTOR)
    scheduler.add_job(
        run,
        CroniterTrigger(expression, timezone),
        args=["schedule"],
        id=SCHEDULED_JOB,
        name="recipe-bot run (schedule)",
        executor=EXECUTOR,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_TIME,
        replace_existing=True,
    )
    if not scheduler.running:
        scheduler.start()


def schedule_once(scheduler: Any, run: Run, at: datetime) -> bool:
    """A one-off webhook run at `at`; False (and nothing added) when one is already pending."""
    if scheduler.get_job(WEBHOOK_JOB) is not None:
        return False
    scheduler.add_job(
        run,
        DateTrigger(run_date=at),
        args=["webhook"],
        id=WEBHOOK_JOB,
        name="recipe-bot run (webhook)",
        executor=EXECUTOR,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_TIME,
    )
    return True


def next_run(scheduler: Any) -> datetime | None:
    """The earliest next fire time of the service's jobs, None when none is scheduled."""
    times = [
        job.next_run_time
        for job in scheduler.get_jobs()
        if job.id in (SCHEDULED_JOB, WEBHOOK_JOB) and job.next_run_time is not None
    ]
    return min(times, default=None)


def stop(scheduler: Any) -> None:
    """No more fire times; a job already running is not waited for (the service bounds that)."""
    if scheduler.running:
        scheduler.shutdown(wait=False)
