"""`recipe-bot run`: one full cycle against GitLab. Wires the others together; no policy of its own.

    1. GitLab's state: the dashboard (its ticks), the bot's merge requests, their branch heads
    2. the recipes at the head of the target branch (or --recipes), read and checked
    3. plan (bot.plan): a decision per recipe, gated by schedule, limits and ticks
    4. write: branch + commit (one commits-API call) and merge request, per decision
    5. the dashboard: read again right before writing, so ticks made meanwhile are carried over

Any GitLab failure stops the run before it writes anything further (ForgeError, exit 1): it
never closes, deletes or rewrites on partial knowledge. A failure that concerns one recipe
(a refused rewrite, a download that fails) goes on the dashboard and the run goes on.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import structlog

from bot import dashboard
from bot.change import make_change
from bot.config import Config
from bot.dashboard import DashboardView, Failure, Item, Tick
from bot.errors import ConfigError, ForgeError, RecipeBotError
from bot.gitlab import Forge, Issue
from bot.http import Http
from bot.lock import run_lock
from bot.mergerequest import merge_request_plan
from bot.plan import Decision, ForgeState, plan
from bot.recipes import load_recipes, repository_variants
from bot.schedule import allowance, in_window, next_window
from bot.sweep import CheckResult, sweep
from checkers import Checker, load_registry

log = structlog.get_logger()
SAFE_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]{0,99}$")
EXIT_OK, EXIT_FAILED = 0, 1


@dataclass
class RunSummary:
    statuses: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    dashboard: str = "unchanged"
    duration: float = 0.0
    requests: Mapping[str, int] = field(default_factory=dict)


def main(
    config: Config,
    *,
    recipes: Path | None,
    dry_run: bool,
    now: datetime | None,
    lock_wait: float = 0,
) -> int:
    """The command: 0 when the cycle completed (per-recipe errors are on the dashboard)."""
    try:
        run_cycle(config, recipes=recipes, dry_run=dry_run, now=now, lock_wait=lock_wait)
    except (ForgeError, ConfigError) as exc:
        log.error("run_failed", error=exc.message)
        print(f"recipe-bot: run failed: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def run_cycle(
    config: Config,
    *,
    recipes: Path | None,
    dry_run: bool = False,
    now: datetime | None = None,
    forge: Forge | None = None,
    registry: Mapping[str, Checker] | None = None,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    lock_wait: float = 0,
) -> RunSummary:
    """One cycle. A real run holds the project's run lock (bot.lock) from its first read of
    GitLab to its last write, so two runs (a cron overlap, serve plus a manual run on another
    machine) never both write; the second waits `lock_wait` seconds, then fails with LockBusy."""
    env = os.environ if environ is None else environ
    forge = forge or _connect(config, env, dry_run=dry_run, recipes=recipes)
    if forge is None or dry_run:  # a dry run writes nothing: it never takes the lock
        return _cycle(config, forge, recipes, dry_run, now, registry, env, out or sys.stdout)
    # Renewals go through a client of their own, quick to give up: a renewal stuck in retries
    # must not outlast the lease it renews.
    renewer = Forge(
        config.gitlab,
        env.get(config.gitlab.token_env),
        timeout=min(config.http.timeout, 10),
        retries=0,
        ca_bundle=config.http.ca_bundle,
    )
    with run_lock(forge, config, wait=lock_wait, renewer=renewer):
        return _cycle(config, forge, recipes, dry_run, now, registry, env, out or sys.stdout)


def _cycle(
    config: Config,
    forge: Forge | None,
    recipes: Path | None,
    dry_run: bool,
    now: datetime | None,
    registry: Mapping[str, Checker] | None,
    env: Mapping[str, str],
    out: TextIO,
) -> RunSummary:
    started = time.monotonic()
    clock = now or datetime.now(UTC)
    summary = RunSummary()
    state, issue = _read_state(forge, config)
    with (
        tempfile.TemporaryDirectory(prefix="recipe-bot-") as scratch,
        Http(config.http_settings(env)) as http,
    ):
        root, start_sha = _recipes_root(forge, recipes, Path(scratch))
        entries = load_recipes(root, config, cache=http.store.table("recipes"))
        results = [
            _guard(result)
            for result in sweep(entries, config, http, registry or load_registry(), now=clock)
        ]
        summary.statuses.update(result.status for result in results)
        decisions = plan(
            results,
            state,
            window_open=in_window(config.schedule, config.timezone, clock),
            allowance=allowance(
                open_now=sum(mr.state == "opened" for mr in state.merge_requests),
                created=[mr.created_at for mr in state.merge_requests],
                now=clock,
                max_open=config.limits.open_merge_requests,
                per_hour=config.limits.merge_requests_per_hour,
            ),
            window_hint=_window_hint(config, clock),
        )
        answered: set[Tick] = set()
        links: dict[str, tuple[int, str]] = {}
        for decision in decisions:
            outcome = _carry_out(
                decision, root, start_sha, config, http, forge, dry_run, out, links, summary
            )
            if outcome:
                summary.actions[outcome] += 1
                answered |= decision.answers
        summary.requests = http.stats.snapshot()
    view = _view(decisions, links, summary.failures, config, now or datetime.now(UTC))
    summary.dashboard = _write_dashboard(forge, issue, view, answered, config, dry_run, out)
    summary.duration = time.monotonic() - started
    log.info(
        "run_finished",
        statuses=dict(summary.statuses),
        actions=dict(summary.actions),
        errors=len(summary.failures),
        dashboard=summary.dashboard,
        duration=round(summary.duration, 2),
        **summary.requests,
    )
    return summary


# --- 1 and 2: state and recipes --------------------------------------------------------------


def _connect(
    config: Config, env: Mapping[str, str], *, dry_run: bool, recipes: Path | None
) -> Forge | None:
    token = env.get(config.gitlab.token_env)
    if not config.gitlab.url or not config.gitlab.project:
        if dry_run and recipes is not None:
            return None
        raise ConfigError(
            "gitlab.url and gitlab.project are needed (or --dry-run with --recipes)",
            key="gitlab",
            file=config.source,
        )
    if not token and not dry_run:
        raise ForgeError(
            f"no GitLab token: set the {config.gitlab.token_env} environment variable "
            "(a project access token with the api scope and the Developer role)"
        )
    if not token and recipes is not None:
        return None  # a dry run on local recipes needs nothing from GitLab
    # A dry run without a token still reads a public project anonymously.
    return Forge(config.gitlab, token, timeout=config.http.timeout, ca_bundle=config.http.ca_bundle)


def _read_state(forge: Forge | None, config: Config) -> tuple[ForgeState, Issue | None]:
    if forge is None:
        return ForgeState(), None
    # Two dashboards: a lost reply made a create go through twice. The oldest is the dashboard;
    # the others' ticks count, and the write closes them.
    issues = forge.find_issues(config.dashboard.title, config.dashboard.labels)
    issue = issues[0] if issues else None
    merge_requests = forge.bot_merge_requests(config.merge_requests.branch_prefix)
    heads = {
        mr.branch: forge.branch_head(mr.branch) for mr in merge_requests if mr.state == "opened"
    }
    ticks = frozenset(tick for found in issues for tick in dashboard.parse_ticks(found.description))
    log.info(
        "gitlab_state", merge_requests=len(merge_requests), open=len(heads), ticks=sorted(ticks)
    )
    return ForgeState(tuple(merge_requests), heads, ticks), issue


def _recipes_root(
    forge: Forge | None, recipes: Path | None, scratch: Path
) -> tuple[Path, str | None]:
    if recipes is not None:
        if not recipes.is_dir():
            raise ConfigError(f"recipes directory {str(recipes)!r} does not exist")
        return recipes.resolve(), None
    assert forge is not None
    sha = forge.target_sha()
    forge.download_tree(sha, scratch)
    return scratch, sha


def _guard(result: CheckResult) -> CheckResult:
    """A version or name unsafe for a branch, a title or a marker is an error."""
    update = result.update
    if update is None:
        return result
    if not dashboard.SAFE_NAME.match(result.name):
        return replace(
            result,
            status="error",
            decision=None,
            reason="unsafe-name",
            error="the recipe name cannot be used in a branch name",
        )
    if not SAFE_VERSION.match(update.new):
        return replace(
            result,
            status="error",
            decision=None,
            reason="unsafe-version",
            error=f"upstream version {update.new[:60]!r} has characters recipe-bot will not write",
        )
    return result


# --- 4: writing --------------------------------------------------------------------------------


def _carry_out(
    decision: Decision,
    root: Path,
    start_sha: str | None,
    config: Config,
    http: Http,
    forge: Forge | None,
    dry_run: bool,
    out: TextIO,
    links: dict[str, tuple[int, str]],
    summary: RunSummary,
) -> str | None:
    """Do what the decision says; the outcome's name, or None when nothing was done."""
    existing = decision.merge_request
    if decision.action == "close" and existing is not None:
        if dry_run:
            print(f"Would close !{existing.iid} ({decision.recipe}): {decision.why}", file=out)
        else:
            forge.close_merge_request(existing.iid, f"Closed by recipe-bot: {decision.why}.")  # type: ignore[union-attr]
            log.info(
                "merge_request_closed", recipe=decision.recipe, iid=existing.iid, why=decision.why
            )
        return "closed"
    if decision.action == "none":
        return "answered" if decision.answers else None
    if decision.action not in ("open", "refresh"):
        return None
    update = decision.update
    assert update is not None
    try:
        variants = repository_variants(root, config)
        change = make_change(update, root, http, config.constraints, variants)
    except RecipeBotError as exc:
        summary.failures.append(
            Failure(decision.recipe, decision.result.checker, exc.reason, exc.message)
        )
        log.warning(
            "rewrite_failed",
            recipe=decision.recipe,
            version=update.new,
            reason=exc.reason,
            error=exc.message,
        )
        return None
    mr_plan = merge_request_plan(change, config)
    verb = "open" if decision.action == "open" else "update"
    if dry_run or forge is None:
        print(f"Would {verb} merge request: {mr_plan.title} (branch {mr_plan.branch})", file=out)
        for edit in mr_plan.edits:
            out.write(edit.diff())
        return f"would-{verb}"
    head = forge.branch_head(mr_plan.branch)
    if decision.regenerate or head is None or not head.bot_made or head.version != mr_plan.version:
        forge.write_branch(
            mr_plan.branch, mr_plan.edits, mr_plan.commit_message, start_sha=start_sha
        )
        log.info(
            "branch_written", recipe=decision.recipe, branch=mr_plan.branch, version=mr_plan.version
        )
    if decision.action == "refresh" and existing is not None:
        outcome = forge.update_merge_request(existing.iid, mr_plan)
        links[decision.recipe] = (existing.iid, existing.web_url)
    else:
        iid, url, outcome = forge.create_merge_request(mr_plan)
        links[decision.recipe] = (iid, url)
    log.info(
        "merge_request_" + outcome,
        recipe=decision.recipe,
        version=mr_plan.version,
        iid=links[decision.recipe][0],
    )
    return outcome


# --- 5: the dashboard --------------------------------------------------------------------------


def _view(
    decisions: Sequence[Decision],
    links: Mapping[str, tuple[int, str]],
    failures: Sequence[Failure],
    config: Config,
    finished: datetime,
) -> DashboardView:
    awaiting, opened, edited, rejected = [], [], [], []
    errors, skipped = list(failures), []
    up_to_date = 0
    for decision in decisions:
        result, mr = decision.result, decision.merge_request
        version = result.latest
        item = Item(
            decision.recipe,
            version,
            result.current,
            decision.why,
            mr.iid if mr else None,
            mr.web_url if mr else None,
        )
        if decision.recipe in links:
            iid, url = links[decision.recipe]
            item = replace(item, mr_iid=iid, mr_url=url, detail="")
        if result.status == "error":
            errors.append(
                Failure(
                    decision.recipe, result.checker, result.reason or "error", result.error or ""
                )
            )
        elif result.status == "skipped":
            skipped.append(
                Failure(
                    decision.recipe, result.checker, result.reason or "skipped", result.error or ""
                )
            )
        elif result.status == "up-to-date":
            up_to_date += 1
        if decision.action == "await":
            awaiting.append(item)
        elif decision.action == "edited":
            edited.append(replace(item, version=mr.version if mr else version))
        elif decision.action == "rejected":
            rejected.append(item)
        elif decision.recipe in links:
            opened.append(replace(item, version=version))
        elif mr is not None and mr.state == "opened" and decision.action != "close":
            opened.append(replace(item, version=mr.version))
    zone = ZoneInfo(config.timezone)
    return DashboardView(
        awaiting=awaiting,
        open=opened,
        edited=edited,
        rejected=rejected,
        errors=errors,
        skipped=skipped,
        up_to_date=up_to_date,
        last_run=finished.astimezone(zone),
    )


def _write_dashboard(
    forge: Forge | None,
    issue: Issue | None,
    view: DashboardView,
    answered: set[Tick],
    config: Config,
    dry_run: bool,
    out: TextIO,
) -> str:
    settings = config.dashboard
    if dry_run or forge is None:
        kept = frozenset(dashboard.parse_ticks(issue.description if issue else "")) - answered
        print(f"\nDashboard issue {settings.title!r} would read:\n", file=out)
        print(dashboard.render(replace(view, carried=kept)), file=out)
        return "dry-run"
    # The body is made from the newest read of the dashboard (the one its update makes), so
    # boxes ticked while this run worked, up to that read, are carried over. Duplicates (a
    # create whose reply was lost, then retried) give their ticks and are closed.
    found = forge.find_issues(settings.title, settings.labels)
    carried: frozenset[Tick] = frozenset()

    def body(*descriptions: str) -> str:
        nonlocal carried
        ticks = {tick for text in descriptions for tick in dashboard.parse_ticks(text)}
        carried = frozenset(ticks) - answered
        return dashboard.render(replace(view, carried=carried))

    duplicates = [found_issue.description for found_issue in found[1:]]
    # Duplicates are closed first: one left open (a failed close) would replay ticks that
    # this run answered; its ticks are in `duplicates` for the body written next.
    for duplicate in found[1:]:
        forge.close_issue(
            duplicate.iid, f"A second copy of the dashboard #{found[0].iid}: its ticks are there."
        )
        log.warning("dashboard_duplicate_closed", iid=duplicate.iid, kept=found[0].iid)
    if not found:
        forge.create_issue(settings.title, settings.labels, body())
        outcome = "created"
    elif forge.edit_issue(found[0].iid, lambda current: body(current, *duplicates)):
        outcome = "updated"
    else:
        outcome = "unchanged"
    log.info("dashboard_" + outcome, title=settings.title, carried=sorted(carried))
    return outcome


def _window_hint(config: Config, clock: datetime) -> str:
    opens = next_window(config.schedule, config.timezone, clock)
    return f" (next window {opens.strftime('%a %Y-%m-%d %H:%M')} {config.timezone})"
