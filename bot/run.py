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
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import structlog

from bot import dashboard
from bot.change import make_change
from bot.config import Config
from bot.dashboard import DashboardView, Failure, Tick
from bot.errors import ConfigError, ForgeError, RecipeBotError
from bot.forge import (
    AutoMerge,
    Forge,
    Issue,
    MergeRequest,
    MergeRequestRef,
    configured,
    connect,
    require_project,
)
from bot.forge.redacting import RedactingForge
from bot.hints import gather
from bot.http import Http
from bot.lock import run_lock
from bot.log import Redactor, secret_values
from bot.markdown import escape
from bot.mergerequest import merge_request_plan
from bot.model import MergeRequestPlan
from bot.plan import (
    WRITES,
    Action,
    Decision,
    Done,
    ForgeState,
    Gate,
    Policy,
    answered,
    dashboard_view,
    needs_commit,
    plan,
)
from bot.recipes import repository_variants, stream_recipes
from bot.schedule import allowance, in_window, next_window
from bot.sweep import sweep
from checkers import Checker, load_registry

log = structlog.get_logger()
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
    the forge to its last write, so two runs (a cron overlap, serve plus a manual run on
    another machine) never both write; the second waits `lock_wait` seconds, then fails with
    LockBusy."""
    env = os.environ if environ is None else environ
    registry = registry or load_registry()
    forge = forge or _connect(config, env, dry_run=dry_run, recipes=recipes)
    if forge is not None:  # what it writes is read by people: scrubbed as the logs are
        secrets = secret_values(config.secret_env_names(registry), env)
        # Upstream text reaches GitLab escaped (bot.markdown): a secret in it is spelled so.
        forge = RedactingForge(forge, Redactor(secrets + [escape(s) for s in secrets]))
    cycle = _Cycle(config, forge, registry, env, dry_run, out or sys.stdout)
    if forge is None or dry_run:  # a dry run writes nothing: it never takes the lock
        return cycle.run(recipes, now)
    # Renewals go through a client of their own, quick to give up: a renewal stuck in retries
    # must not outlast the lease it renews.
    renewer = connect(config, env.get(config.gitlab.token_env), quick=True)
    with run_lock(forge, config, wait=lock_wait, renewer=renewer):
        return cycle.run(recipes, now)


def _connect(
    config: Config, env: Mapping[str, str], *, dry_run: bool, recipes: Path | None
) -> Forge | None:
    token = env.get(config.gitlab.token_env)
    if not configured(config):
        if dry_run and recipes is not None:
            return None
        require_project(config, "(or --dry-run with --recipes)")
    if not token and not dry_run:
        raise ForgeError(
            f"no GitLab token: set the {config.gitlab.token_env} environment variable "
            "(a project access token with the api scope and the Developer role)"
        )
    if not token and recipes is not None:
        return None  # a dry run on local recipes needs nothing from GitLab
    # A dry run without a token still reads a public project anonymously.
    return connect(config, token)


@dataclass(frozen=True)
class _Cycle:
    config: Config
    forge: Forge | None
    registry: Mapping[str, Checker]
    env: Mapping[str, str]
    dry_run: bool
    out: TextIO

    def run(self, recipes: Path | None, now: datetime | None) -> RunSummary:
        config = self.config
        started = time.monotonic()
        clock = now or datetime.now(UTC)
        state, issue = self._read_state()
        with (
            tempfile.TemporaryDirectory(prefix="recipe-bot-") as scratch,
            Http(config.http_settings(self.env)) as http,
        ):
            root, start_sha = self._recipes_root(recipes, Path(scratch))
            # Streamed: checking starts while the other recipes are still being read.
            entries = stream_recipes(root, config, cache=http.store.table("recipes"))
            results = sweep(entries, config, http, self.registry, now=clock)
            policy = Policy(config.merge_requests.rebase, config.merge_requests.automerge)
            decisions = plan(results, state, _gate(config, state, clock), policy)
            writer = _Writer(self, http, root, start_sha)
            done = [writer.carry_out(decision) for decision in decisions]
            requests = http.stats.snapshot()
        finished = (now or datetime.now(UTC)).astimezone(ZoneInfo(config.timezone))
        view = dashboard_view(decisions, done, finished, state)
        dashboard_outcome = self._write_dashboard(issue, view, answered(decisions, done))
        summary = RunSummary(
            statuses=Counter(decision.result.status for decision in decisions),
            actions=Counter(item.outcome for item in done if item.outcome),
            failures=[item.failure for item in done if item.failure is not None],
            dashboard=dashboard_outcome,
            duration=time.monotonic() - started,
            requests=requests,
        )
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

    # --- 1 and 2: state and recipes ----------------------------------------------------------

    def _read_state(self) -> tuple[ForgeState, Issue | None]:
        forge, config = self.forge, self.config
        if forge is None:
            return ForgeState(), None
        # Two dashboards: a lost reply made a create go through twice. The oldest is the
        # dashboard; the others' ticks count, and the write closes them.
        issues = forge.find_issues(config.dashboard.title, config.dashboard.labels)
        merge_requests = forge.bot_merge_requests(config.merge_requests.branch_prefix)
        opened = [mr for mr in merge_requests if mr.is_open]
        heads = {mr.branch: forge.branch_head(mr.branch) for mr in opened}
        statuses = {mr.number: forge.merge_request_status(mr.number) for mr in opened}
        ticks = frozenset(
            tick for found in issues for tick in dashboard.parse_ticks(found.description)
        )
        log.info(
            "gitlab_state", merge_requests=len(merge_requests), open=len(heads), ticks=sorted(ticks)
        )
        state = ForgeState(tuple(merge_requests), heads, ticks, statuses)
        return state, issues[0] if issues else None

    def _recipes_root(self, recipes: Path | None, scratch: Path) -> tuple[Path, str | None]:
        if recipes is not None:
            if not recipes.is_dir():
                raise ConfigError(f"recipes directory {str(recipes)!r} does not exist")
            return recipes.resolve(), None
        assert self.forge is not None
        sha = self.forge.target_head()
        self.forge.download_tree(sha, scratch)
        return scratch, sha

    # --- 5: the dashboard --------------------------------------------------------------------

    def _write_dashboard(
        self, issue: Issue | None, view: DashboardView, answered: frozenset[Tick]
    ) -> str:
        forge, settings, out = self.forge, self.config.dashboard, self.out
        if self.dry_run or forge is None:
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
                duplicate.number,
                f"A second copy of the dashboard #{found[0].number}: its ticks are there.",
            )
            log.warning("dashboard_duplicate_closed", iid=duplicate.number, kept=found[0].number)
        if not found:
            forge.create_issue(settings.title, settings.labels, body())
            outcome = "created"
        elif forge.edit_issue(found[0].number, lambda current: body(current, *duplicates)):
            outcome = "updated"
        else:
            outcome = "unchanged"
        log.info("dashboard_" + outcome, title=settings.title, carried=sorted(carried))
        return outcome


def _gate(config: Config, state: ForgeState, clock: datetime) -> Gate:
    opens = next_window(config.schedule, config.timezone, clock)
    return Gate(
        window_open=in_window(config.schedule, config.timezone, clock),
        allowance=allowance(
            open_now=state.open_count,
            created=[mr.created_at for mr in state.merge_requests],
            now=clock,
            max_open=config.limits.open_merge_requests,
            per_hour=config.limits.merge_requests_per_hour,
        ),
        window_hint=f" (next window {opens.strftime('%a %Y-%m-%d %H:%M')} {config.timezone})",
    )


# --- 4: writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Writer:
    """Carries decisions out: rewrites, branches, merge requests (or, dry, says what it would)."""

    cycle: _Cycle
    http: Http
    root: Path
    start_sha: str | None

    def carry_out(self, decision: Decision) -> Done:
        name, existing = decision.recipe, decision.merge_request
        if decision.action is Action.CLOSE and existing is not None:
            self._close(existing, decision.why)
            return Done(name, "closed")
        if decision.action not in WRITES:
            # Nothing to write (kept, edited, waiting, ...): ticks it makes moot are answered,
            # and a kept merge request may still need its auto-merge asked for.
            asked = None
            if decision.automerge and existing is not None:
                asked = self._auto_merge(existing.number, existing.sha)
            return Done(name, "answered" if decision.answers else None, auto_merge=asked)
        update = decision.update
        assert update is not None
        config = self.cycle.config
        try:
            variants = repository_variants(self.root, config)
            change = make_change(update, self.root, self.http, config.constraints, variants)
        except RecipeBotError as exc:
            log.warning(
                "rewrite_failed",
                recipe=name,
                version=update.new,
                reason=exc.reason,
                error=exc.message,
            )
            failure = Failure(name, decision.result.checker, exc.reason, exc.message)
            return Done(name, None, failure=failure)
        hints = gather(change, self.http, config, self.cycle.registry)
        return self._write(decision, merge_request_plan(change, config, hints))

    def _close(self, existing: MergeRequest, why: str) -> None:
        forge = self.cycle.forge
        if self.cycle.dry_run or forge is None:
            print(f"Would close !{existing.number} ({existing.recipe}): {why}", file=self.cycle.out)
            return
        forge.close_merge_request(existing.number, f"Closed by recipe-bot: {why}.")
        log.info("merge_request_closed", recipe=existing.recipe, iid=existing.number, why=why)

    def _write(self, decision: Decision, mr_plan: MergeRequestPlan) -> Done:
        forge, out = self.cycle.forge, self.cycle.out
        verb = "open" if decision.action is Action.OPEN else "update"
        if self.cycle.dry_run or forge is None:
            print(
                f"Would {verb} merge request: {mr_plan.title} (branch {mr_plan.branch})", file=out
            )
            for edit in mr_plan.edits:
                out.write(edit.diff())
            return Done(decision.recipe, f"would-{verb}")
        head = forge.branch_head(mr_plan.branch)
        sha = head.sha if head is not None else None
        if needs_commit(decision, head, mr_plan.version):
            sha = forge.write_branch(
                mr_plan.branch, mr_plan.edits, mr_plan.commit_message, start_sha=self.start_sha
            )
            log.info(
                "branch_written",
                recipe=decision.recipe,
                branch=mr_plan.branch,
                version=mr_plan.version,
            )
        existing = decision.merge_request
        if decision.action is Action.REFRESH and existing is not None:
            outcome = forge.update_merge_request(existing.number, mr_plan)
            ref = MergeRequestRef(existing.number, existing.web_url)
        else:
            ref, outcome = forge.create_merge_request(mr_plan)
        log.info(
            "merge_request_" + outcome,
            recipe=decision.recipe,
            version=mr_plan.version,
            iid=ref.number,
        )
        asked = self._auto_merge(ref.number, sha) if decision.automerge else None
        return Done(decision.recipe, outcome, merge_request=ref, auto_merge=asked)

    def _auto_merge(self, number: int, sha: str | None) -> AutoMerge | None:
        forge = self.cycle.forge
        if self.cycle.dry_run or forge is None or sha is None:
            return None
        asked = forge.enable_auto_merge(number, sha)
        if asked.refusal:
            log.warning("auto_merge_refused", iid=number, refusal=asked.refusal)
        else:
            log.info("auto_merge_set", iid=number, merged=asked.merged)
        return asked
