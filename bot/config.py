"""recipe-bot.yaml, read once into frozen settings.

Every key is declared here with its type and default; an unknown key, a wrong type or a bad
value stops the command with a message that names the file and the key
(`limits.open_merge_requests`).
Per-recipe options are checked against the options their checker declares.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.errors import ConfigError
from bot.http import HttpSettings
from bot.nesting import TooDeep, check_nesting

CONFIG_NAME = "recipe-bot.yaml"


@dataclass(frozen=True)
class HttpConfig:
    timeout: float = 30.0
    concurrency: int = 16
    per_host: int = 4
    cache: str | None = ".recipe-bot-cache.sqlite"
    ca_bundle: str | None = None


@dataclass(frozen=True)
class VersionsConfig:
    prereleases: bool = False
    minimum_release_age: float = 0  # days


@dataclass(frozen=True)
class ConstraintsFile:
    path: str
    yaml: str | None = None  # a YAML copy regenerated from the constraints on each update


@dataclass(frozen=True)
class GitLabConfig:
    url: str | None = None
    project: str | None = None
    token_env: str = "GITLAB_TOKEN"
    target_branch: str = "main"


@dataclass(frozen=True)
class LimitsConfig:
    open_merge_requests: int = 10
    merge_requests_per_hour: int = 2


@dataclass(frozen=True)
class MergeRequestsConfig:
    branch_prefix: str = "recipe-bot/"
    labels: tuple[str, ...] = ("dependencies",)
    # Regenerate a bot merge request, without a tick, when it conflicts with the target
    # ("conflicted"), also when the target merely moved on ("behind": fast-forward projects),
    # or never.
    rebase: str = "conflicted"
    # Ask the forge to merge each bot merge request once its pipeline succeeds.
    automerge: bool = False


REBASE_POLICIES = ("conflicted", "behind", "never")


@dataclass(frozen=True)
class DashboardConfig:
    title: str = "Recipe Dashboard"
    labels: tuple[str, ...] = ("recipe-bot",)


@dataclass(frozen=True)
class ServeConfig:
    schedule: str = "0 * * * *"
    listen: str = "0.0.0.0:8080"
    webhook_secret_env: str = "RECIPE_BOT_WEBHOOK_SECRET"


DEFAULT_VARIANTS = "conda_build_config.yaml"


@dataclass(frozen=True)
class Config:
    checkers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    http: HttpConfig = HttpConfig()
    versions: VersionsConfig = VersionsConfig()
    recipes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    constraints: tuple[ConstraintsFile, ...] = (ConstraintsFile("constraints.txt"),)
    # conda_build_config.yaml files at the repository level (one beside a recipe is read too).
    variants: tuple[str, ...] = (DEFAULT_VARIANTS,)
    gitlab: GitLabConfig = GitLabConfig()
    schedule: str = "* * * * 6,0"
    timezone: str = "UTC"
    limits: LimitsConfig = LimitsConfig()
    merge_requests: MergeRequestsConfig = MergeRequestsConfig()
    dashboard: DashboardConfig = DashboardConfig()
    serve: ServeConfig = ServeConfig()
    source: str | None = None  # the file this came from, for messages

    def http_settings(self, environ: Mapping[str, str] | None = None) -> HttpSettings:
        """The HTTP layer's settings, with tokens resolved from the environment by host."""
        env = os.environ if environ is None else environ
        tokens: dict[str, str] = {}
        github = self.checkers.get("github", {})
        token = env.get(str(github.get("token_env", "GITHUB_TOKEN")), "")
        if token:
            api_url = str(github.get("api_url", "https://api.github.com"))
            host = _host(api_url)
            tokens[host] = f"Bearer {token}"
        return HttpSettings(
            timeout=self.http.timeout,
            concurrency=self.http.concurrency,
            per_host=self.http.per_host,
            cache=self.http.cache,
            ca_bundle=self.http.ca_bundle,
            tokens=tokens,
        )


# Checker settings (`checkers:`) known for the built-in checkers; plugins take any mapping.
CHECKER_SETTINGS = {
    "pypi": {"url"},
    "github": {"api_url", "token_env"},
    "listing": set(),
    "crawl": set(),
}


def find_config(recipes_dir: str | os.PathLike[str], explicit: str | None) -> Path | None:
    """`--config FILE` when given, else RECIPES_DIR/recipe-bot.yaml when present."""
    if explicit:
        return Path(explicit)
    candidate = Path(recipes_dir) / CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Read and validate a config file; None gives the defaults."""
    if path is None:
        return Config()
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=file) from None
    try:
        check_nesting(text)
        # pure=True: ruamel's C parser (YAML 1.1) refuses `{url: https://pypi.org}`, the very
        # style design.md's examples use; config files are small, speed does not matter here.
        data = YAML(typ="safe", pure=True).load(text)
    except TooDeep as exc:
        raise ConfigError(str(exc), file=file) from None
    except YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=file) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", file=file) from None
    return parse_config(data or {}, file=file)


def parse_config(data: Any, *, file: str | None = None) -> Config:
    if not isinstance(data, Mapping):
        raise ConfigError("the top level must be a mapping", file=file)
    config = _build(Config, data, prefix="", file=file)
    config = dataclasses.replace(config, source=file)
    _validate(config, file)
    return config


def validate_recipe_options(
    name: str, options: Mapping[str, Any], allowed: frozenset[str], *, where: str, file: str | None
) -> None:
    """Check a recipe's options (config or `extra: update_check:`) against its checker."""
    for key in options:
        if key not in allowed:
            raise ConfigError(
                f"unknown option for recipe {name!r} (known: {', '.join(sorted(allowed))})",
                key=f"{where}.{key}",
                file=file,
            )
    if "allowed" in options:
        try:
            SpecifierSet(str(options["allowed"]))
        except InvalidSpecifier:
            raise ConfigError(
                f"not a version specifier: {options['allowed']!r}",
                key=f"{where}.allowed",
                file=file,
            ) from None
    ignore = options.get("ignore", [])
    if not isinstance(ignore, list) or not all(
        isinstance(item, str | int | float) for item in ignore
    ):
        raise ConfigError("must be a list of versions or regexes", key=f"{where}.ignore", file=file)


# --- the generic part: mapping -> frozen dataclass, with key paths in every message ----------


def _build(cls: type, data: Mapping[str, Any], *, prefix: str, file: str | None) -> Any:
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    values: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(
                f"unknown key (known: {', '.join(sorted(names))})", key=path, file=file
            )
        values[key] = _coerce(hints[key], value, path=path, file=file)
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(
            str(exc).split("__init__() ")[-1], key=prefix.rstrip(".") or None, file=file
        ) from None


def _coerce(hint: Any, value: Any, *, path: str, file: str | None) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _coerce(inner, value, path=path, file=file)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError("must be a mapping", key=path, file=file)
        return _build(hint, value, prefix=f"{path}.", file=file)  # type: ignore[arg-type]
    if origin is tuple:
        (item_hint, _) = get_args(hint)
        if not isinstance(value, list):
            raise ConfigError("must be a list", key=path, file=file)
        return tuple(
            _coerce(item_hint, item, path=f"{path}[{index}]", file=file)
            for index, item in enumerate(value)
        )
    if origin is Mapping or hint is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError("must be a mapping", key=path, file=file)
        for name, inner in value.items():
            if not isinstance(inner, Mapping):
                raise ConfigError("must be a mapping", key=f"{path}.{name}", file=file)
        return {str(name): dict(inner) for name, inner in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError("must be true or false", key=path, file=file)
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError("must be a non-negative number", key=path, file=file)
        if hint is int and value != int(value):
            raise ConfigError("must be a whole number", key=path, file=file)
        return hint(value)
    if hint is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError("must be a string", key=path, file=file)
        return str(value)
    return value


def _validate(config: Config, file: str | None) -> None:
    from croniter import croniter

    for key, expression in (
        ("schedule", config.schedule),
        ("serve.schedule", config.serve.schedule),
    ):
        if len(expression.split()) != 5 or not croniter.is_valid(expression):
            raise ConfigError(f"not a 5-field cron expression: {expression!r}", key=key, file=file)
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {config.timezone!r}", key="timezone", file=file
        ) from None
    if config.http.concurrency < 1 or config.http.per_host < 1:
        raise ConfigError("must be at least 1", key="http.concurrency/per_host", file=file)
    if config.http.timeout <= 0:
        raise ConfigError("must be more than 0", key="http.timeout", file=file)
    for name, settings in config.checkers.items():
        known = CHECKER_SETTINGS.get(name)
        for key in settings if known is not None else ():
            if key not in known:  # type: ignore[operator]
                raise ConfigError(
                    f"unknown setting for checker {name!r}", key=f"checkers.{name}.{key}", file=file
                )
    if config.merge_requests.rebase not in REBASE_POLICIES:
        raise ConfigError(
            f"must be one of {', '.join(REBASE_POLICIES)}, not {config.merge_requests.rebase!r}",
            key="merge_requests.rebase",
            file=file,
        )
    listen = config.serve.listen
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"must be HOST:PORT, not {listen!r}", key="serve.listen", file=file)
    paths = [
        (f"constraints[{index}].{key}", value)
        for index, constraints in enumerate(config.constraints)
        for key, value in (("path", constraints.path), ("yaml", constraints.yaml))
    ]
    paths += [(f"variants[{index}]", value) for index, value in enumerate(config.variants)]
    for key, value in paths:
        if value is not None and (Path(value).is_absolute() or ".." in Path(value).parts):
            raise ConfigError("must be a path inside the recipes directory", key=key, file=file)


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""
