"""The planner's decisions, one rule at a time, on frozen values: no GitLab, no network."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.dashboard import Failure
from bot.forge import (
    AutoMerge,
    BranchHead,
    Mergeability,
    MergeRequest,
    MergeRequestRef,
    MergeRequestState,
    MergeRequestStatus,
    Pipeline,
    PipelineStatus,
)
from bot.model import Recipe, Release, Reupload, Skip, Update
from bot.plan import (
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
    screen,
)
from bot.reasons import Reason
from bot.schedule import Allowance
from bot.sweep import CheckResult

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
NO_STATE = ForgeState()
OPEN_GATE = Gate(window_open=True, allowance=Allowance(10, Reason.OPEN_LIMIT))
CLOSED_GATE = Gate(
    window_open=False, allowance=Allowance(10, Reason.OPEN_LIMIT), window_hint=" (Sat)"
)


def outdated(name: str = "attrs", old: str = "1.0", new: str = "1.1") -> CheckResult:
    recipe = Recipe(name, f"{name}/meta.yaml", "conda-v0", old)
    update = Update(recipe, Release(new))
    return CheckResult(
        name, recipe.path, "outdated", recipe=recipe, checker="pypi", latest=new, decision=update
    )


def up_to_date(name: str = "attrs", version: str = "1.1") -> CheckResult:
    recipe = Recipe(name, f"{name}/meta.yaml", "conda-v0", version)
    return CheckResult(
        name,
        recipe.path,
        "up-to-date",
        recipe=recipe,
        checker="pypi",
        latest=version,
        decision=Skip(recipe, Reason.UP_TO_DATE),
        reason=Reason.UP_TO_DATE,
    )


def failed(name: str = "attrs", status: str = "error", reason: Reason = Reason.NOT_FOUND):
    recipe = Recipe(name, f"{name}/meta.yaml", "conda-v0", "1.0")
    return CheckResult(
        name, recipe.path, status, recipe=recipe, checker="pypi", reason=reason, error="404"
    )  # type: ignore[arg-type]


def mr(
    name: str = "attrs",
    version: str = "1.1",
    state: MergeRequestState = MergeRequestState.OPEN,
    number: int = 1,
    created: datetime = T0 - timedelta(days=1),
    description: str = "",
) -> MergeRequest:
    return MergeRequest(
        number=number,
        recipe=name,
        version=version,
        state=state,
        branch=f"recipe-bot/{name}",
        title=f"Update {name} to {version}",
        description=description,
        web_url=f"https://gitlab.example/p/-/merge_requests/{number}",
        created_at=created,
        sha="abc",
    )


def ours(version: str = "1.1") -> BranchHead:
    return BranchHead("abc", bot_made=True, version=version)


def theirs() -> BranchHead:
    return BranchHead("def", bot_made=False, version=None)


def decide(result: CheckResult, state: ForgeState = NO_STATE, gate: Gate = OPEN_GATE):
    (decision,) = plan([result], state, gate)
    # Whatever the action, a decision is about this recipe and carries its (screened) result.
    assert (decision.recipe, decision.result) == (result.name, screen(result))
    return decision


# --- screening ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "reason"),
    [
        ("bad name", "1.1", Reason.UNSAFE_NAME),
        ("attrs", "1.1 --> <!-- create=x", Reason.UNSAFE_VERSION),
        ("attrs", "-1", Reason.UNSAFE_VERSION),
        ("attrs", "1" * 101, Reason.UNSAFE_VERSION),
    ],
)
def test_unsafe_names_and_versions_become_errors(name: str, version: str, reason: Reason) -> None:
    """Text unfit for a branch, a title or a marker turns the update into an error."""
    screened = screen(outdated(name, new=version))
    assert (screened.status, screened.reason, screened.update) == ("error", reason, None)
    expected = (
        "the recipe name cannot be used in a branch name"
        if reason is Reason.UNSAFE_NAME
        else f"upstream version {version[:60]!r} has characters recipe-bot will not write"
    )
    assert screened.error == expected


def test_safe_updates_and_non_updates_pass_the_screen_untouched() -> None:
    """A plain version, a local one with + and ~, and a result without update are kept as is."""
    for result in (outdated(new="1.1+local~1_x-y"), up_to_date(), failed()):
        assert screen(result) is result


def test_plan_screens_before_deciding() -> None:
    """An unsafe version never becomes an open decision: plan applies the screen itself."""
    decision = decide(outdated(new="1.1; rm -rf"))
    assert decision.action is Action.NONE
    assert decision.result.reason is Reason.UNSAFE_VERSION


# --- opening and waiting -----------------------------------------------------------------------


def test_an_update_opens_inside_the_window() -> None:
    """No merge request yet, window open, allowance left: open."""
    decision = decide(outdated())
    assert (decision.action, decision.merge_request, decision.answers) == (
        Action.OPEN,
        None,
        frozenset(),
    )
    assert not decision.regenerate


def test_outside_the_window_an_update_waits_for_the_schedule() -> None:
    """Closed window: await, with the schedule named and the next window in the words."""
    decision = decide(outdated(), gate=CLOSED_GATE)
    assert (decision.action, decision.reason) == (Action.AWAIT, Reason.SCHEDULE)
    assert decision.why == "waiting for the schedule (Sat)"


def test_the_allowance_is_shared_in_name_order() -> None:
    """With room for two, the first two recipes by name open and the third waits for the limit."""
    gate = Gate(window_open=True, allowance=Allowance(2, Reason.HOURLY_LIMIT))
    decisions = plan([outdated("c"), outdated("a"), outdated("b")], ForgeState(), gate)
    assert [(d.recipe, d.action) for d in decisions] == [
        ("a", Action.OPEN),
        ("b", Action.OPEN),
        ("c", Action.AWAIT),
    ]
    assert decisions[2].reason is Reason.HOURLY_LIMIT
    assert decisions[2].why == "waiting for the hourly limit"


def test_no_allowance_means_every_new_update_waits() -> None:
    """An allowance of zero holds back even the first recipe."""
    gate = Gate(window_open=True, allowance=Allowance(0, Reason.OPEN_LIMIT))
    decision = decide(outdated(), gate=gate)
    assert (decision.action, decision.why) == (
        Action.AWAIT,
        "waiting for the open merge request limit",
    )


def test_a_create_tick_bypasses_window_and_limits_and_is_answered() -> None:
    """A ticked create box opens now, whatever the gate, and the tick is this decision's answer."""
    state = ForgeState(ticks=frozenset({("create", "attrs")}))
    gate = Gate(window_open=False, allowance=Allowance(0, Reason.OPEN_LIMIT))
    decision = decide(outdated(), state, gate)
    assert decision.action is Action.OPEN
    assert decision.answers == {("create", "attrs")}


def test_a_ticked_open_does_not_spend_the_allowance() -> None:
    """Ticked merge requests open beside the allowance: the unticked next one still fits."""
    state = ForgeState(ticks=frozenset({("create", "a")}))
    gate = Gate(window_open=True, allowance=Allowance(1, Reason.OPEN_LIMIT))
    decisions = plan([outdated("a"), outdated("b")], state, gate)
    assert [d.action for d in decisions] == [Action.OPEN, Action.OPEN]


def test_a_waiting_decision_answers_no_tick() -> None:
    """A tick for another recipe is not answered by this one's wait."""
    state = ForgeState(ticks=frozenset({("create", "other")}))
    decision = decide(outdated(), state, CLOSED_GATE)
    assert decision.action is Action.AWAIT
    assert decision.answers == frozenset()


# --- open merge requests -----------------------------------------------------------------------


def test_an_open_merge_request_at_the_version_with_our_head_is_kept() -> None:
    """Same version, our commit on top: nothing to do."""
    state = ForgeState((mr(),), {"recipe-bot/attrs": ours()})
    assert decide(outdated(), state).action is Action.KEEP


def test_a_newer_release_refreshes_the_open_merge_request_even_outside_the_window() -> None:
    """Updates to open merge requests are never gated."""
    state = ForgeState((mr(version="1.1"),), {"recipe-bot/attrs": ours("1.1")})
    decision = decide(outdated(new="1.2"), state, CLOSED_GATE)
    assert (decision.action, decision.why) == (Action.REFRESH, "1.1 -> 1.2")
    assert decision.merge_request == mr(version="1.1")
    assert not decision.regenerate


def test_a_branch_head_of_another_version_is_refreshed() -> None:
    """The merge request says 1.1 but our head commit says 1.0: the branch is rewritten."""
    state = ForgeState((mr(),), {"recipe-bot/attrs": ours("1.0")})
    assert decide(outdated(), state).action is Action.REFRESH


def test_a_missing_branch_is_refreshed() -> None:
    """An open merge request whose branch is gone gets its branch back."""
    state = ForgeState((mr(),), {"recipe-bot/attrs": None})
    assert decide(outdated(), state).action is Action.REFRESH


def test_someone_elses_push_leaves_the_branch_alone() -> None:
    """A head without our trailer: edited, with the reason shown."""
    state = ForgeState((mr(),), {"recipe-bot/attrs": theirs()})
    decision = decide(outdated(new="1.2"), state)
    assert (decision.action, decision.why) == (Action.EDITED, "someone else pushed to the branch")
    assert decision.merge_request == mr()


def test_a_rebase_tick_regenerates_even_an_edited_branch() -> None:
    """The dashboard's rebase box wins over someone else's push, and is answered."""
    ticks = frozenset({("rebase", "attrs")})
    state = ForgeState((mr(),), {"recipe-bot/attrs": theirs()}, ticks)
    decision = decide(outdated(), state)
    assert (decision.action, decision.regenerate) == (Action.REFRESH, True)
    assert decision.answers == ticks
    assert decision.merge_request == mr()


def test_the_merge_requests_own_box_regenerates() -> None:
    """The ticked box in the merge request's own description asks for the same."""
    own = mr(description="- [x] <!-- rebase-check -->Regenerate this merge request")
    state = ForgeState((own,), {"recipe-bot/attrs": ours()})
    decision = decide(outdated(), state)
    assert (decision.action, decision.regenerate) == (Action.REFRESH, True)


def test_an_unticked_own_box_changes_nothing() -> None:
    """The box as the bot writes it (unticked) is no request."""
    own = mr(description="- [ ] <!-- rebase-check -->Regenerate this merge request")
    state = ForgeState((own,), {"recipe-bot/attrs": ours()})
    assert decide(outdated(), state).action is Action.KEEP


@pytest.mark.parametrize("head", [ours(), theirs(), None], ids=["kept", "edited", "refreshed"])
def test_create_and_retry_boxes_are_moot_while_a_merge_request_is_open(head) -> None:
    """With a merge request open, its create and retry boxes are answered by whatever happens."""
    ticks = frozenset({("create", "attrs"), ("retry", "attrs"), ("create", "other")})
    state = ForgeState((mr(),), {"recipe-bot/attrs": head}, ticks)
    decision = decide(outdated(), state)
    assert decision.answers == {("create", "attrs"), ("retry", "attrs")}


def test_the_newest_open_merge_request_is_the_one_acted_on() -> None:
    """Of two open merge requests for one recipe, the newer (by creation) is refreshed."""
    older = mr(version="1.0", number=1, created=T0 - timedelta(days=3))
    newer = mr(version="1.05", number=2, created=T0 - timedelta(days=1))
    state = ForgeState((newer, older), {"recipe-bot/attrs": ours("1.05")})
    assert decide(outdated(new="1.1"), state).merge_request == newer


# --- rejected versions -------------------------------------------------------------------------


def test_a_version_closed_unmerged_is_not_proposed_again() -> None:
    """The newest merge request for this version was closed: rejected, shown, not opened."""
    closed = mr(state=MergeRequestState.CLOSED)
    decision = decide(outdated(), ForgeState((closed,)))
    assert (decision.action, decision.merge_request) == (Action.REJECTED, closed)


def test_a_retry_tick_proposes_a_rejected_version_again() -> None:
    """The retry box reopens the proposal, regenerating it, past the gate."""
    closed = mr(state=MergeRequestState.CLOSED)
    ticks = frozenset({("retry", "attrs")})
    decision = decide(outdated(), ForgeState((closed,), ticks=ticks), CLOSED_GATE)
    assert (decision.action, decision.regenerate, decision.answers) == (Action.OPEN, True, ticks)
    assert decision.merge_request == closed


def test_a_newer_version_than_the_rejected_one_is_proposed() -> None:
    """Rejecting 1.1 says nothing about 1.2."""
    closed = mr(version="1.1", state=MergeRequestState.CLOSED)
    assert decide(outdated(new="1.2"), ForgeState((closed,))).action is Action.OPEN


def test_a_merged_merge_request_is_no_rejection() -> None:
    """Merged then reverted upstream? A merged proposal of this version is not a rejection."""
    merged = mr(state=MergeRequestState.MERGED)
    assert decide(outdated(), ForgeState((merged,))).action is Action.OPEN


def test_only_the_newest_merge_request_for_a_version_counts() -> None:
    """Closed once, then retried and open-then-merged: the newest (merged) decides."""
    closed = mr(state=MergeRequestState.CLOSED, number=1, created=T0 - timedelta(days=3))
    merged = mr(state=MergeRequestState.MERGED, number=2, created=T0 - timedelta(days=1))
    assert decide(outdated(), ForgeState((merged, closed))).action is Action.OPEN


# --- nothing to update -------------------------------------------------------------------------


def test_a_recipe_at_the_proposed_version_closes_its_merge_request() -> None:
    """Someone updated the recipe by hand: the open merge request is obsolete."""
    state = ForgeState((mr(version="1.1"),), {"recipe-bot/attrs": ours()})
    decision = decide(up_to_date(version="1.1"), state)
    assert (decision.action, decision.why) == (Action.CLOSE, "attrs is already at 1.1")
    assert decision.merge_request == mr(version="1.1")


def test_a_recipe_past_the_proposed_version_closes_it_too() -> None:
    """At 1.2 with a merge request for 1.1: close."""
    state = ForgeState((mr(version="1.1"),))
    assert decide(up_to_date(version="1.2"), state).action is Action.CLOSE


def test_a_recipe_behind_the_proposed_version_keeps_its_merge_request() -> None:
    """Up to date by the upstream's say (a yanked release?) but behind the merge request: kept."""
    state = ForgeState((mr(version="1.1"),))
    decision = decide(up_to_date(version="1.0"), state)
    assert decision.action is Action.NONE
    assert decision.merge_request == mr(version="1.1")


def test_up_to_date_answers_every_box_of_the_recipe() -> None:
    """Nothing left to do: its ticks are answered (dropped), others' stay."""
    ticks = frozenset({("create", "attrs"), ("retry", "attrs"), ("create", "six")})
    decision = decide(up_to_date(), ForgeState(ticks=ticks))
    assert decision.answers == {("create", "attrs"), ("retry", "attrs")}


@pytest.mark.parametrize(
    ("status", "reason"), [("error", Reason.NOT_FOUND), ("skipped", Reason.RATE_LIMITED)]
)
def test_a_failed_check_touches_nothing_and_keeps_its_ticks(status: str, reason: Reason) -> None:
    """An upstream outage never closes, rewrites or answers: the next run decides."""
    ticks = frozenset({("rebase", "attrs")})
    state = ForgeState((mr(),), {"recipe-bot/attrs": ours()}, ticks)
    decision = decide(failed(status=status, reason=reason), state)
    assert (decision.action, decision.answers) == (Action.NONE, frozenset())
    assert decision.merge_request == mr()


def test_an_unparseable_current_version_never_closes() -> None:
    """A version that cannot be compared is no evidence the merge request is obsolete."""
    state = ForgeState((mr(version="1.1"),))
    assert decide(up_to_date(version="weird"), state).action is Action.NONE


# --- carrying out ------------------------------------------------------------------------------


def test_needs_commit_rewrites_unless_our_head_has_the_version() -> None:
    """Only our own head at this very version is kept; regenerate forces a rewrite."""
    plain = Decision("attrs", Action.OPEN, outdated())
    assert not needs_commit(plain, ours("1.1"), "1.1")
    assert needs_commit(plain, ours("1.0"), "1.1")
    assert needs_commit(plain, theirs(), "1.1")
    assert needs_commit(plain, None, "1.1")
    assert needs_commit(replace(plain, regenerate=True), ours("1.1"), "1.1")


def test_only_decisions_carried_out_answer_their_ticks() -> None:
    """A refused rewrite keeps its tick; a done one clears it."""
    a = Decision("a", Action.OPEN, outdated("a"), answers=frozenset({("create", "a")}))
    b = Decision("b", Action.OPEN, outdated("b"), answers=frozenset({("create", "b")}))
    done = [Done("a", "created"), Done("b", None)]
    assert answered([a, b], done) == {("create", "a")}


# --- the dashboard -----------------------------------------------------------------------------


def test_each_decision_lands_in_its_section() -> None:
    """Await, edited and rejected go to their sections; open and kept ones to Open."""
    decisions = [
        Decision("a", Action.AWAIT, outdated("a"), why="waiting for the schedule"),
        Decision("b", Action.EDITED, outdated("b", new="1.2"), mr("b", "1.1", number=2)),
        Decision(
            "c", Action.REJECTED, outdated("c"), mr("c", state=MergeRequestState.CLOSED, number=3)
        ),
        Decision("d", Action.KEEP, outdated("d"), mr("d", number=4)),
        Decision("e", Action.OPEN, outdated("e")),
    ]
    done = [Done("e", "created", MergeRequestRef(5, "https://gitlab.example/5"))]
    view = dashboard_view(decisions, done, T0)
    assert [(i.current, i.mr_url) for i in view.items["open"]] == [
        ("1.0", "https://gitlab.example/p/-/merge_requests/4"),
        ("1.0", "https://gitlab.example/5"),
    ]
    sections = {
        key: [(i.recipe, i.version, i.mr_iid) for i in items] for key, items in view.items.items()
    }
    assert sections == {
        "awaiting": [("a", "1.1", None)],
        "edited": [("b", "1.1", 2)],
        "rejected": [("c", "1.1", 3)],
        "open": [("d", "1.1", 4), ("e", "1.1", 5)],
    }
    assert view.items["awaiting"][0].detail == "waiting for the schedule"
    assert view.last_run == T0


def test_a_written_merge_request_shows_its_new_link_and_no_stale_detail() -> None:
    """A refreshed merge request is listed with the number it was written to, without the why."""
    decision = Decision("a", Action.REFRESH, outdated("a", new="1.2"), mr("a"), why="1.1 -> 1.2")
    done = [Done("a", "updated", MergeRequestRef(1, "https://gitlab.example/1"))]
    (item,) = dashboard_view([decision], done, T0).items["open"]
    assert (item.version, item.mr_url, item.detail) == ("1.2", "https://gitlab.example/1", "")


def test_a_closed_or_failed_refresh_is_not_listed_as_open() -> None:
    """Closing removes it from Open; a refused rewrite of an open one still lists it as open."""
    closing = Decision("a", Action.CLOSE, up_to_date("a"), mr("a"))
    refused = Decision("b", Action.REFRESH, outdated("b", new="1.2"), mr("b", "1.1", number=2))
    failure = Failure("b", "pypi", Reason.REWRITE_REFUSED, "no version in the URL")
    done = [Done("a", "closed"), Done("b", None, failure=failure)]
    view = dashboard_view([closing, refused], done, T0)
    assert [(i.recipe, i.version) for i in view.items["open"]] == [("b", "1.1")]
    assert view.errors == [failure]
    assert view.up_to_date == 1


def test_errors_and_skips_are_listed_with_their_reasons() -> None:
    """Failed checks go under Errors, skipped ones under Skipped, each with its reason."""
    decisions = plan(
        [
            failed("a"),
            failed("b", "skipped", Reason.RATE_LIMITED),
            up_to_date("c"),
            up_to_date("d"),
        ],
        ForgeState(),
        OPEN_GATE,
    )
    view = dashboard_view(decisions, [], T0)
    assert [(f.recipe, f.checker, f.reason, f.message) for f in view.errors] == [
        ("a", "pypi", Reason.NOT_FOUND, "404")
    ]
    assert [(f.recipe, f.reason) for f in view.skipped] == [("b", Reason.RATE_LIMITED)]
    assert view.up_to_date == 2
    assert view.items == {}


# --- conflicts, pipelines, auto-merge (issue 9) ------------------------------------------------


def with_status(mergeability: Mergeability, **fields) -> ForgeState:
    status = MergeRequestStatus(mergeability=mergeability, **fields)
    return ForgeState((mr(),), {"recipe-bot/attrs": ours()}, statuses={1: status})


def test_a_conflicted_merge_request_is_regenerated_without_a_tick() -> None:
    """Conflict with the target: rebuilt from the target's head, though version and head match."""
    decision = decide(outdated(), with_status(Mergeability.CONFLICT))
    assert (decision.action, decision.regenerate) == (Action.REFRESH, True)
    assert decision.merge_request == mr()  # the same merge request, never a second one
    assert decision.why == "it conflicted with the target branch"


def test_rebase_never_leaves_a_conflict_alone() -> None:
    """`rebase: never`: a conflicted merge request is kept as it is."""
    decision = plan([outdated()], with_status(Mergeability.CONFLICT), OPEN_GATE, Policy("never"))
    assert decision[0].action is Action.KEEP


@pytest.mark.parametrize(
    ("rebase", "action"), [("conflicted", Action.KEEP), ("behind", Action.REFRESH)]
)
def test_behind_the_target_regenerates_only_with_rebase_behind(rebase: str, action: Action) -> None:
    """A merge request merely behind its target is rebuilt only for fast-forward projects."""
    (decision,) = plan([outdated()], with_status(Mergeability.BEHIND), OPEN_GATE, Policy(rebase))
    assert decision.action is action
    assert decision.regenerate is (action is Action.REFRESH)
    assert decision.why == ("the target branch moved on" if decision.regenerate else "")


@pytest.mark.parametrize(
    "mergeability", [Mergeability.UNKNOWN, Mergeability.BLOCKED, Mergeability.MERGEABLE]
)
def test_unknown_or_blocked_mergeability_is_looked_at_next_run(mergeability: Mergeability) -> None:
    """Not computed yet, or held by something else: nothing to regenerate now."""
    assert decide(outdated(), with_status(mergeability)).action is Action.KEEP


def test_someone_elses_push_wins_over_a_conflict() -> None:
    """A human's commits are never discarded to resolve a conflict: edited, as before."""
    state = replace(with_status(Mergeability.CONFLICT), heads={"recipe-bot/attrs": theirs()})
    assert decide(outdated(), state).action is Action.EDITED


def test_automerge_is_asked_on_every_written_merge_request() -> None:
    """With automerge on, opened and refreshed merge requests ask for it; off, none does."""
    on = Policy(automerge=True)
    state = ForgeState((mr(version="1.0"),), {"recipe-bot/attrs": ours("1.0")})
    (opened,) = plan([outdated("six")], NO_STATE, OPEN_GATE, on)
    (refreshed,) = plan([outdated()], state, OPEN_GATE, on)
    assert (opened.automerge, refreshed.automerge) == (True, True)
    (plain,) = plan([outdated("six")], NO_STATE, OPEN_GATE)
    assert plain.automerge is False


def test_automerge_is_asked_again_on_a_kept_merge_request_until_set() -> None:
    """A refusal last run (not mergeable yet) is retried; one already set or failed is not."""
    on = Policy(automerge=True)
    unset = with_status(Mergeability.MERGEABLE)
    already = with_status(Mergeability.MERGEABLE, auto_merge=True)
    failed = with_status(Mergeability.MERGEABLE, pipeline=Pipeline(PipelineStatus.FAILED))
    assert [
        plan([outdated()], state, OPEN_GATE, on)[0].automerge for state in (unset, already, failed)
    ] == [
        True,
        False,
        False,
    ]


def test_automerge_is_never_asked_for_waiting_or_edited_ones() -> None:
    """Only merge requests the bot writes or keeps as its own ask for auto-merge."""
    on = Policy(automerge=True)
    (waiting,) = plan([outdated("six")], NO_STATE, CLOSED_GATE, on)
    edited = replace(with_status(Mergeability.MERGEABLE), heads={"recipe-bot/attrs": theirs()})
    (pushed,) = plan([outdated()], edited, OPEN_GATE, on)
    assert (waiting.action, waiting.automerge) == (Action.AWAIT, False)
    assert (pushed.action, pushed.automerge) == (Action.EDITED, False)


def test_the_dashboard_shows_pipelines_failed_ones_and_refused_automerge() -> None:
    """Open items carry their pipeline; failed ones are listed apart; a refusal is a notice."""
    failed = Pipeline(PipelineStatus.FAILED, "https://gitlab.example/p/-/pipelines/9")
    state = ForgeState(
        (mr(), mr("six", number=2)),
        statuses={1: MergeRequestStatus(pipeline=failed), 2: MergeRequestStatus()},
    )
    decisions = [
        Decision("attrs", Action.KEEP, outdated(), mr()),
        Decision("six", Action.KEEP, outdated("six"), mr("six", number=2), automerge=True),
    ]
    done = [Done("attrs", None), Done("six", None, auto_merge=AutoMerge(refusal="405: not yet"))]
    view = dashboard_view(decisions, done, T0, state)
    attrs, six = view.items["open"]
    assert (attrs.pipeline, attrs.pipeline_url) == ("failed", failed.web_url)
    assert [item.recipe for item in view.failed_pipelines] == ["attrs"]
    assert (six.pipeline, six.notice) == (None, "auto-merge not set yet: 405: not yet")


def test_a_branch_written_this_run_shows_no_old_pipeline() -> None:
    """The pipeline read before the run belongs to the old head: a rewritten one omits it."""
    failed = Pipeline(PipelineStatus.FAILED, "https://gitlab.example/p/-/pipelines/9")
    state = ForgeState((mr(),), statuses={1: MergeRequestStatus(pipeline=failed)})
    decision = Decision("attrs", Action.REFRESH, outdated(new="1.2"), mr())
    done = [Done("attrs", "updated", MergeRequestRef(1, "https://gitlab.example/1"))]
    view = dashboard_view([decision], done, T0, state)
    assert view.items["open"][0].pipeline is None
    assert view.failed_pipelines == []


def test_reuploads_reach_the_dashboard() -> None:
    """An up-to-date recipe whose file changed upstream is listed with both hashes."""
    changed = Reupload("https://files.example/attrs-1.1.tar.gz", "a" * 64, "b" * 64)
    result = replace(up_to_date(), reuploads=(changed,))
    view = dashboard_view(plan([result], NO_STATE, OPEN_GATE), [], T0)
    assert view.reuploads == [("attrs", changed)]
