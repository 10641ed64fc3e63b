"""Planning: from check results and GitLab's state to one decision per recipe. Pure; no I/O.

For a recipe with an update to version V:

- an open merge request whose branch head someone else made -> `edited` (left alone), unless a
  rebase box (dashboard or the merge request's own) is ticked -> `refresh`;
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.dashboard import Tick
from bot.gitlab import BotMergeRequest, BranchHead
from bot.model import Update
from bot.schedule import Allowance
from bot.sweep import CheckResult
from bot.versions import parse_version

Action = Literal["open", "refresh", "keep", "close", "await", "edited", "rejected", "none"]
REBASE_CHECK = "- [x] <!-- rebase-check -->"


@dataclass(frozen=True)
class Decision:
    recipe: str
    action: Action
    result: CheckResult
    merge_request: BotMergeRequest | None = None
    why: str = ""
    # Ticks this decision answers; cleared from the dashboard once the action has succeeded.
    answers: frozenset[Tick] = field(default_factory=frozenset)
    regenerate: bool = False  # rewrite the branch even if its head is already ours

    @property
    def update(self) -> Update | None:
        return self.result.update


@dataclass(frozen=True)
class ForgeState:
    merge_requests: Sequence[BotMergeRequest] = ()
    heads: Mapping[str, BranchHead | None] = field(default_factory=dict)  # branch -> head
    ticks: frozenset[Tick] = frozenset()


def plan(
    results: Sequence[CheckResult],
    state: ForgeState,
    *,
    window_open: bool,
    allowance: Allowance,
    window_hint: str = "",
) -> list[Decision]:
    by_recipe: dict[str, list[BotMergeRequest]] = {}
    for mr in sorted(state.merge_requests, key=lambda m: (m.created_at, m.iid)):
        by_recipe.setdefault(mr.recipe, []).append(mr)
    remaining = allowance.count
    decisions = []
    for result in sorted(results, key=lambda r: r.name):
        decision = _decide(result, by_recipe.get(result.name, []), state)
        if decision.action == "open" and not decision.regenerate and not decision.answers:
            # New merge requests are gated; ticked ones (answers) bypass the gate.
            if not window_open:
                decision = _wait(decision, f"waiting for the schedule{window_hint}")
            elif remaining <= 0:
                decision = _wait(decision, f"waiting for the {allowance.reason}")
            else:
                remaining -= 1
        decisions.append(decision)
    return decisions


def _decide(result: CheckResult, history: list[BotMergeRequest], state: ForgeState) -> Decision:
    name = result.name
    opened = next((mr for mr in reversed(history) if mr.state == "opened"), None)
    rebase = _ticked(state.ticks, ("rebase", name))
    if result.status in ("error", "skipped"):
        # Nothing is known; keep whatever exists and keep the ticks for the next run.
        return Decision(name, "none", result, opened)
    update = result.update
    if update is None:
        if opened is not None and _at_or_past(result.current, opened.version):
            return Decision(
                name, "close", result, opened, why=f"{name} is already at {result.current}"
            )
        return Decision(name, "none", result, opened, answers=_all_ticks(name, state.ticks))
    version = update.new
    if opened is not None:
        head = state.heads.get(opened.branch)
        # With a merge request open, create and retry boxes have nothing left to ask for.
        moot = _ticked(state.ticks, ("create", name), ("retry", name))
        if rebase or _own_box_ticked(opened):
            return Decision(name, "refresh", result, opened, answers=rebase | moot, regenerate=True)
        if head is not None and not head.bot_made:
            why = "someone else pushed to the branch"
            return Decision(name, "edited", result, opened, why=why, answers=moot)
        if opened.version == version and head is not None and head.version == version:
            return Decision(name, "keep", result, opened, answers=moot)
        why = f"{opened.version} -> {version}"
        return Decision(name, "refresh", result, opened, why=why, answers=moot)
    retry = _ticked(state.ticks, ("retry", name))
    rejected = _rejected(history, version)
    if rejected is not None:
        if retry:
            return Decision(name, "open", result, rejected, answers=retry, regenerate=True)
        return Decision(name, "rejected", result, rejected)
    return Decision(name, "open", result, None, answers=_ticked(state.ticks, ("create", name)))


def _wait(decision: Decision, why: str) -> Decision:
    return Decision(decision.recipe, "await", decision.result, decision.merge_request, why=why)


def _rejected(history: list[BotMergeRequest], version: str) -> BotMergeRequest | None:
    """The newest bot merge request for `version`, when it was closed without merging."""
    same = [mr for mr in history if mr.version == version]
    if same and same[-1].state == "closed":
        return same[-1]
    return None


def _ticked(ticks: frozenset[Tick], *wanted: Tick) -> frozenset[Tick]:
    return frozenset(wanted) & ticks


def _own_box_ticked(opened: BotMergeRequest) -> bool:
    """The merge request's own regenerate box; regenerating rewrites its description unticked."""
    return REBASE_CHECK in opened.description


def _all_ticks(name: str, ticks: frozenset[Tick]) -> frozenset[Tick]:
    """Boxes for a recipe that has nothing left to do: answered by dropping them."""
    return frozenset(tick for tick in ticks if tick[1] == name)


def _at_or_past(current: str | None, version: str) -> bool:
    have, proposed = parse_version(current or ""), parse_version(version)
    return have is not None and proposed is not None and have >= proposed
