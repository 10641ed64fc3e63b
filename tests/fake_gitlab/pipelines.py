"""CI pipelines as GitLab keeps them: one row per run, keyed to a commit sha and a ref.

The fake runs no jobs; a test (or ``auto_pipelines``) sets the status a runner would report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STATUSES = ("created", "pending", "running", "success", "failed", "canceled", "skipped")
ACTIVE = frozenset({"created", "pending", "running"})  # not finished: auto-merge waits on these
FINISHED = frozenset(STATUSES) - ACTIVE


@dataclass
class Pipeline:
    id: int
    iid: int
    project_id: int
    sha: str
    ref: str
    status: str
    source: str  # "push" or "merge_request_event"
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def set_status(self, status: str, now: datetime) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown pipeline status {status!r}; one of {', '.join(STATUSES)}")
        self.status, self.updated_at = status, now
        if status == "running" and self.started_at is None:
            self.started_at = now
        self.finished_at = now if status in FINISHED else None
