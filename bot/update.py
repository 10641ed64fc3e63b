"""`recipe-bot update`: rewrite outdated recipes on disk and print what changed."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.change import make_change, write_edits
from bot.config import Config
from bot.errors import RecipeBotError
from bot.http import Http
from bot.model import Recipe, Release, Update
from bot.recipes import Entry, Unreadable, repository_variants
from bot.resolve import resolve
from bot.sweep import CheckResult, sweep
from bot.versions import parse_version
from checkers import Checker, load_registry
from checkers.api import CheckContext


def update_recipes(
    root: Path, config: Config, entries: Sequence[Entry], *, version: str | None, dry_run: bool
) -> int:
    """Rewrite each outdated entry (or each entry to `version`); 1 if any could not be done."""
    registry = load_registry()
    failures = 0
    try:
        variants = repository_variants(root, config)
    except RecipeBotError as exc:
        _complain(str(exc))
        return 1
    with Http(config.http_settings()) as http:
        if version:
            updates, failures = _forced(entries, version, config, http, registry)
        else:
            updates = []

            def keep_update(result: CheckResult) -> None:  # the other results are not kept
                if result.update is not None:
                    updates.append(result.update)
                elif result.status == "error":
                    _complain(f"{result.name} ({result.path}): {result.error}")

            sweep(entries, config, http, registry, on_result=keep_update, keep=False)
        for update in updates:
            try:
                change = make_change(update, root, http, config.constraints, variants)
            except RecipeBotError as exc:
                _complain(f"{update.recipe.name}: not updated to {update.new}: {exc}")
                failures += 1
                continue
            for edit in change.edits:
                sys.stdout.write(edit.diff())
            if not dry_run:
                write_edits(root, change.edits)
    return 1 if failures else 0


def _forced(
    entries: Sequence[Entry],
    version: str,
    config: Config,
    http: Http,
    registry: Mapping[str, Checker],
) -> tuple[list[Update], int]:
    """Updates to an asked-for version, with the upstream's release data when it lists it."""
    updates, failures = [], 0
    wanted = parse_version(version)
    for entry in entries:
        if isinstance(entry, Unreadable):
            _complain(f"{entry.name} ({entry.path}): {entry.error}")
            failures += 1
            continue
        if parse_version(entry.version) == wanted:
            _complain(f"{entry.name}: already at {entry.version}")
            continue
        updates.append(Update(entry, _release(entry, version, config, http, registry)))
    return updates, failures


def _release(
    recipe: Recipe, version: str, config: Config, http: Http, registry: Mapping[str, Checker]
) -> Release:
    """The upstream's record of `version` (published hashes, changelog), or a bare one."""
    try:
        resolved = resolve(recipe, config, registry)
        context = CheckContext(http=http, settings=config.checkers.get(resolved.checker_name, {}))
        releases = resolved.checker.releases(recipe, resolved.options, context)
    except RecipeBotError:
        return Release(version)  # the rewrite's downloads will tell whether the version exists
    wanted = parse_version(version)
    for release in releases:
        if parse_version(release.version) == wanted:
            return Release(
                version,
                release.url,
                release.published,
                release.prerelease,
                release.yanked,
                release.changelog,
                release.hashes,
            )
    return Release(version)


def _complain(message: str) -> None:
    print(f"recipe-bot: {message}", file=sys.stderr)
