"""Which checker, with which options and which version policy, applies to a recipe.

Explicit options win: recipe-bot.yaml `recipes: <name>:` over the recipe's own
`extra: update_check:`, both over detection. Without an explicit `checker`, the first checker
in DETECTION_ORDER that claims one of the recipe's source URLs is used; a constraints pin is a
PyPI package by definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.config import Config, validate_checkers
from bot.errors import CheckerConfigError, ConfigError, NoChecker
from bot.formats import get_format
from bot.model import Recipe
from bot.versions import Policy
from checkers import DETECTION_ORDER, Checker
from checkers.api import (
    ALLOWED,
    CHANGELOG,
    DISABLED,
    IGNORE,
    PRERELEASES,
    Values,
    check_recipe_options,
    options_of,
)


@dataclass(frozen=True)
class Resolved:
    checker_name: str
    checker: Checker
    options: Mapping[str, Any]  # the checker's own options only, parsed (checkers.api Values)
    policy: Policy
    changelog: str | None  # a template with {version}, from the options
    disabled: bool


def resolve(recipe: Recipe, config: Config, registry: Mapping[str, Checker]) -> Resolved:
    in_recipe = dict(recipe.update_check)
    in_config = dict(config.recipes.get(recipe.name, {}))
    name = {**in_recipe, **in_config}.get("checker")
    detected: dict[str, Any] = {}
    if name is None:
        name, detected = _detect(recipe, registry)
    elif not isinstance(name, str) or name not in registry:
        raise CheckerConfigError(f"unknown checker {name!r} (known: {', '.join(sorted(registry))})")
    else:
        detected = _claim(registry[name], recipe) or {}
    checker = registry[name]
    declared = options_of(checker, name)
    try:
        # Each place is checked on its own, so the message names where the bad value is.
        recipe_common, recipe_own = check_recipe_options(
            in_recipe, declared, where="extra.update_check", file=recipe.path
        )
        config_common, config_own = check_recipe_options(
            in_config, declared, where=f"recipes.{recipe.name}", file=config.source
        )
        # Detected options are the checker's own making; checked all the same.
        found = declared.check(detected, where="detected", file=recipe.path)
    except ConfigError as exc:
        raise CheckerConfigError(exc.message) from None
    # The config file wins over the recipe, both over detection.
    options = Values(declared, {**found.given, **recipe_own.given, **config_own.given})
    common = Values(recipe_common.spec, {**recipe_common.given, **config_common.given})
    return Resolved(
        checker_name=name,
        checker=checker,
        options=options,
        policy=policy_for(common, config),
        changelog=common.optional(CHANGELOG),
        disabled=common[DISABLED],
    )


def policy_for(common: Values, config: Config) -> Policy:
    """The version policy from a recipe's common options, `versions:` filling the gaps."""
    prereleases = common.optional(PRERELEASES)
    return Policy(
        prereleases=config.versions.prereleases if prereleases is None else prereleases,
        ignore=common[IGNORE],
        allowed=common.optional(ALLOWED) or None,
        minimum_release_age=timedelta(days=config.versions.minimum_release_age),
    )


def _detect(recipe: Recipe, registry: Mapping[str, Checker]) -> tuple[str, dict[str, Any]]:
    if get_format(recipe.format).names_from_pins:
        return "pypi", {"package": recipe.name}
    for name in DETECTION_ORDER:
        claimed = _claim(registry[name], recipe)
        if claimed is not None:
            return name, claimed
    urls = ", ".join(source.url for source in recipe.sources) or "no source URL"
    raise NoChecker(
        f"no checker recognises the source ({urls}); set extra.update_check.checker"
    )


def _claim(checker: Checker, recipe: Recipe) -> dict[str, Any] | None:
    for source in recipe.sources:
        options = checker.detect(source.url)
        if options is not None:
            return options
    return None


def checker_name_for(recipe: Recipe, config: Config, registry: Mapping[str, Checker]) -> str | None:
    """The checker that would check `recipe`, or None when none applies (no network).

    Only the name: the options are not parsed (`list` asks this of every recipe, and parsing
    compiles each listing's pattern; `check` reports bad options)."""
    explicit = {**dict(recipe.update_check), **dict(config.recipes.get(recipe.name, {}))}
    name = explicit.get("checker")
    if name is not None:
        return name if isinstance(name, str) and name in registry else None
    try:
        return _detect(recipe, registry)[0]
    except CheckerConfigError:
        return None


def validate_config_recipes(config: Config, registry: Mapping[str, Checker]) -> None:
    """Check `checkers:` and `recipes:` in the config file against the checkers, naming the
    key and the file (bot.config.validate_checkers; kept here for its callers)."""
    validate_checkers(config, registry)
