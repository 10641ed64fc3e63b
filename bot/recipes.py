"""Find and read every recipe under a directory; one bad recipe never stops the others.

Reading a meta.yaml means rendering Jinja and parsing YAML, per platform: milliseconds each,
which add up to most of a warm sweep over thousands of recipes. What a file reads as depends
only on its bytes and its path, so results (errors too) are kept in the store by both and by
the bot's version; a file that changed is simply read again.

`stream_recipes` yields entries as they are read, so that a sweep checks the first recipes
while the others are still being read; `load_recipes` is the same, as a list. A sweep in
several processes goes further (`Recipes.read_later`): a recipe not cached is parsed by the
main process while its checking processes are busy, and by the checking process that checks
it when the main one cannot keep up (bot.sweep).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import structlog

from bot import __version__, formats
from bot.config import DEFAULT_VARIANTS, Config
from bot.errors import RecipeError
from bot.formats import files
from bot.formats.variants import merge as merge_variants
from bot.model import Recipe, Source
from bot.store import Table

log = structlog.get_logger()

# Bumped whenever reading gives other results for the same bytes, so that a cache written by an
# older reader is not trusted (2: configurations and variants, CRAN versions, metapackages).
READER_GENERATION = 2


@dataclass(frozen=True)
class Unreadable:
    """A recipe file that could not be read, and why."""

    path: str
    error: str

    @property
    def name(self) -> str:
        # The recipe's folder is the best name we have for it.
        return PurePosixPath(self.path).parent.name or self.path


Entry = Recipe | Unreadable
Variants = dict[str, list[str]]


def load_recipes(
    root: Path, config: Config, names: Sequence[str] = (), *, cache: Table | None = None
) -> list[Entry]:
    """Every recipe under `root` (or those named: a recipe name or its folder), in path order.

    A repository variant file that cannot be read makes every conda recipe unreadable, with
    that file's error: reading them without it could miss a variant's sources.
    """
    return list(stream_recipes(root, config, names, cache=cache))


@dataclass(frozen=True)
class Recipes(Iterable[Entry]):
    """The recipe files found under a root, read one by one as they are iterated over."""

    root: Path
    files: Sequence[Path]  # in path order; a constraints file may hold many entries
    constraints: Sequence[str]
    variants: Variants | RecipeError
    names: Sequence[str]
    cache: Table | None
    look_up_first: bool = True  # see _plans; one_by_one() is the copy without

    @property
    def expected(self) -> int:
        """About how many entries the iteration yields (a constraints file holds several)."""
        return len(self.names) if self.names else len(self.files)

    def one_by_one(self) -> Recipes:
        """These recipes, each looked up in the cache only when the iteration reaches it: for
        an iteration with no threads beside it (a sweep handing recipes to its checking
        processes), whose first recipe then goes out without waiting for the last lookup."""
        return replace(self, look_up_first=False)

    def read_later(self) -> Iterator[Entry | Unread]:
        """The entries, one by one, each recipe that is not cached left as an `Unread` for the
        sweep to `read` here or hand over: a sweep's checking processes then parse in parallel
        whenever waiting for this one to parse every recipe in turn would keep them idle (a
        first run, or the first after an upgrade, reads every recipe anew). What is cheap
        stays here: cached readings, constraints files (many entries to a file) and, when
        recipes are named, all (a name is known only once its recipe is read)."""
        if self.names or not isinstance(self.variants, dict):
            yield from self.one_by_one()
            return
        for plan in self._planned():
            if plan.stored is None and not plan.is_constraints:
                yield Unread(plan.path, plan.relative, plan.key)
            else:
                yield from _read(plan, self.root, self.variants, self.cache)

    def read(self, unread: Unread, cache: Table | None) -> Entry:
        """What `read_later` left unread, read now and kept in `cache` (the reader's own:
        no SQLite connection crosses a fork)."""
        plan = _Plan(unread.path, unread.relative, False, unread.key, None)
        (entry,) = _read(plan, self.root, self.variants, cache)  # one recipe to a recipe file
        return entry

    def __iter__(self) -> Iterator[Entry]:
        wanted = set(self.names)
        plans = self._plans() if self.look_up_first else self._planned()
        for plan in plans:
            for entry in _read(plan, self.root, self.variants, self.cache):
                if not wanted or wanted & _names_of(entry):
                    yield entry

    def _plans(self) -> list[_Plan]:
        """Each file's cache key and cached reading, all looked up before the first is yielded.

        Done up front on purpose: a sweep checks entries on a pool of threads as soon as they
        are yielded, and each of the five system calls a cached recipe costs (stat, open, read,
        close, the SQLite lookup) releases the GIL, which the reader then waits to get back
        behind 20 busy threads. Interleaved, 2,000 cached recipes took about 12 s to read, every
        checker thread idle for want of entries; up front, without rivals, a fraction of a
        second. Only the small cached bytes are kept; an uncached recipe is parsed when the
        iteration reaches it, overlapping with the checks as before. The lookups go a few
        hundred to a query (`Table.get_many`).
        """
        plans = list(self._planned(look_up=False))
        if self.cache is None:
            return plans
        stored = self.cache.get_many(plan.key for plan in plans if plan.key)
        return [
            _Plan(plan.path, plan.relative, plan.is_constraints, plan.key, stored[plan.key])
            if plan.key in stored
            else plan
            for plan in plans
        ]

    def _planned(self, *, look_up: bool = True) -> Iterator[_Plan]:
        """Each file's plan, looked up as the iteration reaches it (unless not `look_up`)."""
        # What every recipe's cache key shares, encoded once instead of once per recipe.
        variants_key = (
            b"" if isinstance(self.variants, RecipeError)
            else json.dumps(self.variants, sort_keys=True).encode()
        )  # fmt: skip
        prefix = os.path.join(os.fspath(self.root), "")
        for path in self.files:
            name = os.fspath(path)
            # As path.relative_to(root).as_posix(), without pathlib's cost per recipe.
            relative = name[len(prefix) :].replace(os.sep, "/") if name.startswith(prefix) else name
            is_constraints = relative in self.constraints
            key = stored = None
            if self.cache is not None and (is_constraints or isinstance(self.variants, dict)):
                key = _cache_key(path, relative, variants_key)
                stored = self.cache.get(key) if key and look_up else None
            yield _Plan(path, relative, is_constraints, key, stored)


@dataclass(frozen=True)
class Unread:
    """A recipe file `Recipes.read_later` left for the sweep to read: in the main process,
    or in the checking process it is handed to."""

    path: Path
    relative: str
    key: str | None  # its cache key, when it has one


@dataclass(frozen=True)
class _Plan:
    """One recipe file as the first pass found it: where it is, its cache key, what was cached."""

    path: Path
    relative: str
    is_constraints: bool
    key: str | None  # None: no cache, or no plain file (then it is read, never cached)
    stored: bytes | None  # the cached reading, when there is one


def stream_recipes(
    root: Path, config: Config, names: Sequence[str] = (), *, cache: Table | None = None
) -> Recipes:
    """`load_recipes`, but each entry is read only when the iteration reaches it."""
    constraints = [file.path for file in config.constraints]
    try:
        variants: Variants | RecipeError = repository_variants(root, config)
    except RecipeError as error:
        variants = error
    files = formats.discover(root, constraints=constraints)
    return Recipes(root, files, constraints, variants, names, cache)


def repository_variants(root: Path, config: Config) -> Variants:
    """The values of the repository's variant files (`variants:`), those that exist, merged."""
    found: list[Variants] = []
    for name in config.variants:
        path = root / name
        if path.is_file():
            found.append(formats.read_variants(path, root=root))
        elif name != DEFAULT_VARIANTS:
            log.warning("variant_file_missing", path=name)
    return merge_variants(*found)


def _read(
    plan: _Plan, root: Path, variants: Variants | RecipeError, cache: Table | None
) -> list[Entry]:
    if isinstance(variants, RecipeError) and not plan.is_constraints:
        return [Unreadable(plan.relative, variants.message)]
    if plan.stored is not None:
        return _decode(plan.stored)
    entries: list[Entry]
    try:
        if plan.is_constraints:
            entries = list(formats.read_constraints(plan.path, root=root))
        else:
            assert not isinstance(variants, RecipeError)
            entries = [formats.read_recipe(plan.path, root=root, variants=variants)]
    except RecipeError as exc:
        entries = [Unreadable(plan.relative, exc.message)]
    if cache is not None and plan.key:
        cache.put(plan.key, _encode(entries))
    return entries


def _cache_key(path: Path, relative: str, variants_key: bytes) -> str | None:
    """What a recipe reads as depends on its bytes and on the variant values it is read with
    (the repository's and those beside it); None when it is no plain file.

    Plain os calls rather than pathlib: this runs for every recipe of every command, and
    pathlib's parsing was most of a warm `list`.
    """
    name = os.fspath(path)
    try:
        # A link's meaning depends on more than its bytes: not followed, and no key.
        content = files.regular_file_bytes(name, flags=files.NO_FOLLOW)
        if content is None:
            return None
        try:
            beside = files.regular_file_bytes(os.path.dirname(name) + os.sep + formats.VARIANT_FILE)
        except (FileNotFoundError, NotADirectoryError):
            beside = None  # no variant file beside it
        if beside is not None:
            content += beside
    except OSError:
        return None
    digest = hashlib.sha256(content + variants_key).hexdigest()
    return f"{__version__}.{READER_GENERATION}:{relative}:{digest}"


def _encode(entries: Sequence[Entry]) -> bytes:
    rows: list[dict[str, Any]] = []
    for entry in entries:
        if isinstance(entry, Unreadable):
            rows.append({"unreadable": entry.path, "error": entry.error})
        else:
            rows.append(
                {
                    "name": entry.name,
                    "path": entry.path,
                    "format": entry.format,
                    "version": entry.version,
                    "update_check": dict(entry.update_check),
                    "sources": [[s.url, s.sha256, s.selector] for s in entry.sources],
                }
            )
    return json.dumps(rows).encode()


def _decode(data: bytes) -> list[Entry]:
    entries: list[Entry] = []
    for row in json.loads(data):
        if "unreadable" in row:
            entries.append(Unreadable(row["unreadable"], row["error"]))
        else:
            sources = tuple(Source(url, sha, selector) for url, sha, selector in row["sources"])
            entries.append(
                Recipe(
                    row["name"],
                    row["path"],
                    row["format"],
                    row["version"],
                    sources,
                    row["update_check"],
                )
            )
    return entries


def _names_of(entry: Entry) -> set[str]:
    folder = PurePosixPath(entry.path).parent.name
    return {entry.name, folder} if folder else {entry.name}


def unknown_names(entries: Sequence[Entry], names: Sequence[str]) -> list[str]:
    """Names asked for that match no recipe, so the CLI can say so instead of doing nothing."""
    if not names:
        return []  # nothing asked for; the set of every name is not free at 10,000 recipes
    known = set().union(*(_names_of(entry) for entry in entries)) if entries else set()
    return [name for name in names if name not in known]
