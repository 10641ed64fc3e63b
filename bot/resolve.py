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

from bot.config import Config, validate_recipe_options
from bot.errors import CheckerConfigError, ConfigError, NoChecker
from bot.formats import get_format
from bot.model import Recipe
from bot.versions import Policy
from checkers import DETECTION_ORDER, Checker
from checkers.api import COMMON_OPTIONS


@dataclass(frozen=True)
class Resolved:
    checker_name: str
    checker: Checker
    options: Mapping[str, Any]  # the checker's own options only
    policy: Policy
    changelog: str | None  # a template with {version}, from the options
    disabled: bool


def resolve(recipe: Recipe, config: Config, registry: Mapping[str, Checker]) -> Resolved:
    explicit = {**dict(recipe.update_check), **dict(config.recipes.get(recipe.name, {}))}
    name = explicit.get("checker")
    detected: dict[str, Any] = {}
    if name is None:
        name, detected = _detect(recipe, registry)
    elif name not in registry:
        raise CheckerConfigError(f"unknown checker {name!r} (known: {', '.join(sorted(registry))})")
    else:
        detected = _claim(registry[name], recipe) or {}
    checker = registry[name]
    allowed = COMMON_OPTIONS | frozenset(getattr(checker, "OPTIONS", frozenset()))
    try:
        validate_recipe_options(
            recipe.name, explicit, allowed, where=f"recipes.{recipe.name}", file=None
        )
    except ConfigError as exc:
        raise CheckerConfigError(exc.message) from None
    options = {**detected, **{k: v for k, v in explicit.items() if k not in COMMON_OPTIONS}}
    return Resolved(
        checker_name=name,
        checker=checker,
        options=options,
        policy=policy_for(explicit, config),
        changelog=explicit.get("changelog"),
        disabled=bool(explicit.get("disabled", False)),
    )


def policy_for(options: Mapping[str, Any], config: Config) -> Policy:
    return Policy(
        prereleases=bool(options.get("prereleases", config.versions.prereleases)),
        ignore=tuple(str(item) for item in options.get("ignore", ())),
        allowed=str(options["allowed"]) if options.get("allowed") else None,
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
    """The checker that would check `recipe`, or None when none applies (no network)."""
    try:
        return resolve(recipe, config, registry).checker_name
    except CheckerConfigError:
        return None


def validate_config_recipes(config: Config, registry: Mapping[str, Checker]) -> None:
    """Check `recipes:` in the config file against the checkers, naming the key and the file."""
    every_option = COMMON_OPTIONS.union(
        *(getattr(c, "OPTIONS", frozenset()) for c in registry.values())
    )
    for name, options in config.recipes.items():
        checker = options.get("checker")
        if checker is not None and checker not in registry:
            raise ConfigError(
                f"unknown checker {checker!r} (known: {', '.join(sorted(registry))})",
                key=f"recipes.{name}.checker",
                file=config.source,
            )
        allowed = (
            COMMON_OPTIONS | frozenset(getattr(registry[checker], "OPTIONS", frozenset()))
            if checker is not None
            else every_option
        )
        validate_recipe_options(name, options, allowed, where=f"recipes.{name}", file=config.source)
