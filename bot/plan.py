"""Planning: every decision of a run, as pure functions over frozen values. No I/O.

    screen(result)        a version or name unsafe for a branch, a title or a marker -> error
    plan(results, state)  one Decision per recipe, gated by the schedule, limits and ticks
    needs_commit(...)     whether carrying a decision out rewrites its branch
    dashboard_view(...)   which section of the dashboard each recipe goes to

For a recipe with an update to version V:

- an open merge request whose branch head someone else made -> `edited` (left alone), unless a
  rebase box (dashboard or the merge request's own) is ticked -> `refresh`;
- an open merge request in conflict with the target (or only behind it, with `rebase:
  behind`) -> `refresh`, regenerated from the target's head; a mergeability the forge has not
  computed yet is looked at again next run;
- an open merge request for another version, or a rebase tick -> `refresh` (never gated);
- an open merge request already at V with our commit on top -> `keep`;
- no open merge request, and the newest bot merge request for V was closed unmerged ->
  `rejected`, unless its retry box is ticked -> `open`;
- otherwise `open` when a create box is ticked, or inside the schedule window and the limits;
  else `await` with the reason.

A recipe already at (or past) the version of its open merge request -> `close` (the merge
request is obsolete: the repository says so, not the upstream). Recipes whose check failed
keep their merge requests untouched: an upstream outage never closes or rewrites anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from bot.dashboard import SAFE_NAME, DashboardView, Failure, Item, SectionKey, Tick
from bot.forge import (
    AutoMerge,
    BranchHead,
    Mergeability,
    MergeRequest,
    MergeRequestRef,
    MergeRequestState,
    MergeRequestStatus,
    PipelineStatus,
)
from bot.model import Update
from bot.reasons import WAIT_WORDS, Reason
from bot.schedule import Allowance
from bot.sweep import CheckResult
from bot.versions import parse_version

REBASE_CHECK = "- [x] <!-- rebase-check -->"
SAFE_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]{0,99}$")


class Action(StrEnum):
    OPEN = "open"
    REFRESH = "refresh"
    KEEP = "keep"
    CLOSE = "close"
    AWAIT = "await"
    EDITED = "edited"
    REJECTED = "rejected"
    NONE = "none"


WRITES = frozenset({Action.OPEN, Action.REFRESH})  # decisions carried out by a rewrite


@dataclass(frozen=True)
class Decision:
    recipe: str
    action: Action
    result: CheckResult
    merge_request: MergeRequest | None = None
    why: str = ""  # for a reader: what the bot saw (a wait's words, "1.0 -> 1.1")
    reason: Reason | None = None  # for an `await`: which gate holds it
    # Ticks this decision answers; cleared from the dashboard once the action has succeeded.
    answers: frozenset[Tick] = field(default_factory=frozenset)
    regenerate: bool = False  # rewrite the branch even if its head is already ours
    automerge: bool = False  # ask the forge to merge it once its pipeline succeeds

    @property
    def update(self) -> Update | None:
        return self.result.update


@dataclass(frozen=True)
class ForgeState:
    merge_requests: Sequence[MergeRequest] = ()
    heads: Mapping[str, BranchHead | None] = field(default_factory=dict)  # branch -> head
    ticks: frozenset[Tick] = frozenset()
    statuses: Mapping[int, MergeRequestStatus] = field(default_factory=dict)  # open ones, by number

    def status(self, mr: MergeRequest | None) -> MergeRequestStatus:
        known = self.statuses.get(mr.number) if mr is not None else None
        return known or MergeRequestStatus()

    @property
    def open_count(self) -> int:
        return sum(mr.is_open for mr in self.merge_requests)


NO_STATE = ForgeState()


@dataclass(frozen=True)
class Gate:
    """What holds new merge requests back this run: the schedule window and the limits."""

    window_open: bool
    allowance: Allowance
    window_hint: str = ""  # " (next window Sat ...)", for the dashboard


@dataclass(frozen=True)
class Policy:
    """How the bot treats its open merge requests (config `merge_requests:`)."""

    rebase: str = "conflicted"  # conflicted | behind | never
    automerge: bool = False


@dataclass(frozen=True)
class Done:
    """What carrying out a decision did: the outcome's name (None: nothing), the merge request
    it opened or updated, or the failure that stopped it."""

    recipe: str
    outcome: str | None
    merge_request: MergeRequestRef | None = None
    failure: Failure | None = None
    auto_merge: AutoMerge | None = None  # what asking for auto-merge did, when it was asked


# --- screening -------------------------------------------------------------------------------


def screen(result: CheckResult) -> CheckResult:
    """An update whose recipe name or version is unsafe for a branch, a title or a marker
    becomes an error: such text is never written anywhere."""
    update = result.update
    if update is None:
        return result
    if not SAFE_NAME.match(result.name):
        return replace(
            result,
            status="error",
            decision=None,
            reason=Reason.UNSAFE_NAME,
            error="the recipe name cannot be used in a branch name",
        )
    if not SAFE_VERSION.match(update.new):
        return replace(
            result,
            status="error",
            decision=None,
            reason=Reason.UNSAFE_VERSION,
            error=f"upstream version {update.new[:60]!r} has characters recipe-bot will not write",
        )
    return result


# --- deciding --------------------------------------------------------------------------------


def plan(
    results: Sequence[CheckResult],
    state: ForgeState,
    gate: Gate,
    policy: Policy = Policy(),
) -> list[Decision]:
    """A decision per result (screened first), sorted by recipe name. New merge requests
    take the allowance in name order; ticked and regenerated ones bypass the gate."""
    by_recipe: dict[str, list[MergeRequest]] = {}
    for mr in sorted(state.merge_requests, key=lambda m: (m.created_at, m.number)):
        by_recipe.setdefault(mr.recipe, []).append(mr)
    remaining = gate.allowance.count
    decisions = []
    for result in sorted((screen(result) for result in results), key=lambda r: r.name):
        decision = _decide(result, by_recipe.get(result.name, []), state, policy)
        if decision.action is Action.OPEN and not decision.regenerate and not decision.answers:
            if not gate.window_open:
                decision = _wait(decision, Reason.SCHEDULE, gate.window_hint)
            elif remaining <= 0:
                decision = _wait(decision, gate.allowance.reason)
            else:
                remaining -= 1
        decisions.append(_with_automerge(decision, state, policy))
    return decisions


def _decide(
    result: CheckResult, history: list[MergeRequest], state: ForgeState, policy: Policy
) -> Decision:
    name = result.name
    opened = next((mr for mr in reversed(history) if mr.is_open), None)
    rebase = _ticked(state.ticks, ("rebase", name))
    if result.status in ("error", "skipped"):
        # Nothing is known; keep whatever exists and keep the ticks for the next run.
        return Decision(name, Action.NONE, result, opened)
    update = result.update
    if update is None:
        if opened is not None and _at_or_past(result.current, opened.version):
            why = f"{name} is already at {result.current}"
            return Decision(name, Action.CLOSE, result, opened, why=why)
        return Decision(name, Action.NONE, result, opened, answers=_all_ticks(name, state.ticks))
    version = update.new
    if opened is not None:
        head = state.heads.get(opened.branch)
        # With a merge request open, create and retry boxes have nothing left to ask for.
        moot = _ticked(state.ticks, ("create", name), ("retry", name))
        if rebase or _own_box_ticked(opened):
            return Decision(
                name, Action.REFRESH, result, opened, answers=rebase | moot, regenerate=True
            )
        if head is not None and not head.bot_made:
            why = "someone else pushed to the branch"
            return Decision(name, Action.EDITED, result, opened, why=why, answers=moot)
        stale = _stale(state.status(opened), policy.rebase)
        if stale:
            return Decision(
                name, Action.REFRESH, result, opened, why=stale, answers=moot, regenerate=True
            )
        if opened.version == version and head is not None and head.version == version:
            return Decision(name, Action.KEEP, result, opened, answers=moot)
        why = f"{opened.version} -> {version}"
        return Decision(name, Action.REFRESH, result, opened, why=why, answers=moot)
    retry = _ticked(state.ticks, ("retry", name))
    rejected = _rejected(history, version)
    if rejected is not None:
        if retry:
            return Decision(name, Action.OPEN, result, rejected, answers=retry, regenerate=True)
        return Decision(name, Action.REJECTED, result, rejected)
    create = _ticked(state.ticks, ("create", name))
    return Decision(name, Action.OPEN, result, None, answers=create)


def _stale(status: MergeRequestStatus, rebase: str) -> str:
    """Why the merge request must be rebuilt on the target's head, or "" when it need not."""
    if rebase == "never":
        return ""
    if status.mergeability is Mergeability.CONFLICT:
        return "it conflicted with the target branch"
    if status.mergeability is Mergeability.BEHIND and rebase == "behind":
        return "the target branch moved on"
    return ""


def _with_automerge(decision: Decision, state: ForgeState, policy: Policy) -> Decision:
    """Auto-merge is asked for on every merge request the bot writes, and again on a kept one
    until the forge has it set (a refusal last run: not mergeable yet, say). Never on one
    whose pipeline failed: that one waits for a reviewer."""
    if not policy.automerge:
        return decision
    if decision.action in WRITES:
        return replace(decision, automerge=True)
    if decision.action is Action.KEEP:
        status = state.status(decision.merge_request)
        failed = status.pipeline is not None and status.pipeline.status is PipelineStatus.FAILED
        if not status.auto_merge and not failed:
            return replace(decision, automerge=True)
    return decision


def _wait(decision: Decision, reason: Reason, hint: str = "") -> Decision:
    why = f"waiting for the {WAIT_WORDS[reason]}{hint}"
    return replace(decision, action=Action.AWAIT, why=why, reason=reason, answers=frozenset())


def _rejected(history: list[MergeRequest], version: str) -> MergeRequest | None:
    """The newest bot merge request for `version`, when it was closed without merging."""
    same = [mr for mr in history if mr.version == version]
    if same and same[-1].state is MergeRequestState.CLOSED:
        return same[-1]
    return None


def _ticked(ticks: frozenset[Tick], *wanted: Tick) -> frozenset[Tick]:
    return frozenset(wanted) & ticks


def _own_box_ticked(opened: MergeRequest) -> bool:
    """The merge request's own regenerate box; regenerating rewrites its description unticked."""
    return REBASE_CHECK in opened.description


def _all_ticks(name: str, ticks: frozenset[Tick]) -> frozenset[Tick]:
    """Boxes for a recipe that has nothing left to do: answered by dropping them."""
    return frozenset(tick for tick in ticks if tick[1] == name)


def _at_or_past(current: str | None, version: str) -> bool:
    have, proposed = parse_version(current or ""), parse_version(version)
    return have is not None and proposed is not None and have >= proposed


# --- carrying out ----------------------------------------------------------------------------


def needs_commit(decision: Decision, head: BranchHead | None, version: str) -> bool:
    """Whether the branch must be (re)written for `version`: asked to regenerate, or its head
    is missing, not the bot's, or the bot's for another version. A head already right (a
    killed run that wrote the branch, not the merge request) is kept."""
    return decision.regenerate or head is None or not head.bot_made or head.version != version


def answered(decisions: Sequence[Decision], done: Sequence[Done]) -> frozenset[Tick]:
    """The ticks answered: those of decisions that were carried out (a refused rewrite, say,
    keeps its tick for the next run)."""
    succeeded = {item.recipe for item in done if item.outcome}
    return frozenset(
        tick for decision in decisions if decision.recipe in succeeded for tick in decision.answers
    )


# --- the dashboard ---------------------------------------------------------------------------


def dashboard_view(
    decisions: Sequence[Decision],
    done: Sequence[Done],
    finished: datetime,
    state: ForgeState = NO_STATE,
) -> DashboardView:
    """Each recipe in the section its decision (and what carrying it out did) puts it in;
    open merge requests with their pipelines, as the forge reported them this run."""
    by_recipe = {item.recipe: item for item in done}
    items: dict[SectionKey, list[Item]] = {}
    failed_pipelines: list[Item] = []
    errors = [item.failure for item in done if item.failure is not None]
    skipped: list[Failure] = []
    up_to_date = 0
    for decision in decisions:
        result = decision.result
        if result.status == "error":
            errors.append(_failure(decision))
        elif result.status == "skipped":
            skipped.append(_failure(decision))
        elif result.status == "up-to-date":
            up_to_date += 1
        placed = _placed(decision, by_recipe.get(decision.recipe), state)
        if placed is not None:
            items.setdefault(placed[0], []).append(placed[1])
            if placed[1].pipeline == PipelineStatus.FAILED:
                failed_pipelines.append(placed[1])
    reuploads = [
        (decision.recipe, changed)
        for decision in decisions
        for changed in decision.result.reuploads
    ]
    return DashboardView(
        items=items,
        errors=errors,
        skipped=skipped,
        failed_pipelines=failed_pipelines,
        reuploads=reuploads,
        up_to_date=up_to_date,
        last_run=finished,
    )


def _placed(
    decision: Decision, done: Done | None, state: ForgeState
) -> tuple[SectionKey, Item] | None:
    result, mr = decision.result, decision.merge_request
    item = Item(
        decision.recipe,
        result.latest,
        result.current,
        decision.why,
        mr.number if mr else None,
        mr.web_url if mr else None,
    )
    written = done.merge_request if done is not None else None
    if written is not None:
        item = replace(item, mr_iid=written.number, mr_url=written.web_url, detail="")
    pipeline = state.status(mr).pipeline if mr is not None and written is None else None
    if pipeline is not None:  # a branch written just now has a new pipeline: not this one
        item = replace(item, pipeline=pipeline.status.value, pipeline_url=pipeline.web_url)
    asked = done.auto_merge if done is not None else None
    if asked is not None and asked.refusal:
        item = replace(item, notice=f"auto-merge not set yet: {asked.refusal}")
    if decision.action is Action.AWAIT:
        return "awaiting", item
    if decision.action is Action.EDITED:
        return "edited", replace(item, version=mr.version if mr else result.latest)
    if decision.action is Action.REJECTED:
        return "rejected", item
    if written is not None:
        return "open", item
    if mr is not None and mr.is_open and decision.action is not Action.CLOSE:
        return "open", replace(item, version=mr.version)
    return None


def _failure(decision: Decision) -> Failure:
    result = decision.result
    reason = result.reason or Reason.ERROR
    return Failure(decision.recipe, result.checker, reason, result.error or "")
