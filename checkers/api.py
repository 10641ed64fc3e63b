"""What a checker is, and what it is given.

A checker asks one kind of upstream for releases and returns every release it sees. It never
chooses a version (bot.versions does), never touches files or GitLab, and never builds its own
HTTP session: it is handed one in its context, so tests pass a fake in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from bot.errors import CheckerConfigError
from bot.http import Http
from bot.model import Recipe, Release

# Options every checker accepts; the core applies them (bot.versions), checkers ignore them.
COMMON_OPTIONS = frozenset({"checker", "ignore", "allowed", "prereleases", "changelog", "disabled"})


@dataclass(frozen=True)
class CheckContext:
    """Services for one checker: the shared HTTP client and its `checkers.<name>` settings."""

    http: Http
    settings: Mapping[str, Any] = field(default_factory=dict)
    log: Any = field(default_factory=structlog.get_logger)


class Checker(Protocol):
    """A checker module (or any object) with these two functions and a set of option names."""

    OPTIONS: frozenset[str]  # the checker-specific options it accepts, for config validation

    def detect(self, url: str) -> dict[str, Any] | None:
        """Options for this checker if it can check a recipe with this source URL, else None."""
        ...

    def releases(
        self, recipe: Recipe, options: Mapping[str, Any], ctx: CheckContext
    ) -> list[Release]:
        """Every release the upstream offers (prereleases and yanked ones included, flagged)."""
        ...


def require(options: Mapping[str, Any], key: str, checker: str) -> Any:
    """An option the checker cannot work without, or a CheckerConfigError naming it."""
    value = options.get(key)
    if value in (None, ""):
        raise CheckerConfigError(f"checker {checker!r} needs the option {key!r}")
    return value
