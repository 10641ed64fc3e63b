"""Typed checker options and settings: what each checker accepts, of which kind, by default.

A checker declares its per-recipe options (`recipes: <name>:` in recipe-bot.yaml, or the
recipe's `extra: update_check:`) and its settings (`checkers: <name>:`) as `Options`, one
`Option` each: a name, a `Kind` (what values fit, and how they parse), a default, whether it
is required. The core validates them where they are written (config load, recipe resolution),
so the message names the key and the file; the checker then reads parsed, typed values
(`values[MAX_PAGES]` is an int, `values[PATTERN]` a compiled regex).

A plugin that still declares only names (`OPTIONS = frozenset({...})`) keeps working: its
values pass through unchecked (`Options.names_only`). Plugins reach all of this through
checkers.api.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlsplit

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from bot.errors import CheckerConfigError, ConfigError
from checkers._tags import AffixPattern, NamePattern

T = TypeVar("T")
S = TypeVar("S")


class InvalidValue(ValueError):
    """Why a value does not fit its kind; whoever knows the key and the file reports it."""


@dataclass(frozen=True)
class Kind(Generic[T]):
    """What values an option takes: a description (for messages and docs) and its parser."""

    description: str  # completes "must be ...": "an integer >= 1"
    parse: Callable[[Any], T]  # raises InvalidValue


@dataclass(frozen=True)
class Option(Generic[T]):
    """One declared option (or setting) of a checker."""

    name: str
    kind: Kind[T]
    default: T | None = None
    required: bool = False
    # Settings only: this setting names an environment variable holding a token, which the
    # HTTP layer sends (`Authorization: Bearer`) to the host of the URL setting named here.
    token_for: str | None = None


class Options(Set[str]):
    """A checker's declared options or settings. As a set it holds their names, so code that
    treats a checker's OPTIONS as a frozenset of names keeps working."""

    def __init__(self, *options: Option[Any], checker: str = "", what: str = "option") -> None:
        self.by_name: Mapping[str, Option[Any]] = {option.name: option for option in options}
        self.checker = checker  # for messages: "checker 'crawl': option 'max_pages' ..."
        self.what = what  # "option" or "setting"
        self.typed = True

    @classmethod
    def names_only(cls, names: Iterable[str], *, checker: str = "") -> Options:
        """A plugin's legacy `OPTIONS = frozenset({...})`: names known, values unchecked."""
        legacy = cls(*(Option(name, ANYTHING) for name in names), checker=checker)
        legacy.typed = False
        return legacy

    # --- the set of names ----------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)

    @classmethod
    def _from_iterable(cls, names: Iterable[S]) -> frozenset[S]:
        # `OPTIONS & COMMON_OPTIONS` and friends give plain sets of names.
        return frozenset(names)

    # --- validation ----------------------------------------------------------------------

    def check(self, given: Mapping[str, Any], *, where: str, file: str | None) -> Values:
        """Parse what a user wrote; a ConfigError names `where.<key>` and the file."""
        parsed: dict[str, Any] = {}
        for key, value in given.items():
            option = self.by_name.get(key)
            if option is None:
                known = ", ".join(sorted(self.by_name)) or "none"
                raise ConfigError(
                    f"unknown {self.what}{self._of()} (known: {known})",
                    key=f"{where}.{key}",
                    file=file,
                )
            if value is None:
                continue  # `key:` with nothing after it: as if not written
            try:
                parsed[key] = option.kind.parse(value)
            except InvalidValue as exc:
                raise ConfigError(
                    f"must be {option.kind.description}{exc.args[0] if exc.args else ''}",
                    key=f"{where}.{key}",
                    file=file,
                ) from None
        return Values(self, parsed)

    def read(self, given: Mapping[str, Any]) -> Values:
        """What a checker calls on the options (or settings) it is handed: parsed values, with
        defaults. Values the core already checked against this declaration are used as they
        are; anything else (a test's plain dict) is checked here, as a CheckerConfigError."""
        if isinstance(given, Values) and given.spec is self:
            return given
        try:
            return self.check(given, where=self.what, file=None)
        except ConfigError as exc:
            raise CheckerConfigError(f"checker {self.checker!r}: {exc.message}") from None

    def _of(self) -> str:
        return f" for checker {self.checker!r}" if self.checker else ""


class Values(Mapping[str, Any]):
    """Parsed values of one declaration, defaults filled in. Read typed by Option
    (`values[MAX_PAGES]` -> int) or, for plugins that declare names only, by name."""

    def __init__(self, spec: Options, parsed: Mapping[str, Any]) -> None:
        self.spec = spec
        self.given: Mapping[str, Any] = dict(parsed)  # what was written, without defaults
        defaults = {
            name: option.default
            for name, option in spec.by_name.items()
            if option.default is not None
        }
        self._values: Mapping[str, Any] = {**defaults, **parsed}

    @overload
    def __getitem__(self, key: str) -> Any: ...
    @overload
    def __getitem__(self, key: Option[T]) -> T: ...
    def __getitem__(self, key: str | Option[T]) -> Any:
        if isinstance(key, str):
            return self._values[key]
        if key.name not in self._values:
            # A required option neither written nor detected: the checker cannot work.
            raise CheckerConfigError(
                f"checker {self.spec.checker!r} needs the {self.spec.what} {key.name!r}"
            )
        return self._values[key.name]

    def optional(self, option: Option[T]) -> T | None:
        """An option that may be absent (no default): its value, or None."""
        value: T | None = self._values.get(option.name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Values({dict(self._values)!r})"


# --- kinds -----------------------------------------------------------------------------------


def _anything(value: Any) -> Any:
    return value


ANYTHING: Kind[Any] = Kind("anything", _anything)


def _text(value: Any) -> str:
    # YAML reads `package: 2048` as a number; as a name it is text.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidValue()
    if value == "":
        raise InvalidValue(", not empty")
    return str(value)


TEXT: Kind[str] = Kind("a string", _text)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f", not {value!r}")
    return value


FLAG: Kind[bool] = Kind("true or false", _flag)


def count(minimum: int) -> Kind[int]:
    """Whole numbers from `minimum` up (a page budget, a depth)."""

    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InvalidValue(f", not {value!r}")
        return value

    return Kind(f"an integer >= {minimum}", parse)


@functools.lru_cache(maxsize=16_384)
def _compiled(pattern: str) -> re.Pattern[str]:
    # Every listing recipe has a pattern of its own: thousands overflow `re`'s own cache of
    # 512, and compiling one costs about 0.25 ms, once a recipe per sweep without this.
    return re.compile(pattern)


def _version_regex(value: Any) -> NamePattern:
    if not isinstance(value, str) or not value:
        raise InvalidValue(f", not {value!r}")
    affix = AffixPattern.for_pattern(value)  # what detection writes: no regex to compile
    if affix is not None:
        return affix
    try:
        compiled = _compiled(value)
    except re.error as exc:
        raise InvalidValue(f"; {value!r} does not compile: {exc}") from None
    if "version" not in compiled.groupindex:
        raise InvalidValue(f"; {value!r} has no version group")
    return compiled


VERSION_REGEX: Kind[NamePattern] = Kind("a regex with a (?P<version>...) group", _version_regex)

_OWNER_NAME = re.compile(r"[\w.-]+/[\w.-]+")


def _owner_name(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f", not {value!r}")
    repo = value.strip("/").removesuffix(".git")
    if not _OWNER_NAME.fullmatch(repo):
        raise InvalidValue(f", not {value!r}")
    return repo


OWNER_NAME: Kind[str] = Kind("owner/name", _owner_name)


def _url(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f", not {value!r}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "ftp") or not parts.hostname:
        raise InvalidValue(f", not {value!r}")
    return value


URL: Kind[str] = Kind("an http(s) or ftp URL", _url)


def _url_prefixes(value: Any) -> tuple[str, ...]:
    prefixes = [value] if isinstance(value, str) else value
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and p for p in prefixes):
        raise InvalidValue(f", not {value!r}")
    return tuple(prefixes)


URL_PREFIXES: Kind[tuple[str, ...]] = Kind("a URL prefix or a list of them", _url_prefixes)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise InvalidValue(f", not {value!r}")
    return value


ENV_NAME: Kind[str] = Kind("an environment variable name", _env_name)


def _versions(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
    ):
        raise InvalidValue()
    return tuple(str(item) for item in value)


VERSIONS: Kind[tuple[str, ...]] = Kind("a list of versions or regexes", _versions)


def _specifier(value: Any) -> str:
    try:
        SpecifierSet(str(value))
    except InvalidSpecifier:
        raise InvalidValue(f"; {value!r} is not a version specifier") from None
    return str(value)


SPECIFIER: Kind[str] = Kind("a PEP 440 version specifier", _specifier)


# --- the options every checker accepts (the core applies them, checkers never see them) -----

CHECKER = Option("checker", TEXT)
IGNORE: Option[tuple[str, ...]] = Option("ignore", VERSIONS, default=())
ALLOWED = Option("allowed", SPECIFIER)
PRERELEASES = Option("prereleases", FLAG)  # absent: `versions.prereleases` decides
CHANGELOG = Option("changelog", TEXT)  # a URL template, `{version}` substituted
DISABLED = Option("disabled", FLAG, default=False)
COMMON = Options(CHECKER, IGNORE, ALLOWED, PRERELEASES, CHANGELOG, DISABLED)


def check_recipe_options(
    given: Mapping[str, Any], own: Options, *, where: str, file: str | None
) -> tuple[Values, Values]:
    """(common, the checker's own) values of one place's options for a recipe, checked."""
    for key in given:
        if key not in COMMON and key not in own:
            raise ConfigError(
                f"unknown option{own._of()} (known: {', '.join(sorted(COMMON | own))})",
                key=f"{where}.{key}",
                file=file,
            )
    common = COMMON.check({k: v for k, v in given.items() if k in COMMON}, where=where, file=file)
    mine = own.check({k: v for k, v in given.items() if k not in COMMON}, where=where, file=file)
    return common, mine
