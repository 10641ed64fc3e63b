"""The checker registry: name -> checker. Name = module = config key.

Built-in checkers are listed here explicitly (a test keeps this map, the modules on disk and the
tests honest); other packages add theirs through the entry-point group `recipe_bot.checkers`.
Detection asks the auto-detecting checkers in DETECTION_ORDER; the first to claim a URL wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from types import MappingProxyType

import structlog

from checkers import crawl, github, listing, pypi
from checkers.api import CheckContext, Checker

__all__ = ["BUILTIN", "DETECTION_ORDER", "CheckContext", "Checker", "load_registry"]

BUILTIN: Mapping[str, Checker] = MappingProxyType(
    {"pypi": pypi, "github": github, "listing": listing, "crawl": crawl}
)
# `crawl` never auto-detects: crawling a site must be asked for.
DETECTION_ORDER = ("pypi", "github", "listing")

ENTRY_POINT_GROUP = "recipe_bot.checkers"


def load_registry() -> dict[str, Checker]:
    """The built-in checkers plus those installed packages register (never replacing one)."""
    registry: dict[str, Checker] = dict(BUILTIN)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in registry:
            structlog.get_logger().warning(
                "checker_plugin_shadowed", checker=entry.name, plugin=entry.value
            )
            continue
        try:
            registry[entry.name] = entry.load()
        except Exception as exc:  # a broken plugin must not take the built-in checkers down
            structlog.get_logger().error(
                "checker_plugin_failed", checker=entry.name, plugin=entry.value, error=str(exc)
            )
    return registry
