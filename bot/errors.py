"""Expected failures, typed. Each carries a constant kind and context; bugs keep their traceback.

One bad recipe or upstream never stops a run: callers catch `RecipeBotError`, report it against
the recipe it concerns, and go on. Anything else is a bug and is logged with its traceback.
"""

from __future__ import annotations


class RecipeBotError(Exception):
    """Base of every expected failure. `reason` is a stable, machine-readable name."""

    reason = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(RecipeBotError):
    """Invalid configuration: names the file and the key."""

    reason = "invalid-config"

    def __init__(self, message: str, *, key: str | None = None, file: str | None = None) -> None:
        where = ", ".join(part for part in (file, f"key {key!r}" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.key = key
        self.file = file


class RecipeError(RecipeBotError):
    """A recipe that cannot be read: names the file and the cause."""

    reason = "unreadable-recipe"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class RewriteRefused(RecipeBotError):
    """The rewrite will not edit this recipe safely; nothing was changed."""

    reason = "rewrite-refused"


class UpstreamError(RecipeBotError):
    """An upstream could not give a usable answer. Never means "no update"."""

    reason = "upstream-error"


class UpstreamUnavailable(UpstreamError):
    """Timeouts, resets, 5xx or 429 after the retries ran out."""

    reason = "upstream-unavailable"


class UpstreamNotFound(UpstreamError):
    """The upstream answered 404/410: the package, repository or file does not exist there."""

    reason = "not-found"


class BadUpstreamResponse(UpstreamError):
    """The upstream answered, but with something we cannot parse (garbage JSON, HTML, ...)."""

    reason = "bad-response"


class ResponseTooLarge(UpstreamError):
    """The response was larger than the configured cap; the download was abandoned."""

    reason = "too-large"


class RateLimited(UpstreamError):
    """The upstream's request budget is spent; try again after `reset_at` (epoch seconds)."""

    reason = "rate-limited"

    def __init__(self, message: str, *, reset_at: float | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class CheckerConfigError(RecipeBotError):
    """A checker lacks an option it needs (no package name, no repository, ...)."""

    reason = "checker-misconfigured"


class ForgeError(RecipeBotError):
    """GitLab could not be reached or refused a request the run depends on."""

    reason = "gitlab-error"
