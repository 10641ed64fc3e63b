"""Runs in the service: never two at once, missed ones coalesced, webhook runs folded together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.schedulers.background import BackgroundScheduler
from serve.helpers import T0, FakeCycle, Running, StillClock
from structlog.testing import capture_logs

from bot.serve import (
    EXECUTOR,
    SCHEDULED_JOB,
    WEBHOOK_DELAY,
    WEBHOOK_JOB,
    CroniterTrigger,
    Runner,
    Service,
)


def in_thread(target: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=target)
    thread.start()
    return thread


# --- the runner's guard ------------------------------------------------------------------


def test_a_second_run_while_one_is_going_does_not_start() -> None:
    """A run asked for during another returns at once; the cycle never runs twice concurrently."""
    cycle = FakeCycle(block=True)
    runner = Runner(cycle)
    first = in_thread(lambda: runner.run("schedule"))
    assert cycle.started.wait(1)
    with capture_logs() as logs:
        runner.run("schedule")  # returns at once
    assert cycle.calls == 1
    assert logs[0]["event"] == "service_run_skipped"
    assert runner.running
    cycle.release.set()
    first.join(1)
    assert not runner.running
    assert cycle.calls == 1


def test_concurrent_triggers_never_overlap() -> None:
    """Many threads asking at once still give one cycle at a time."""
    cycle = FakeCycle(block=True)
    runner = Runner(cycle)
    threads = [in_thread(lambda: runner.run("schedule")) for _ in range(8)]
    assert cycle.started.wait(1)
    cycle.release.set()
    for thread in threads:
        thread.join(1)
    assert cycle.max_active == 1
    assert not runner.running


def test_webhooks_during_a_run_make_exactly_one_more_run_after_it() -> None:
    """Ticks made while a run works are picked up by one extra run right after, not by several."""
    cycle = FakeCycle(block=True)
    runner = Runner(cycle)
    first = in_thread(lambda: runner.run("schedule"))
    assert cycle.started.wait(1)
    assert runner.queue_if_running()
    assert runner.queue_if_running()
    runner.run("webhook")  # the webhook job firing meanwhile: folded into the same extra run
    cycle.release.set()
    first.join(1)
    assert cycle.calls == 2
    last = runner.last
    assert last is not None
    assert last.trigger == "webhook"


def test_nothing_is_queued_when_idle() -> None:
    """With no run going, a webhook must schedule its own run: the runner says so."""
    runner = Runner(FakeCycle())
    assert not runner.queue_if_running()
    runner.run("schedule")
    assert not runner.queue_if_running()


def test_the_last_run_is_recorded_with_its_exit_code_and_times() -> None:
    """Each run leaves when it started and finished, how it ended and how long it took."""
    clock = StillClock()
    ticks = iter([100.0, 112.5])
    runner = Runner(FakeCycle([1]), clock=clock, timer=lambda: next(ticks))
    assert runner.last is None
    runner.run("schedule")
    last = runner.last
    assert last is not None
    assert (last.started, last.finished, last.exit_code, last.duration) == (T0, T0, 1, 12.5)


def test_a_crashing_cycle_is_a_failed_run_and_the_runner_keeps_going() -> None:
    """A bug in the cycle is logged with its traceback, counts as exit 1, and blocks nothing."""
    calls = []

    def cycle() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("bug")
        return 0

    runner = Runner(cycle)
    with capture_logs() as logs:
        runner.run("schedule")
    crashed = [entry for entry in logs if entry["event"] == "service_run_crashed"]
    assert crashed and crashed[0]["exc_info"] is True
    assert runner.last is not None and runner.last.exit_code == 1
    runner.run("schedule")
    assert runner.last is not None and runner.last.exit_code == 0


def test_a_closed_runner_starts_nothing() -> None:
    """After shutdown began, no new run starts."""
    cycle = FakeCycle()
    runner = Runner(cycle)
    runner.close()
    runner.run("schedule")
    assert cycle.calls == 0


# --- the scheduled job ----------------------------------------------------------------------------


def test_the_scheduled_job_coalesces_and_never_overlaps(running: Running) -> None:
    """The cron job uses our trigger, one instance at most, missed times coalesced however late."""
    job = running.service.scheduler.get_job(SCHEDULED_JOB)
    assert isinstance(job.trigger, CroniterTrigger)
    assert job.trigger.expression == "0 * * * *"
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, None)
    assert job.executor == EXECUTOR
    assert job.next_run_time.minute == 0 and job.next_run_time > datetime.now(UTC)


class RunInline(BaseExecutor):
    """Runs a due job in the scheduler's thread, and records what it was handed."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[list[datetime]] = []
        self.done = threading.Event()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self.submitted.append(list(run_times))
        self._run_job_success(
            job.id, run_job(job, job._jobstore_alias, run_times, self._logger.name)
        )
        self.done.set()


def test_missed_fire_times_become_one_run(
    config: Any, cycle: FakeCycle, paused_scheduler: BackgroundScheduler
) -> None:
    """After three hours asleep, the hourly job runs once, not three times, and moves on."""
    executor = RunInline()
    service = Service(
        config,
        job=cycle,
        secret=None,
        scheduler=paused_scheduler,
        executor=executor,
        poll_interval=0.005,
    )
    service.start("127.0.0.1", 0)
    try:
        asleep_since = datetime.now(UTC) - timedelta(hours=3, minutes=1)
        paused_scheduler.modify_job(SCHEDULED_JOB, next_run_time=asleep_since)
        paused_scheduler.resume()  # the scheduler wakes up and finds the missed times
        assert executor.done.wait(1)
    finally:
        service.shutdown()
    assert len(executor.submitted) == 1
    (run_times,) = executor.submitted
    assert len(run_times) == 1
    assert datetime.now(UTC) - run_times[0] < timedelta(hours=1)  # the latest missed time
    assert cycle.calls == 1


def test_the_service_really_runs_a_webhook_run(
    start_service: Callable[..., Running], cycle: FakeCycle, config: Any
) -> None:
    """With a live scheduler, a requested run happens after the delay, in its daemon thread."""
    scheduler = BackgroundScheduler(timezone=UTC)
    running = start_service(
        scheduler=scheduler, clock=lambda: datetime.now(UTC), webhook_delay=0.05
    )
    assert running.service.request_run() == "scheduled"
    assert cycle.started.wait(2)
    assert running.service.runner.wait_idle(1)
    assert cycle.calls == 1
    assert running.service.scheduler.get_job(WEBHOOK_JOB) is None


# --- webhook runs ---------------------------------------------------------------------------------


def test_many_webhooks_schedule_one_run_a_few_seconds_out(
    running: Running, clock: StillClock
) -> None:
    """The first relevant webhook schedules a one-off run; the next ones join it."""
    service = running.service
    assert [service.request_run() for _ in range(3)] == ["scheduled", "pending", "pending"]
    jobs = [job for job in service.scheduler.get_jobs() if job.id == WEBHOOK_JOB]
    assert len(jobs) == 1
    assert jobs[0].next_run_time == T0 + timedelta(seconds=WEBHOOK_DELAY)
    assert WEBHOOK_DELAY < 60  # "a run starts within a minute"
    assert (jobs[0].max_instances, jobs[0].coalesce) == (1, True)
    assert service.next_run() == T0 + timedelta(seconds=WEBHOOK_DELAY)


def test_a_webhook_during_a_run_queues_one_after_it(running: Running, cycle: FakeCycle) -> None:
    """While a run is going, a webhook asks for one more run after it instead of a one-off."""
    cycle.block = True
    service = running.service
    first = in_thread(lambda: service.runner.run("schedule"))
    assert cycle.started.wait(1)
    assert service.request_run() == "queued"
    assert service.scheduler.get_job(WEBHOOK_JOB) is None
    cycle.release.set()
    first.join(1)
    assert cycle.calls == 2


def test_no_run_is_requested_once_stopping(running: Running) -> None:
    """After shutdown began, webhooks no longer schedule anything."""
    running.service.shutdown()
    assert running.service.request_run() == "stopping"


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin"])
def test_the_default_scheduler_uses_the_configured_time_zone(timezone: str) -> None:
    """Without an injected scheduler, the service builds one in `timezone`."""
    from bot.config import Config

    service = Service(Config(timezone=timezone), job=FakeCycle(), secret=None)
    assert str(service.scheduler.timezone) == timezone
