"""recipe-bot.yaml, read once into frozen settings.

Every key is declared here with its type and default; an unknown key, a wrong type or a bad
value stops the command with a message that names the file and the key
(`limits.open_merge_requests`).
Checker settings (`checkers:`) and per-recipe options (`recipes:`) are checked against what
each checker declares (checkers.api `Options`): the built-in checkers' settings here, all of it
against the loaded registry in `validate_checkers`.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.errors import CheckerConfigError, ConfigError
from bot.nesting import TooDeep, check_nesting
from bot.pages import HttpSettings
from checkers import BUILTIN, load_registry
from checkers.api import (
    COMMON,
    COMMON_OPTIONS,
    Checker,
    check_recipe_options,
    options_of,
    settings_of,
)

CONFIG_NAME = "recipe-bot.yaml"


@dataclass(frozen=True)
class HttpConfig:
    timeout: float = 30.0
    concurrency: int = 16
    per_host: int = 4
    cache: str | None = ".recipe-bot-cache.sqlite"
    ca_bundle: str | None = None
    # Processes a sweep checks in (bot.fanout); unset: as many as the CPUs allow, up to 4.
    # `concurrency` and `per_host` are shared out between them, not multiplied.
    processes: int | None = None


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

    def http_settings(
        self,
        environ: Mapping[str, str] | None = None,
        registry: Mapping[str, Checker] | None = None,
    ) -> HttpSettings:
        """The HTTP layer's settings, with tokens resolved from the environment by host.

        Each checker setting declared `token_for` names an environment variable; its value goes
        to the host of that checker's URL setting (GitHub's token to its API host).
        """
        env = os.environ if environ is None else environ
        tokens: dict[str, str] = {}
        for binding in self._tokens(registry):
            token = env.get(binding.env, "")
            if token and binding.host:
                tokens[binding.host] = f"Bearer {token}"
        return HttpSettings(
            timeout=self.http.timeout,
            concurrency=self.http.concurrency,
            per_host=self.http.per_host,
            cache=self.http.cache,
            ca_bundle=self.http.ca_bundle,
            tokens=tokens,
        )

    def secret_env_names(self, registry: Mapping[str, Checker] | None = None) -> list[str]:
        """Every environment variable this configuration reads a secret from, for redaction."""
        names = [self.gitlab.token_env, self.serve.webhook_secret_env]
        return names + [binding.env for binding in self._tokens(registry)]

    def _tokens(self, registry: Mapping[str, Checker] | None) -> list[_Token]:
        found = []
        for name, checker in (load_registry() if registry is None else registry).items():
            declared = settings_of(checker)
            if declared is None:
                continue
            try:
                values = declared.read(self.checkers.get(name, {}))
            except CheckerConfigError:
                continue  # validate_checkers reports it; a bad setting sends no token
            for option in declared.by_name.values():
                if option.token_for is not None and option.name in values:
                    url = values.get(option.token_for)
                    host = (urlsplit(url).hostname or "") if isinstance(url, str) else ""
                    found.append(_Token(env=values[option.name], host=host))
        return found


@dataclass(frozen=True)
class _Token:
    env: str  # the environment variable holding it
    host: str  # where the HTTP layer sends it


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


def validate_checkers(config: Config, registry: Mapping[str, Checker]) -> None:
    """Check `checkers:` settings and `recipes:` options against what each checker declares,
    naming the key (`recipes.foo.max_pages`) and the file."""
    file = config.source
    for name, settings in config.checkers.items():
        if name not in registry:
            raise ConfigError(
                f"unknown checker (known: {', '.join(sorted(registry))})",
                key=f"checkers.{name}",
                file=file,
            )
        declared = settings_of(registry[name])
        if declared is not None:
            declared.check(settings, where=f"checkers.{name}", file=file)
    for recipe, options in config.recipes.items():
        where = f"recipes.{recipe}"
        checker = options.get("checker")
        if checker is None:
            # Detection picks the checker later: each option must suit one that declares it.
            _check_for_any_checker(options, registry, where=where, file=file)
        elif isinstance(checker, str) and checker in registry:
            check_recipe_options(
                options, options_of(registry[checker], checker), where=where, file=file
            )
        else:
            raise ConfigError(
                f"unknown checker {checker!r} (known: {', '.join(sorted(registry))})",
                key=f"{where}.checker",
                file=file,
            )


def _check_for_any_checker(
    options: Mapping[str, Any], registry: Mapping[str, Checker], *, where: str, file: str | None
) -> None:
    declared = [options_of(checker, name) for name, checker in registry.items()]
    COMMON.check({k: v for k, v in options.items() if k in COMMON}, where=where, file=file)
    for key, value in options.items():
        if key in COMMON:
            continue
        owners = [spec for spec in declared if key in spec]
        if not owners:
            known = sorted(COMMON_OPTIONS.union(*declared))
            raise ConfigError(
                f"unknown option (known: {', '.join(known)})", key=f"{where}.{key}", file=file
            )
        errors = []
        for spec in owners:
            try:
                spec.check({key: value}, where=where, file=file)
            except ConfigError as exc:
                errors.append(exc)
            else:
                break
        else:
            raise errors[0]


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
    if config.http.processes is not None and config.http.processes < 1:
        raise ConfigError(
            "must be at least 1 (or unset: as the CPUs allow)", key="http.processes", file=file
        )
    if config.http.timeout <= 0:
        raise ConfigError("must be more than 0", key="http.timeout", file=file)
    # Settings of the built-in checkers are known without the plugins (validate_checkers
    # checks every checker's, once the registry is loaded).
    for name, settings in config.checkers.items():
        declared = settings_of(BUILTIN[name]) if name in BUILTIN else None
        if declared is not None:
            declared.check(settings, where=f"checkers.{name}", file=file)
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
