r"""`recipe-bot serve`: the run on a cron schedule, and soon after a GitLab webhook that matters.

    APScheduler (BackgroundScheduler)       HTTP (ThreadingHTTPServer on serve.listen)
      "scheduled-run": CroniterTrigger        POST /webhook: bot.webhook checks token, body and
      "webhook-run": one-off, seconds out  <-   relevance; a relevant one schedules the one-off
            \                /                GET /healthz: bot.health.report
        Runner: one run at a time, the last one remembered; a webhook during a run asks for
        one more run right after it

The cron expression keeps standard cron semantics (0 and 7 are Sunday) through croniter:
APScheduler 3's `CronTrigger.from_crontab` numbers weekdays from Monday, so "6,0" would move.
Runs execute in daemon threads, so SIGTERM/SIGINT can stop the service within a bounded time:
stop accepting webhooks and scheduling, give the current run `shutdown_wait` seconds to finish
(it is safe to kill a run: the next one converges), exit 0. A second signal stops waiting.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import structlog
from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from croniter import croniter

from bot import health, webhook
from bot.config import Config
from bot.errors import ConfigError
from bot.webhook import Response

log = structlog.get_logger()

EXIT_OK, EXIT_FAILED = 0, 1
SCHEDULED_JOB, WEBHOOK_JOB, EXECUTOR = "scheduled-run", "webhook-run", "recipe-bot"
WEBHOOK_DELAY = 5.0  # seconds: webhooks arriving together (a tick, then another) make one run
SHUTDOWN_WAIT = 25.0  # seconds a run may take to finish after SIGTERM (Kubernetes allows 30)
# A run whose fire time was missed (the host slept, the process stalled) still happens, however
# late; coalescing makes all the missed fire times one run.
MISFIRE_GRACE_TIME: int | None = None
HTTP_TIMEOUT = 10.0  # seconds per socket operation, so a slow client cannot hold a thread
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- scheduling --------------------------------------------------------------------------------


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


class Runner:
    """The cycle, never two at once, whatever asks for it; remembers the last run for /healthz.

    APScheduler's `max_instances=1` keeps one job from overlapping itself; this guard also keeps
    the cron job and the webhook job from overlapping each other.
    """

    def __init__(
        self,
        job: Callable[[], int],
        *,
        clock: Clock = _utc_now,
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


# --- the service --------------------------------------------------------------------------------


class Service:
    """The scheduler, the runner and the HTTP endpoint, each injectable for tests: `job` is the
    cycle (returns an exit code), `scheduler` an APScheduler 3 scheduler (a paused one never
    fires), `executor` the APScheduler executor that runs it, `clock` the wall clock for webhook
    runs and /healthz."""

    def __init__(
        self,
        config: Config,
        *,
        job: Callable[[], int],
        secret: str | None,
        scheduler: Any | None = None,
        executor: Any | None = None,
        clock: Clock = _utc_now,
        webhook_delay: float = WEBHOOK_DELAY,
        shutdown_wait: float = SHUTDOWN_WAIT,
        poll_interval: float = 0.1,
    ) -> None:
        self.config = config
        self.runner = Runner(job, clock=clock)
        self.scheduler = (
            scheduler
            if scheduler is not None
            else BackgroundScheduler(timezone=ZoneInfo(config.timezone))
        )
        self._executor = executor if executor is not None else DaemonThreadExecutor()
        self._secret = secret or None
        self._clock = clock
        self._webhook_delay = webhook_delay
        self._shutdown_wait = shutdown_wait
        self._poll_interval = poll_interval  # how often the HTTP server checks for shutdown
        self._state = threading.Lock()
        self._stopping = False
        self._stop_requested = threading.Event()
        self._hurry = threading.Event()  # a second signal: do not wait for the run
        self._signal: str | None = None
        self._server: _Server | None = None
        self._http_thread: threading.Thread | None = None

    # --- life cycle ----------------------------------------------------------------------------

    def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen, schedule, serve; the address actually bound (port 0 picks a free one)."""
        server = _bind(host, port, self)
        try:
            self.scheduler.add_executor(self._executor, EXECUTOR)
            self.scheduler.add_job(
                self.runner.run,
                CroniterTrigger(self.config.serve.schedule, self.config.timezone),
                args=["schedule"],
                id=SCHEDULED_JOB,
                name="recipe-bot run (schedule)",
                executor=EXECUTOR,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=MISFIRE_GRACE_TIME,
                replace_existing=True,
            )
            if not self.scheduler.running:
                self.scheduler.start()
        except BaseException:
            server.server_close()
            raise
        self._server = server
        self._http_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": self._poll_interval},
            name="recipe-bot-http",
            # shutdown() stops it cleanly; as a daemon it can never keep the process alive.
            daemon=True,
        )
        self._http_thread.start()
        bound = server.server_address
        address = (str(bound[0]), int(bound[1]))
        if self._secret is None:
            log.warning(
                "webhook_secret_missing",
                env=self.config.serve.webhook_secret_env,
                effect="every webhook is refused with 403",
            )
        next_run = self.next_run()
        log.info(
            "serve_started",
            listen=f"{address[0]}:{address[1]}",
            schedule=self.config.serve.schedule,
            timezone=self.config.timezone,
            next_run=health.iso(next_run) if next_run else None,
        )
        return address

    def handle_signal(self, signum: int, frame: FrameType | None = None) -> None:
        """SIGTERM/SIGINT: stop; a second one: stop without waiting for the current run."""
        # Flags only: logging here could deadlock on a write lock the interrupted code holds.
        if self._stop_requested.is_set():
            self._hurry.set()
        else:
            self._signal = signal.Signals(signum).name
        self._stop_requested.set()

    def wait(self) -> None:
        """Block until a stop is requested (short slices, so signal handlers run promptly)."""
        while not self._stop_requested.wait(0.2):
            pass

    def shutdown(self) -> int:
        """Stop taking webhooks and scheduling runs, let the current run finish (bounded)."""
        with self._state:
            if self._stopping:
                return EXIT_OK
            self._stopping = True
        log.info("serve_stopping", signal=self._signal, running=self.runner.running)
        self.runner.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # joins the request threads
        if self._http_thread is not None:
            self._http_thread.join()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + self._shutdown_wait
        while not self.runner.wait_idle(min(0.02, max(0.0, deadline - time.monotonic()))):
            if self._hurry.is_set() or time.monotonic() >= deadline:
                log.warning(
                    "shutdown_abandoned_run",
                    waited=round(self._shutdown_wait, 1),
                    why="a second signal" if self._hurry.is_set() else "the run took too long",
                )
                break
        log.info("serve_stopped")
        return EXIT_OK

    # --- runs ----------------------------------------------------------------------------------

    def request_run(self) -> str:
        """A webhook asks for a run: "scheduled" (a one-off a few seconds out), "pending" (one is
        already scheduled), "queued" (right after the current run) or "stopping"."""
        with self._state:
            if self._stopping:
                return "stopping"
            if self.runner.queue_if_running():
                return "queued"
            if self.scheduler.get_job(WEBHOOK_JOB) is not None:
                return "pending"
            self.scheduler.add_job(
                self.runner.run,
                DateTrigger(run_date=self._clock() + timedelta(seconds=self._webhook_delay)),
                args=["webhook"],
                id=WEBHOOK_JOB,
                name="recipe-bot run (webhook)",
                executor=EXECUTOR,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=MISFIRE_GRACE_TIME,
            )
            return "scheduled"

    def next_run(self) -> datetime | None:
        times = [
            job.next_run_time
            for job in self.scheduler.get_jobs()
            if job.id in (SCHEDULED_JOB, WEBHOOK_JOB) and job.next_run_time is not None
        ]
        return min(times, default=None)

    def health(self) -> tuple[int, dict[str, Any]]:
        return health.report(self.runner.last, self.next_run(), self.runner.running)

    # --- HTTP ----------------------------------------------------------------------------------

    def respond(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        read: Callable[[int], bytes],
        peer: str = "",
    ) -> Response:
        """Answer one request. `headers` has lower-case names; `read(n)` reads the body."""
        path = urlsplit(target).path
        if path == "/healthz":
            if method not in ("GET", "HEAD"):
                return Response(405, {"status": "method not allowed"}, {"Allow": "GET, HEAD"})
            status, body = self.health()
            return Response(status, body)
        if path == "/webhook":
            if method != "POST":
                return Response(405, {"status": "method not allowed"}, {"Allow": "POST"})
            return self._webhook(headers, read, peer)
        return Response(404, {"status": "not found"})

    def _webhook(
        self, headers: Mapping[str, str], read: Callable[[int], bytes], peer: str
    ) -> Response:
        received = webhook.receive(
            headers, read, secret=self._secret, config=self.config, peer=peer
        )
        if isinstance(received, Response):
            return received
        context = {"peer": peer, "gitlab_event": headers.get("x-gitlab-event", "")}
        outcome = self.request_run()
        if outcome == "stopping":
            log.warning("webhook_refused", status=503, why="shutting down", **context)
            return Response(503, {"status": "shutting down"})
        log.info("webhook_accepted", kind=received.kind, why=received.why, run=outcome, **context)
        return Response(202, {"status": "accepted"})


# --- the HTTP server ------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    # Request threads are joined on server_close(), each bounded by HTTP_TIMEOUT per operation.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], service: Service) -> None:
        self.service = service
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client gone mid-answer and the like: one log line, never a traceback on stderr.
        log.warning(
            "http_connection_error", peer=str(client_address[0]), error=repr(sys.exc_info()[1])
        )


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = HTTP_TIMEOUT
    server_version = "recipe-bot"
    sys_version = ""

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            response = self.server.service.respond(
                self.command, self.path, headers, self.rfile.read, peer=str(self.client_address[0])
            )
        except Exception:  # a bug: log it with its traceback, answer, keep serving
            log.exception("http_request_failed", method=self.command, path=urlsplit(self.path).path)
            response = Response(500, {"status": "error"})
        data = b"" if response.body is None else json.dumps(response.body).encode("utf-8") + b"\n"
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The stdlib's access log goes to stderr unstructured; webhooks log one event each instead.
        pass


def _bind(host: str, port: int, service: Service) -> _Server:
    host = host.strip("[]")
    server_class = _Server6 if ":" in host else _Server
    return server_class((host, port), service)


def listen_address(listen: str) -> tuple[str, int]:
    """`serve.listen` ("HOST:PORT", "[::]:8080") as a (host, port) pair."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


# --- the command ---------------------------------------------------------------------------------


def service_for(config: Config, environ: Mapping[str, str] | None = None) -> Service:
    """The service `recipe-bot serve` runs: the real cycle, the secret from the environment."""
    from bot.run import main as run_main

    env = os.environ if environ is None else environ
    return Service(
        config,
        # A manual run may hold the lock: wait for it rather than report a failed run.
        job=partial(run_main, config, recipes=None, dry_run=False, now=None, lock_wait=600),
        secret=env.get(config.serve.webhook_secret_env) or None,
    )


def main(config: Config) -> int:
    """`recipe-bot serve`: runs until SIGTERM or SIGINT, then exits 0; 1 if it cannot listen.
    Without gitlab.url and gitlab.project it raises ConfigError (the CLI exits 2)."""
    if not config.gitlab.url or not config.gitlab.project:
        # Every run would fail; better to say so now than to serve 503 forever.
        raise ConfigError(
            "gitlab.url and gitlab.project are needed to serve", key="gitlab", file=config.source
        )
    host, port = listen_address(config.serve.listen)
    service = service_for(config)
    previous = {sig: signal.signal(sig, service.handle_signal) for sig in STOP_SIGNALS}
    try:
        try:
            service.start(host, port)
        except OSError as exc:
            log.error("serve_failed", listen=config.serve.listen, error=str(exc))
            print(
                f"recipe-bot: cannot listen on {config.serve.listen}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        service.wait()
        return service.shutdown()
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None: installed outside Python, cannot be put back
                signal.signal(sig, handler)
