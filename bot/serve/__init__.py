r"""`recipe-bot serve`: the run on a cron schedule, and soon after a GitLab webhook that matters.

    scheduler: APScheduler (BackgroundScheduler)      server: HTTP on serve.listen
      "scheduled-run": CroniterTrigger                  ThreadingHTTPServer, IPv4 or IPv6;
      "webhook-run": one-off, seconds out   <-----      each request -> Service.respond
            \                /                                |
        runner: one run at a time, the last one         service: POST /webhook (bot.webhook),
        remembered; a webhook during a run asks         GET /healthz (bot.health), signals,
        for one more run right after it                 the bounded shutdown; `main`

Modules: `scheduler` (when runs start), `server` (HTTP), `runner` (one run at a time) and
`service` (which wires them, and the command). The names below are the package's interface.
"""

from __future__ import annotations

from bot.serve.runner import EXIT_FAILED, EXIT_OK, Clock, Runner
from bot.serve.scheduler import (
    EXECUTOR,
    MISFIRE_GRACE_TIME,
    SCHEDULED_JOB,
    WEBHOOK_JOB,
    CroniterTrigger,
    DaemonThreadExecutor,
)
from bot.serve.server import HTTP_TIMEOUT, listen_address
from bot.serve.service import (
    SHUTDOWN_WAIT,
    STOP_SIGNALS,
    WEBHOOK_DELAY,
    Service,
    main,
    service_for,
)

__all__ = [
    "EXECUTOR",
    "EXIT_FAILED",
    "EXIT_OK",
    "HTTP_TIMEOUT",
    "MISFIRE_GRACE_TIME",
    "SCHEDULED_JOB",
    "SHUTDOWN_WAIT",
    "STOP_SIGNALS",
    "WEBHOOK_DELAY",
    "WEBHOOK_JOB",
    "Clock",
    "CroniterTrigger",
    "DaemonThreadExecutor",
    "Runner",
    "Service",
    "listen_address",
    "main",
    "service_for",
]
