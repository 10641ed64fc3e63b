"""What a checker is, and what it is given.

A checker asks one kind of upstream for releases and returns every release it sees. It never
chooses a version (bot.versions does), never touches files or GitLab, and never builds its own
HTTP session: it is handed one in its context, so tests pass a fake in one line.

A checker (a module, or any object) has:

    OPTIONS   its per-recipe options, as `Options` of typed `Option`s (a frozenset of names
              still works: those values then pass unchecked)
    SETTINGS  optional: its `checkers: <name>:` settings, as `Options`; without it any
              mapping is accepted and handed over as written
    detect(url) -> options or None
    releases(recipe, options, ctx) -> [Release]

The core checks options and settings where they are written, naming the key and the file, and
hands `releases` the parsed values; `OPTIONS.read(options)` gives them typed
(`values[MAX_PAGES]`), and checks a plain dict (a test's) the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, MutableMapping, Set
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

import structlog

from bot.errors import CheckerConfigError
from bot.ftp import FtpEntry
from bot.model import Recipe, Release
from bot.pages import HttpSettings, Page
from checkers._options import (
    ALLOWED,
    ANYTHING,
    CHANGELOG,
    CHECKER,
    COMMON,
    DISABLED,
    ENV_NAME,
    FLAG,
    IGNORE,
    OWNER_NAME,
    PRERELEASES,
    SPECIFIER,
    TEXT,
    URL,
    URL_PREFIXES,
    VERSION_REGEX,
    VERSIONS,
    InvalidValue,
    Kind,
    Option,
    Options,
    Values,
    check_recipe_options,
    count,
)

__all__ = [
    "ALLOWED",
    "ANYTHING",
    "CHANGELOG",
    "CHECKER",
    "COMMON",
    "COMMON_OPTIONS",
    "DISABLED",
    "ENV_NAME",
    "FLAG",
    "IGNORE",
    "OWNER_NAME",
    "PRERELEASES",
    "SPECIFIER",
    "TEXT",
    "URL",
    "URL_PREFIXES",
    "VERSIONS",
    "VERSION_REGEX",
    "CheckContext",
    "Checker",
    "HttpClient",
    "InvalidValue",
    "Kind",
    "Option",
    "Options",
    "RunMemo",
    "Values",
    "check_recipe_options",
    "count",
    "options_of",
    "require",
    "settings_of",
]

T = TypeVar("T")

# Options every checker accepts; the core applies them (bot.versions), checkers ignore them.
COMMON_OPTIONS = frozenset(COMMON)


class HttpClient(Protocol):
    """All a checker may call on the shared HTTP client (bot.http.Http is the real one)."""

    @property
    def settings(self) -> HttpSettings: ...  # read for `max_page_bytes` and `user_agent`

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        allow_status: Collection[int] = (),
    ) -> Page: ...

    def json(self, url: str, **kwargs: Any) -> Any: ...

    def ftp_listdir(self, url: str) -> list[FtpEntry]: ...

    def block_host(self, host: str, until: float) -> None: ...


_ABSENT = object()


class RunMemo:
    """Answers checkers share for one run (robots.txt by site, say). Only what is the same for
    every recipe belongs here; keys start with the checker's name."""

    def __init__(self, store: MutableMapping[Any, object] | None = None) -> None:
        self._store: MutableMapping[Any, object] = {} if store is None else store

    def remember(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value stored under `key`, made (outside any lock: it may fetch) when absent.

        Two threads may both make it; the first stored wins and both get that one. dict's
        setdefault is atomic, so no lock is needed; a failure in `make` stores nothing.
        """
        found = self._store.get(key, _ABSENT)
        if found is _ABSENT:
            found = self._store.setdefault(key, make())
        return cast(T, found)


# CheckContext's default memo, replaced at construction: never stored into.
_FROM_CLIENT = RunMemo({})


@dataclass(frozen=True)
class CheckContext:
    """Services for one checker: the shared HTTP client, its `checkers.<name>` settings (as
    written; `SETTINGS.read` parses them), a logger, and the run's memo."""

    http: HttpClient
    settings: Mapping[str, Any] = field(default_factory=dict)
    log: Any = field(default_factory=structlog.get_logger)
    # Not given: the run's memo when `http` is the run's client (one Http per run), else new.
    memo: RunMemo = _FROM_CLIENT

    def __post_init__(self) -> None:
        if self.memo is _FROM_CLIENT:
            # Imported here: the checkers' types are read by `list` and the config, which
            # need no HTTP client (and not the tenth of a second requests takes to import).
            from bot.http import Http

            store = self.http.memo if isinstance(self.http, Http) else None
            object.__setattr__(self, "memo", RunMemo(store))


class Checker(Protocol):
    """A checker module (or any object) with these two functions and its declared options."""

    @property
    def OPTIONS(self) -> Set[str]:  # read-only: a module constant matches it
        """`Options` (typed) or, from older plugins, a frozenset of names."""
        ...

    def detect(self, url: str) -> dict[str, Any] | None:
        """Options for this checker if it can check a recipe with this source URL, else None."""
        ...

    def releases(
        self, recipe: Recipe, options: Mapping[str, Any], ctx: CheckContext
    ) -> list[Release]:
        """Every release the upstream offers (prereleases and yanked ones included, flagged)."""
        ...


def options_of(checker: object, name: str = "") -> Options:
    """A checker's declared options; a plugin's bare names become an unchecked declaration."""
    declared: Set[str] = getattr(checker, "OPTIONS", frozenset())
    if isinstance(declared, Options):
        return declared
    return Options.names_only(declared, checker=name)


def settings_of(checker: object) -> Options | None:
    """A checker's declared settings, or None when it declares none (anything goes)."""
    declared = getattr(checker, "SETTINGS", None)
    return declared if isinstance(declared, Options) else None


def require(options: Mapping[str, Any], key: str, checker: str) -> Any:
    """An option the checker cannot work without, or a CheckerConfigError naming it.

    For plugins that read untyped options; a typed declaration says `required=True` instead.
    """
    value = options.get(key)
    if value in (None, ""):
        raise CheckerConfigError(f"checker {checker!r} needs the option {key!r}")
    return value
