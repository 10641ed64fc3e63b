"""Expected failures, typed. Each carries a constant kind and context; bugs keep their traceback.

One bad recipe or upstream never stops a run: callers catch `RecipeBotError`, report it against
the recipe it concerns, and go on. Anything else is a bug and is logged with its traceback.
"""

from __future__ import annotations

from bot.reasons import Reason


class RecipeBotError(Exception):
    """Base of every expected failure. `reason` names it, from the closed set in bot.reasons."""

    reason: Reason = Reason.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(RecipeBotError):
    """Invalid configuration: names the file and the key."""

    reason = Reason.INVALID_CONFIG

    def __init__(self, message: str, *, key: str | None = None, file: str | None = None) -> None:
        where = ", ".join(part for part in (file, f"key {key!r}" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.key = key
        self.file = file


class RecipeError(RecipeBotError):
    """A recipe that cannot be read: names the file and the cause."""

    reason = Reason.UNREADABLE_RECIPE

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class RewriteRefused(RecipeBotError):
    """The rewrite will not edit this recipe safely; nothing was changed."""

    reason = Reason.REWRITE_REFUSED


class UpstreamError(RecipeBotError):
    """An upstream could not give a usable answer. Never means "no update"."""

    reason = Reason.UPSTREAM_ERROR


class UpstreamUnavailable(UpstreamError):
    """Timeouts, resets, 5xx or 429 after the retries ran out."""

    reason = Reason.UPSTREAM_UNAVAILABLE


class UpstreamNotFound(UpstreamError):
    """The upstream answered 404/410: the package, repository or file does not exist there."""

    reason = Reason.NOT_FOUND


class BadUpstreamResponse(UpstreamError):
    """The upstream answered, but with something we cannot parse (garbage JSON, HTML, ...)."""

    reason = Reason.BAD_RESPONSE


class ResponseTooLarge(UpstreamError):
    """The response was larger than the configured cap; the download was abandoned."""

    reason = Reason.TOO_LARGE


class RateLimited(UpstreamError):
    """The upstream's request budget is spent; try again after `reset_at` (epoch seconds)."""

    reason = Reason.RATE_LIMITED

    def __init__(self, message: str, *, reset_at: float | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class CheckerConfigError(RecipeBotError):
    """A checker lacks an option it needs (no package name, no repository, ...)."""

    reason = Reason.CHECKER_MISCONFIGURED


class NoChecker(CheckerConfigError):
    """No checker recognises the recipe's sources and none is named: nothing to ask."""

    reason = Reason.NO_CHECKER


class ForgeError(RecipeBotError):
    """The forge could not be reached or refused a request the run depends on."""

    reason = Reason.FORGE_ERROR
