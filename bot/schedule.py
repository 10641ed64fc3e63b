"""When new merge requests may open: a 5-field cron window in a time zone, and the limits.

The window gates only the opening of new merge requests; updates to open ones are never
gated, and a dashboard tick bypasses both the window and the limits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from bot.reasons import Reason


def in_window(expression: str, timezone: str, now: datetime) -> bool:
    """Whether the minute `now` falls in lies inside the cron window (cron's day-of-month /
    day-of-week OR rule included, 0 and 7 both Sunday)."""
    local = now.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0)
    return bool(croniter.match(expression, local))


def next_window(expression: str, timezone: str, now: datetime) -> datetime:
    """The next minute inside the window, for the dashboard ("opens Sat 00:00 UTC")."""
    local = now.astimezone(ZoneInfo(timezone))
    opens: datetime = croniter(expression, local).get_next(datetime)
    return opens


@dataclass(frozen=True)
class Allowance:
    """How many new merge requests this run may open, and which limit binds."""

    count: int
    reason: Reason  # the limit that binds: open merge requests, or the hourly rate


def allowance(
    *,
    open_now: int,
    created: Iterable[datetime],
    now: datetime,
    max_open: int,
    per_hour: int,
) -> Allowance:
    """New merge requests allowed by the limits (open_merge_requests, merge_requests_per_hour).

    The hourly count is read from GitLab (creation times of the bot's merge requests), so it
    holds across runs and restarts without any local state.
    """
    hour_ago = now - timedelta(hours=1)
    recent = sum(1 for moment in created if hour_ago < moment <= now)
    by_open = max_open - open_now
    by_hour = per_hour - recent
    if by_open <= by_hour:
        return Allowance(max(0, by_open), Reason.OPEN_LIMIT)
    return Allowance(max(0, by_hour), Reason.HOURLY_LIMIT)
