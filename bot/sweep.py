"""Check every recipe against its upstream, concurrently, and decide: outdated or not, and why.

Recipes run on a bounded thread pool, in this process or, for a big sweep, shared out between
forked checking processes (bot.fanout); the HTTP layer holds the requests in flight to
`http.concurrency` and those to each host to `http.per_host`, and a few more checks than
requests run at once (`checks_at_once`). Expected failures become a result with a named
reason; anything else is a bug, logged with its traceback, and still becomes a result: one
recipe never stops the sweep.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import structlog

from bot import fanout, forking
from bot.config import Config
from bot.errors import NoChecker, RateLimited, RecipeBotError
from bot.http import Http
from bot.model import Recipe, Release, Reupload, Skip, Update
from bot.reasons import Reason
from bot.recipes import Entry, Unread, Unreadable
from bot.resolve import resolve
from bot.store import Table
from bot.versions import choose
from checkers import Checker
from checkers.api import CheckContext

Status = Literal["outdated", "up-to-date", "skipped", "error"]
log = structlog.get_logger()
# Reads an entry left unread (bot.recipes.Recipes.read), keeping it in the given cache.
Reader = Callable[[Unread, Table | None], Entry]


@dataclass(frozen=True)
class CheckResult:
    """One recipe's outcome; `check --json` prints these, the dashboard shows them."""

    name: str
    path: str
    status: Status
    recipe: Recipe | None = None
    checker: str | None = None
    latest: str | None = None
    decision: Update | Skip | None = None
    reason: Reason | None = None  # why it is not outdated (bot.reasons' closed set)
    error: str | None = None  # for `skipped` and `error`: what a human reads
    changelog: str | None = None
    # Files of the current version the upstream now publishes with another hash (up to date
    # recipes only): the dashboard shows them, nothing rewrites them.
    reuploads: tuple[Reupload, ...] = ()
    # Not every release the upstream listed: only what is printed or planned is kept (a
    # sweep of 10,000 recipes would hold every one of their release lists until it ends).

    @property
    def current(self) -> str | None:
        return self.recipe.version if self.recipe else None

    @property
    def update(self) -> Update | None:
        return self.decision if isinstance(self.decision, Update) else None

    def as_json(self) -> dict[str, object]:
        return {
            "recipe": self.name,
            "path": self.path,
            "checker": self.checker,
            "current": self.current,
            "latest": self.latest,
            "status": self.status,
            "changelog": self.changelog,
            "error": self.error,
        }


def sweep(
    entries: Iterable[Entry],
    config: Config,
    http: Http,
    registry: Mapping[str, Checker],
    *,
    now: datetime | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
    keep: bool = True,
) -> list[CheckResult]:
    """Check all entries; results come back in the order of `entries`.

    `entries` may be a generator that reads recipes (bot.recipes.stream_recipes): each is
    checked as soon as it is read, while this thread reads the next, so the network is busy
    from the first recipe instead of after the last one is read. `on_result` sees the results
    in order, as soon as all those before them are done; with `keep=False` they are only
    passed to it, and the list returned is empty (a caller that keeps what it prints of 10,000
    results instead of the results: their recipes and decisions are most of its memory).

    A big sweep is checked in several processes (`http.processes`, bot.fanout) when this one
    may fork; otherwise, and for small ones, on this process's thread pool.
    """
    moment = now or datetime.now(UTC)
    # A logger bound once for the sweep: the module's lazy proxy would look the whole logging
    # configuration up again on every call, twice a recipe.
    logger = log.bind()
    processes = fanout.processes_for(
        config.http.processes,
        concurrency=config.http.concurrency,
        per_host=config.http.per_host,
        expected=_expected(entries),
    )
    # Recipes (bot.recipes) can leave their parsing to the checking processes.
    read: Reader | None = getattr(entries, "read", None) if hasattr(entries, "read_later") else None
    team = _team(processes, config, http, registry, moment, logger, read) if processes > 1 else None
    if team is None:
        return _sweep_here(entries, config, http, registry, moment, logger, on_result, keep)

    cache = http.store.table("recipes")  # connects on first use: after the fork, never before

    def read_here(entry: Entry | Unread) -> Entry:
        return _readied(entry, read, cache)

    def check_here(rest: list[Entry | Unread]) -> list[CheckResult]:
        readied = [read_here(entry) for entry in rest]
        return _sweep_here(readied, config, http, registry, moment, logger, None, True)

    # No thread checks here: reading need not look every recipe up before the first goes out.
    # What is not cached is read here while the children are busy, and by them when they run
    # short: read here, a child's threads keep its GIL for their checks, whose replies then
    # wait less for it (a nothing-cached sweep of 2,000 listings at 50 ms: 5.23-5.26 s
    # against 5.28-5.30 s, bench/README.md, "Issue 11, eighth pass").
    later = getattr(entries, "read_later", None) if read else getattr(entries, "one_by_one", None)
    handed: Iterable[Entry | Unread] = later() if callable(later) else entries
    return fanout.fan_out(
        team,
        handed,
        check_here=check_here,
        prepare=read_here if read else None,
        on_result=on_result,
        keep=keep,
    )


def checks_at_once(concurrency: int, *, reading: bool = False) -> int:
    """The checks a sweep runs at once for `concurrency` requests in flight (the HTTP layer
    holds them to that): a quarter more, so that while some parse what they got, the requests
    of the others keep the network busy. With as many checks as requests, each request slot
    stood idle while its check parsed: 2% of a sweep of 2,000 listings at 50 ms.

    Half more when the checks are also `reading` their recipes (a checking process's,
    handed unread ones): a quarter more kept its slots busy 87-93% of a sweep with nothing
    cached, half more 93.5-95.5%, about as with recipes cached (bench/README.md, "Issue 11,
    seventh pass")."""
    extra = concurrency // 2 if reading else concurrency // 4
    return max(1, concurrency) + max(1, extra)


def _expected(entries: Iterable[Entry]) -> int | None:
    """How many entries there are, or about how many: an iterable that knows says so by an
    `expected` attribute (bot.recipes.Recipes does). None: unknown."""
    if isinstance(entries, Sized):
        return len(entries)
    expected = getattr(entries, "expected", None)
    return expected if isinstance(expected, int) else None


def _team(
    processes: int,
    config: Config,
    http: Http,
    registry: Mapping[str, Checker],
    now: datetime,
    logger: Any,
    read: Reader | None,
) -> fanout.Team[Entry | Unread, CheckResult] | None:
    """Fork the checking processes, or None when this process must check alone. `read`
    reads what the entries left unread (bot.recipes.Recipes.read)."""
    asked = config.http.processes is not None
    if not fanout.can_fork():
        if asked:
            logger.info("checking_in_one_process", why="forking is only done on Linux")
        return None
    http.store.release()  # no SQLite connection may cross a fork (bot.store)
    start = partial(
        _ChildSweep,
        processes=processes,
        config=config,
        http=http,
        registry=registry,
        now=now,
        read=read,
    )
    with forking.quiet() as safe:
        if safe:
            slots = [fanout.share(config.http.concurrency, processes, i) for i in range(processes)]
            checks = [checks_at_once(share, reading=read is not None) for share in slots]
            team = fanout.Team(checks, start, on_counters=http.stats.merge)
    if not safe:
        # `serve` sweeps on its scheduler's thread, beside the webhook's: forking then could
        # leave a child with one of their locks held.
        (logger.info if asked else logger.debug)(
            "checking_in_one_process", why="other threads are running"
        )
        return None
    if team.size == 0:  # no fork succeeded (cannot_fork is logged): check here, streaming
        team.__exit__()
        return None
    logger.info(
        "checking_in_processes",
        processes=team.size,
        slots=slots[: team.size],
        checks=checks[: team.size],
    )
    return team


class _ChildSweep:
    """One child's part of a sweep: its share of the requests in flight (and a few more
    checks, `checks_at_once`), its own HTTP layer and cache
    connection. Built in the child, after the fork."""

    def __init__(
        self,
        index: int,
        *,
        processes: int,
        config: Config,
        http: Http,
        registry: Mapping[str, Checker],
        now: datetime,
        read: Reader | None,
    ) -> None:
        concurrency = fanout.share(config.http.concurrency, processes, index)
        per_host = fanout.share(config.http.per_host, processes, index)
        self.config = replace(
            config,
            http=replace(config.http, concurrency=concurrency, per_host=per_host, processes=1),
        )
        self.http = Http(replace(http.settings, concurrency=concurrency, per_host=per_host))
        self.registry = registry
        self.now = now
        self.slots = checks_at_once(concurrency, reading=read is not None)
        self.log = log.bind()
        self.read = read

    def check(self, entry: Entry | Unread) -> CheckResult:
        # An unread recipe is parsed here, in parallel with the other children, and kept in
        # the recipes' cache through this child's own connection.
        readied = _readied(entry, self.read, self.http.store.table("recipes"))
        return check_entry(
            readied, self.config, self.http, self.registry, now=self.now, log=self.log
        )

    def counters(self) -> dict[str, int]:
        return self.http.stats.snapshot()

    def close(self) -> None:
        self.http.close()


def _readied(entry: Entry | Unread, read: Reader | None, cache: Table) -> Entry:
    if not isinstance(entry, Unread):
        return entry
    if read is None:  # only Recipes leave entries unread, and they hand over their reader
        raise TypeError(f"{entry.relative}: left unread, with nothing to read it")
    return read(entry, cache)


def _sweep_here(
    entries: Iterable[Entry],
    config: Config,
    http: Http,
    registry: Mapping[str, Checker],
    now: datetime,
    logger: Any,
    on_result: Callable[[CheckResult], None] | None,
    keep: bool,
) -> list[CheckResult]:
    """The sweep on this process's thread pool (`http.concurrency` threads)."""
    if isinstance(entries, Sized):
        workers = min(checks_at_once(config.http.concurrency), max(1, len(entries)))
    else:
        workers = checks_at_once(config.http.concurrency)  # threads start as work comes
    results: list[CheckResult] = []
    waiting: deque[Future[CheckResult]] = deque()

    def collect(*, block: bool) -> None:
        while waiting and (block or waiting[0].done()):
            result = waiting.popleft().result()
            if on_result is not None:
                on_result(result)
            if keep:
                results.append(result)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
        for entry in entries:
            checking = pool.submit(check_entry, entry, config, http, registry, now=now, log=logger)
            waiting.append(checking)
            collect(block=False)
        collect(block=True)
    return results


def check_entry(
    entry: Entry,
    config: Config,
    http: Http,
    registry: Mapping[str, Checker],
    *,
    now: datetime,
    log: Any = log,
) -> CheckResult:
    if isinstance(entry, Unreadable):
        result = CheckResult(
            entry.name, entry.path, "error", reason=Reason.UNREADABLE_RECIPE, error=entry.error
        )
    else:
        result = _check_recipe(entry, config, http, registry, now=now, log=log)
    log.info(
        "recipe_checked",
        recipe=result.name,
        checker=result.checker,
        old=result.current,
        new=result.latest,
        status=result.status,
        reason=result.reason,
        error=result.error,
    )
    return result


def check_recipe(
    recipe: Recipe,
    config: Config,
    http: Http,
    registry: Mapping[str, Checker],
    *,
    now: datetime | None = None,
) -> CheckResult:
    return _check_recipe(recipe, config, http, registry, now=now or datetime.now(UTC))


def _check_recipe(
    recipe: Recipe,
    config: Config,
    http: Http,
    registry: Mapping[str, Checker],
    *,
    now: datetime,
    log: Any = log,
) -> CheckResult:
    failed = CheckResult(recipe.name, recipe.path, "error", recipe=recipe)
    try:
        resolved = resolve(recipe, config, registry)
    except NoChecker as exc:  # nothing to ask: not a failure, and not "up to date" either
        return replace(failed, status="skipped", reason=exc.reason, error=exc.message)
    except RecipeBotError as exc:
        return replace(failed, reason=exc.reason, error=exc.message)
    failed = replace(failed, checker=resolved.checker_name)
    if resolved.disabled:
        return replace(
            failed,
            status="skipped",
            reason=Reason.DISABLED,
            error="update checks are disabled",
        )
    context = CheckContext(
        http=http,
        settings=config.checkers.get(resolved.checker_name, {}),
        log=log.bind(recipe=recipe.name, checker=resolved.checker_name),
    )
    try:
        releases = resolved.checker.releases(recipe, resolved.options, context)
    except RateLimited as exc:
        # Not a failure and not "no update": we simply did not get to ask.
        return replace(failed, status="skipped", reason=exc.reason, error=exc.message)
    except RecipeBotError as exc:
        return replace(failed, reason=exc.reason, error=exc.message)
    except Exception as exc:  # a bug in a checker: keep its traceback, keep the sweep going
        log.exception("checker_crashed", recipe=recipe.name, checker=resolved.checker_name)
        return replace(failed, reason=Reason.INTERNAL_ERROR, error=f"internal error: {exc!r}")
    decision = choose(recipe, releases, resolved.policy, now=now)
    checked = replace(
        failed,
        decision=decision,
        changelog=_changelog(decision, resolved.changelog),
        error=None,
    )
    if isinstance(decision, Update):
        return replace(checked, status="outdated", latest=decision.new)
    if decision.reason is Reason.UP_TO_DATE:
        return replace(
            checked,
            status="up-to-date",
            latest=decision.latest or recipe.version,
            reason=decision.reason,
            reuploads=reuploads(recipe, releases),
        )
    return replace(
        checked,
        status="skipped",
        latest=decision.latest,
        reason=decision.reason,
        error=decision.detail,
    )


def reuploads(recipe: Recipe, releases: Sequence[Release]) -> tuple[Reupload, ...]:
    """The recipe's pinned files of its own version whose hash the upstream now publishes
    differently: same file name, under one of the release's own locations."""
    current = next((r for r in releases if r.version == recipe.version and r.hashes), None)
    if current is None:
        return ()
    found: dict[str, Reupload] = {}
    for source in recipe.sources:
        if not source.sha256 or source.url in found:
            continue
        name = source.url.split("?")[0].rsplit("/", 1)[-1]
        published = current.hashes.get(name)
        located = any(source.url.startswith(prefix) for prefix in current.locations)
        if published and located and published.lower() != source.sha256.lower():
            found[source.url] = Reupload(source.url, source.sha256.lower(), published.lower())
    return tuple(found.values())


def _changelog(decision: Update | Skip, template: str | None) -> str | None:
    version = decision.new if isinstance(decision, Update) else decision.latest
    if template:
        return template.replace("{version}", version or "")
    if isinstance(decision, Update):
        return decision.release.changelog
    return None
