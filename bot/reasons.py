"""Every reason a recipe is not updated, or a run stops short, has a name: this closed set.

`check --json` (through the message in its `error` field), the dashboard's Errors, Skipped and
Awaiting sections and the log events all use these names, so a reason is never an ad hoc
string that one place spells differently. Each error class in bot.errors carries one; the
planner gives one to every decision that waits or refuses.

The groups say where a reason can appear:

- a *skip*: nothing to do this time, and nothing is wrong (up to date, disabled, rate-limited);
- an *error*: the recipe could not be checked or rewritten; it is listed under Errors;
- a *wait*: an update exists but the schedule or the limits hold it back;
- a *stop*: the run itself could not go on (GitLab, the lock, the configuration).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # skips
    UP_TO_DATE = "up-to-date"
    NO_RELEASES = "no-releases"
    NO_CHECKER = "no-checker"
    DISABLED = "disabled"
    RATE_LIMITED = "rate-limited"
    CURRENT_NOT_PARSEABLE = "current-version-unparseable"
    # errors, per recipe
    ERROR = "error"
    INTERNAL_ERROR = "internal-error"
    UNREADABLE_RECIPE = "unreadable-recipe"
    CHECKER_MISCONFIGURED = "checker-misconfigured"
    UPSTREAM_ERROR = "upstream-error"
    UPSTREAM_UNAVAILABLE = "upstream-unavailable"
    NOT_FOUND = "not-found"
    BAD_RESPONSE = "bad-response"
    TOO_LARGE = "too-large"
    REWRITE_REFUSED = "rewrite-refused"
    UNSAFE_NAME = "unsafe-name"
    UNSAFE_VERSION = "unsafe-version"
    # waits
    SCHEDULE = "schedule"
    OPEN_LIMIT = "open-merge-request-limit"
    HOURLY_LIMIT = "hourly-limit"
    # stops
    INVALID_CONFIG = "invalid-config"
    FORGE_ERROR = "gitlab-error"
    LOCKED = "locked"


SKIPS = frozenset(
    {
        Reason.UP_TO_DATE,
        Reason.NO_RELEASES,
        Reason.NO_CHECKER,
        Reason.DISABLED,
        Reason.RATE_LIMITED,
        Reason.CURRENT_NOT_PARSEABLE,
    }
)
WAITS = frozenset({Reason.SCHEDULE, Reason.OPEN_LIMIT, Reason.HOURLY_LIMIT})
STOPS = frozenset({Reason.INVALID_CONFIG, Reason.FORGE_ERROR, Reason.LOCKED})
ERRORS = frozenset(Reason) - SKIPS - WAITS - STOPS

# What the dashboard says of a wait, after "waiting for the".
WAIT_WORDS = {
    Reason.SCHEDULE: "schedule",
    Reason.OPEN_LIMIT: "open merge request limit",
    Reason.HOURLY_LIMIT: "hourly limit",
}
