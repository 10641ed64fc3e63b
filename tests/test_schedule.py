"""The schedule window and the merge request limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.reasons import Reason
from bot.schedule import allowance, in_window, next_window

UTC = UTC


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (datetime(2026, 11, 21, 0, 0, tzinfo=UTC), True),  # Saturday
        (datetime(2026, 11, 22, 23, 59, tzinfo=UTC), True),  # Sunday
        (datetime(2026, 11, 23, 0, 0, tzinfo=UTC), False),  # Monday
        (datetime(2026, 11, 20, 23, 59, tzinfo=UTC), False),  # Friday
    ],
)
def test_default_window_is_the_weekend(moment: datetime, inside: bool) -> None:
    """`* * * * 6,0` is Saturday and Sunday in standard cron numbering (0 is Sunday)."""
    assert in_window("* * * * 6,0", "UTC", moment) is inside


def test_window_is_read_in_the_configured_time_zone() -> None:
    """Friday 23:30 UTC is already Saturday in Berlin."""
    friday_night = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    assert not in_window("* * * * 6,0", "UTC", friday_night)
    assert in_window("* * * * 6,0", "Europe/Berlin", friday_night)


def test_sunday_as_seven() -> None:
    """Cron's 7 means Sunday too."""
    assert in_window("* * * * 7", "UTC", datetime(2026, 11, 22, 12, 0, tzinfo=UTC))


def test_hours_window() -> None:
    """A working-hours window opens at 9 and closes after 16:59."""
    expression = "* 9-16 * * 1-5"
    assert in_window(expression, "UTC", datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    assert not in_window(expression, "UTC", datetime(2026, 11, 24, 17, 0, tzinfo=UTC))


def test_next_window() -> None:
    """On a Tuesday the next weekend minute is Saturday 00:00."""
    opens = next_window("* * * * 6,0", "UTC", datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    assert opens == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)


def test_allowance_by_open_limit() -> None:
    """With 9 of 10 open, one more may open."""
    now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    result = allowance(open_now=9, created=[], now=now, max_open=10, per_hour=5)
    assert (result.count, result.reason) == (1, Reason.OPEN_LIMIT)


def test_allowance_by_hourly_limit() -> None:
    """Merge requests created in the last hour count against the hourly limit; older ones do not."""
    now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    created = [now - timedelta(minutes=10), now - timedelta(minutes=50), now - timedelta(hours=2)]
    result = allowance(open_now=0, created=created, now=now, max_open=10, per_hour=2)
    assert (result.count, result.reason) == (0, Reason.HOURLY_LIMIT)


def test_allowance_never_negative() -> None:
    """Over the limit (a lowered config) allows zero, not a negative number."""
    now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert allowance(open_now=12, created=[], now=now, max_open=10, per_hour=5).count == 0
