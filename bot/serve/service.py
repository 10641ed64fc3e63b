"""The service of `recipe-bot serve`: runs on the schedule and on webhooks, /healthz, signals.

    Service.start     bind the HTTP server (bot.serve.server), add the cron job
                      (bot.serve.scheduler), serve
    Service.respond   GET /healthz: bot.health.report; POST /webhook: bot.webhook checks token,
                      body and relevance, and a relevant one asks for a run (request_run)
    request_run       a one-off run a few seconds out, or one more right after the current run
                      (bot.serve.runner), or nothing when one is pending
    handle_signal / wait / shutdown
                      SIGTERM/SIGINT: stop taking webhooks and scheduling, give the current run
                      `shutdown_wait` seconds (it is safe to kill a run: the next one converges),
                      exit 0; a second signal stops waiting

`main` is the command: the real cycle (bot.run), the secret from the environment, the signal
handlers installed for as long as it serves.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import structlog

from bot import health, webhook
from bot.config import Config
from bot.forge import require_project
from bot.serve import scheduler as scheduling
from bot.serve.runner import EXIT_FAILED, EXIT_OK, Clock, Runner, utc_now
from bot.serve.scheduler import DaemonThreadExecutor
from bot.serve.server import HttpServer, bind, listen_address
from bot.webhook import Response

log = structlog.get_logger()

WEBHOOK_DELAY = 5.0  # seconds: webhooks arriving together (a tick, then another) make one run
SHUTDOWN_WAIT = 25.0  # seconds a run may take to finish after SIGTERM (Kubernetes allows 30)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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
        clock: Clock = utc_now,
        webhook_delay: float = WEBHOOK_DELAY,
        shutdown_wait: float = SHUTDOWN_WAIT,
        poll_interval: float = 0.1,
    ) -> None:
        self.config = config
        self.runner = Runner(job, clock=clock)
        self.scheduler = (
            scheduler if scheduler is not None else scheduling.new_scheduler(config.timezone)
        )
        self._executor = executor if executor is not None else DaemonThreadExecutor()
        self._secret = secret or None
        self._deliveries = webhook.Deliveries()  # GitLab's redeliveries, acted on once
        self._clock = clock
        self._webhook_delay = webhook_delay
        self._shutdown_wait = shutdown_wait
        self._poll_interval = poll_interval  # how often the HTTP server checks for shutdown
        self._state = threading.Lock()
        self._stopping = False
        self._stop_requested = threading.Event()
        self._hurry = threading.Event()  # a second signal: do not wait for the run
        self._signal: str | None = None
        self._server: HttpServer | None = None

    # --- life cycle ----------------------------------------------------------------------------

    def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen, schedule, serve; the address actually bound (port 0 picks a free one)."""
        server = bind(host, port, self)
        try:
            scheduling.schedule_runs(
                self.scheduler,
                self._executor,
                self.runner.run,
                self.config.serve.schedule,
                self.config.timezone,
            )
        except BaseException:
            server.stop()
            raise
        self._server = server
        server.start(self._poll_interval)
        address = server.address
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
            self._server.stop()
        scheduling.stop(self.scheduler)
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
            at = self._clock() + timedelta(seconds=self._webhook_delay)
            if not scheduling.schedule_once(self.scheduler, self.runner.run, at):
                return "pending"
            return "scheduled"

    def next_run(self) -> datetime | None:
        return scheduling.next_run(self.scheduler)

    def health(self) -> tuple[int, dict[str, Any]]:
        return health.report(self.runner.last, self.next_run(), self.runner.running)

    # --- HTTP (bot.serve.server calls respond for each request) -------------------------------

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
            headers,
            read,
            secret=self._secret,
            config=self.config,
            peer=peer,
            deliveries=self._deliveries,
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
    # Every run would fail; better to say so now than to serve 503 forever.
    require_project(config, "to serve")
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
