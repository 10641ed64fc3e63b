"""`GET /healthz` of `recipe-bot serve`: the last run, the next one, and whether one is going.

503 when the last run failed (GitLab unreachable, a revoked token, a crash), so an orchestrator's
readiness probe shows the failure; 200 before the first run, while the service starts up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class RunRecord:
    started: datetime
    finished: datetime
    exit_code: int
    duration: float  # seconds, from a monotonic clock
    trigger: str  # "schedule" or "webhook"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "started": iso(self.started),
            "finished": iso(self.finished),
            "exit_code": self.exit_code,
            "duration": round(self.duration, 3),
            "trigger": self.trigger,
        }


def report(
    last: RunRecord | None, next_run: datetime | None, running: bool
) -> tuple[int, dict[str, Any]]:
    """The status code and JSON body of /healthz."""
    ok = last is None or last.ok
    body = {
        "status": "ok" if ok else "failing",
        "last_run": last.as_json() if last else None,
        "next_run": iso(next_run) if next_run else None,
        "running": running,
    }
    return (200 if ok else 503), body


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
