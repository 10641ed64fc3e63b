"""CroniterTrigger: APScheduler 3 fire times with standard cron semantics, on fixed dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.serve import CroniterTrigger

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type,misc]


def fire_times(trigger: CroniterTrigger, now: datetime, count: int) -> list[datetime]:
    """What APScheduler does: the first time from `now`, then each from the previous one."""
    times = [trigger.get_next_fire_time(None, now)]
    while len(times) < count:
        previous = times[-1]
        assert previous is not None
        times.append(trigger.get_next_fire_time(previous, now))
    return [time for time in times if time is not None]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2024, 6, 1, 12, 0, 0), utc(2024, 6, 1, 12, 0)),  # on the hour: fires now
        (utc(2024, 6, 1, 11, 59, 59), utc(2024, 6, 1, 12, 0)),
        (utc(2024, 6, 1, 12, 0, 1), utc(2024, 6, 1, 13, 0)),
        (utc(2024, 12, 31, 23, 30), utc(2025, 1, 1, 0, 0)),
    ],
)
def test_hourly_first_fire_time_is_at_or_after_now(now: datetime, expected: datetime) -> None:
    """Without a previous fire time, the first one is the next matching minute, now included."""
    assert CroniterTrigger("0 * * * *", "UTC").get_next_fire_time(None, now) == expected


def test_next_fire_time_is_strictly_after_the_previous_one() -> None:
    """Given the previous fire time, the trigger moves on even when `now` has not."""
    trigger = CroniterTrigger("0 * * * *", "UTC")
    previous = utc(2024, 6, 1, 12, 0)
    assert trigger.get_next_fire_time(previous, previous) == utc(2024, 6, 1, 13, 0)


def test_saturday_and_sunday_are_6_and_0_as_in_cron() -> None:
    """Day-of-week "6,0" is Saturday and Sunday (Friday 2024-06-07 is followed by 8-9 June)."""
    trigger = CroniterTrigger("0 0 * * 6,0", "UTC")
    times = fire_times(trigger, utc(2024, 6, 7, 12, 0), 3)
    assert [time.strftime("%a %d") for time in times] == ["Sat 08", "Sun 09", "Sat 15"]


def test_apscheduler_from_crontab_would_have_moved_the_weekend() -> None:
    """Why the trigger exists: APScheduler 3 reads day-of-week 0 as Monday."""
    quirky = CronTrigger.from_crontab("0 0 * * 0", timezone=UTC)
    assert quirky.get_next_fire_time(None, utc(2024, 6, 7, 12, 0)).strftime("%a") == "Mon"
    ours = CroniterTrigger("0 0 * * 0", "UTC")
    assert ours.get_next_fire_time(None, utc(2024, 6, 7, 12, 0)).strftime("%a") == "Sun"  # type: ignore[union-attr]


def test_seven_is_sunday_too() -> None:
    """Day-of-week 7 is Sunday, as in cron."""
    now = utc(2024, 6, 5, 8, 0)
    seven = CroniterTrigger("0 0 * * 7", "UTC").get_next_fire_time(None, now)
    zero = CroniterTrigger("0 0 * * 0", "UTC").get_next_fire_time(None, now)
    assert seven == zero == utc(2024, 6, 9, 0, 0)


def test_day_of_month_or_day_of_week() -> None:
    """With both restricted, cron fires on either (the 1st, or any Monday), not only on both."""
    trigger = CroniterTrigger("0 6 1 * 1", "UTC")
    times = fire_times(trigger, utc(2024, 6, 1, 0, 0), 3)
    assert [time.date().isoformat() for time in times] == ["2024-06-01", "2024-06-03", "2024-06-10"]


def test_expression_is_read_in_the_configured_time_zone() -> None:
    """ "0 9 * * *" in Europe/Berlin is 07:00 UTC in summer and 08:00 UTC in winter."""
    trigger = CroniterTrigger("0 9 * * *", "Europe/Berlin")
    summer = trigger.get_next_fire_time(None, utc(2024, 6, 1, 0, 0))
    winter = trigger.get_next_fire_time(None, utc(2024, 12, 1, 0, 0))
    assert summer == utc(2024, 6, 1, 7, 0)
    assert winter == utc(2024, 12, 1, 8, 0)


def test_fire_times_keep_moving_forward_through_the_autumn_clock_change() -> None:
    """When Berlin's 02:xx happens twice, an hourly trigger still advances an hour at a time."""
    trigger = CroniterTrigger("30 * * * *", "Europe/Berlin")
    times = fire_times(trigger, datetime(2024, 10, 27, 1, 0, tzinfo=BERLIN), 4)
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert gaps == [timedelta(hours=1)] * 3
    assert times[0].astimezone(UTC) == utc(2024, 10, 26, 23, 30)


def test_a_time_skipped_in_spring_still_fires_that_day() -> None:
    """02:30 does not exist in Berlin on 31 March 2024; the daily run happens anyway."""
    trigger = CroniterTrigger("30 2 * * *", "Europe/Berlin")
    fired = trigger.get_next_fire_time(None, datetime(2024, 3, 31, 0, 0, tzinfo=BERLIN))
    assert fired is not None
    assert fired.astimezone(BERLIN).date().isoformat() == "2024-03-31"


@pytest.mark.parametrize("expression", ["", "0 * * *", "0 * * * * *", "61 * * * *", "hourly"])
def test_invalid_expressions_are_refused(expression: str) -> None:
    """Anything but a valid 5-field expression is a ValueError, not a silent schedule."""
    with pytest.raises(ValueError, match="5-field"):
        CroniterTrigger(expression, "UTC")


def test_trigger_describes_itself() -> None:
    """APScheduler's log lines name the expression and the zone."""
    assert str(CroniterTrigger("0 * * * *", "UTC")) == "cron['0 * * * *', UTC]"
