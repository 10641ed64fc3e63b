"""`recipe-bot run` scenarios: python-gitlab against a stateful fake GitLab, and a local PyPI."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from support.servers import Reply
from support.world import DASHBOARD, SATURDAY, SUNDAY, TUESDAY, recipe_text

from bot.config import LimitsConfig
from bot.dashboard import parse_ticks
from bot.errors import ForgeError
from bot.forge import MARKER, TRAILER
from bot.lock import LockBusy


def _is_lock(request) -> bool:
    """The run lock's own writes (create and delete its branch) change nothing a user sees."""
    return "_run-lock" in request.path or "_run-lock" in str(request.body)


def test_weekday_run_opens_nothing_and_lists_the_update_as_awaiting(make_world) -> None:
    """Outside the weekend window the update waits, with a create box on the dashboard."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(TUESDAY)
    assert world.merge_requests() == []
    body = world.dashboard().description
    assert "- [ ] <!-- create=attrs -->" in body
    assert "18.2.0 → 19.1.0" in body
    assert "waiting for the schedule" in body


def test_saturday_run_opens_the_merge_request(make_world) -> None:
    """Inside the window one branch, one commit and one merge request carry the update."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(SATURDAY)
    (mr,) = world.merge_requests()
    assert (mr.title, mr.source_branch, mr.state) == (
        "Update attrs to 19.1.0",
        "recipe-bot/attrs",
        "opened",
    )
    assert mr.labels == ["dependencies"]
    assert MARKER.search(mr.description).groups() == ("attrs", "19.1.0")
    assert "- [ ] <!-- rebase-check -->Regenerate this merge request" in mr.description
    head = world.project.repo.head("recipe-bot/attrs")
    assert TRAILER.search(head.message).groups() == ("attrs", "19.1.0")
    text = head.files["attrs/meta.yaml"]
    assert '{% set version = "19.1.0" %}' in text
    assert "number: 0" in text
    assert recipe_text("attrs", "19.1.0").replace("number: 3", "number: 0") == text
    assert "<!-- rebase=attrs -->" in world.dashboard().description


def test_two_runs_in_a_row_change_nothing_the_second_time(make_world) -> None:
    """A second run with the same clock writes nothing to GitLab."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(SATURDAY)
    before = len(world.gitlab.writes())
    world.run(SATURDAY)
    assert [w for w in world.gitlab.writes()[before:] if not _is_lock(w)] == []


def test_tick_on_a_tuesday_opens_it_and_clears_the_tick(make_world) -> None:
    """A ticked create box bypasses the schedule and is cleared once acted on."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(TUESDAY)
    world.gitlab.tick_box(world.dashboard().iid, "create=attrs")
    world.run(TUESDAY)
    assert [mr.title for mr in world.merge_requests()] == ["Update attrs to 19.1.0"]
    assert parse_ticks(world.dashboard().description) == set()


def test_tick_made_mid_run_survives(make_world) -> None:
    """A box ticked while a run works is still ticked after its dashboard write, then acted on."""
    world = make_world({"attrs": "18.2.0", "six": "1.15.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.pypi.publish("six", "1.16.0")
    world.run(TUESDAY)
    iid = world.dashboard().iid
    ticked = []

    def tick_once(request) -> None:
        if not ticked and "/repository/archive" in request.path:
            ticked.append(True)
            world.gitlab.tick_box(iid, "create=six")

    world.gitlab.on_request(tick_once)
    world.run(TUESDAY)
    assert ticked
    assert parse_ticks(world.dashboard().description) == {("create", "six")}
    assert world.merge_requests() == []
    world.run(TUESDAY)
    assert [mr.title for mr in world.merge_requests()] == ["Update six to 1.16.0"]
    assert parse_ticks(world.dashboard().description) == set()


def test_closed_merge_request_is_not_reopened_for_the_same_version(make_world) -> None:
    """A rejected version stays rejected (with a retry box); a newer version is proposed."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(SATURDAY)
    (first,) = world.merge_requests()
    world.gitlab.close_merge_request(first.iid)
    world.run(SUNDAY)
    assert len(world.merge_requests()) == 1
    assert "- [ ] <!-- retry=attrs -->" in world.dashboard().description
    world.pypi.publish("attrs", "19.2.0")
    world.run(SUNDAY)
    opened = world.merge_requests("opened")
    assert [mr.title for mr in opened] == ["Update attrs to 19.2.0"]
    assert opened[0].source_branch == "recipe-bot/attrs"


def test_retry_tick_proposes_a_rejected_version_again(make_world) -> None:
    """Ticking the retry box opens a new merge request for the rejected version."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(SATURDAY)
    world.gitlab.close_merge_request(world.merge_requests()[0].iid)
    world.run(SATURDAY)
    world.gitlab.tick_box(world.dashboard().iid, "retry=attrs")
    world.run(TUESDAY)
    assert [mr.state for mr in world.merge_requests()] == ["closed", "opened"]
    assert parse_ticks(world.dashboard().description) == set()


def test_newer_release_updates_the_open_merge_request_in_place(make_world) -> None:
    """A newer upstream version rewrites the same branch and merge request, even on a weekday."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(SATURDAY)
    world.pypi.publish("attrs", "19.2.0")
    world.run(TUESDAY)
    (mr,) = world.merge_requests()
    assert mr.title == "Update attrs to 19.2.0"
    assert MARKER.search(mr.description).group(2) == "19.2.0"
    assert (
        '{% set version = "19.2.0" %}'
        in world.project.repo.head("recipe-bot/attrs").files["attrs/meta.yaml"]
    )


def test_human_push_stops_rewrites_until_the_rebase_box_is_ticked(make_world) -> None:
    """A branch someone else pushed to is left alone and listed; a rebase tick regenerates it."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(SATURDAY)
    human_sha = world.gitlab.push_to_branch("recipe-bot/attrs", {"attrs/NOTES.md": "reviewed\n"})
    world.pypi.publish("attrs", "19.2.0")
    world.run(SATURDAY)
    assert world.project.repo.head("recipe-bot/attrs").id == human_sha
    body = world.dashboard().description
    assert "Edited by someone else" in body and "<!-- rebase=attrs -->" in body
    world.gitlab.tick_box(world.dashboard().iid, "rebase=attrs")
    world.run(TUESDAY)
    head = world.project.repo.head("recipe-bot/attrs")
    assert head.id != human_sha and TRAILER.search(head.message).group(2) == "19.2.0"
    assert world.merge_requests()[0].title == "Update attrs to 19.2.0"
    assert parse_ticks(world.dashboard().description) == set()


def test_limit_of_two_opens_two(make_world) -> None:
    """`limits.merge_requests_per_hour: 2` opens two and lists the rest as awaiting the limit."""
    world = make_world(
        {"attrs": "18.2.0", "cattrs": "1.0.0", "six": "1.15.0"},
        limits=LimitsConfig(open_merge_requests=10, merge_requests_per_hour=2),
    )
    for name, version in (("attrs", "19.1.0"), ("cattrs", "1.1.0"), ("six", "1.16.0")):
        world.pypi.publish(name, version)
    world.run(SATURDAY)
    assert len(world.merge_requests()) == 2
    assert "hourly limit" in world.dashboard().description
    world.run(SATURDAY)  # the same hour: still two
    assert len(world.merge_requests()) == 2


def test_open_limit_counts_open_merge_requests(make_world) -> None:
    """`limits.open_merge_requests` caps how many are open at once."""
    world = make_world(
        {"attrs": "18.2.0", "cattrs": "1.0.0", "six": "1.15.0"},
        limits=LimitsConfig(open_merge_requests=1, merge_requests_per_hour=10),
    )
    for name, version in (("attrs", "19.1.0"), ("cattrs", "1.1.0"), ("six", "1.16.0")):
        world.pypi.publish(name, version)
    world.run(SATURDAY)
    assert len(world.merge_requests("opened")) == 1
    assert "open merge request limit" in world.dashboard().description


def test_crash_after_the_commit_converges_next_run(make_world) -> None:
    """A run killed between commit and merge request leaves one branch and, next run, one MR."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.gitlab.crash_after(
        lambda request: request.method == "POST" and request.path.endswith("/repository/commits")
    )
    with pytest.raises(ForgeError):
        world.run(SATURDAY)
    assert world.merge_requests() == []
    world.gitlab.down = False
    world.run(SATURDAY)
    world.run(SATURDAY)
    assert [mr.title for mr in world.merge_requests()] == ["Update attrs to 19.1.0"]
    branches = [name for name in world.project.repo.branches if name.startswith("recipe-bot/")]
    assert branches == ["recipe-bot/attrs"]


def test_retried_create_that_already_exists_is_a_success(make_world) -> None:
    """A 409 for an open merge request on the branch adopts that merge request."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.gitlab.crash_after(
        lambda request: request.method == "POST" and request.path.endswith("/merge_requests")
    )
    with pytest.raises(ForgeError):
        world.run(SATURDAY)
    world.gitlab.down = False
    world.run(SATURDAY)
    assert len(world.merge_requests()) == 1


def test_503_storm_leaves_everything_as_it_was(make_world) -> None:
    """With GitLab answering 503 to everything the run fails and nothing is written."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(TUESDAY)
    dashboard_before = world.dashboard().description
    world.gitlab.down = True
    with pytest.raises(ForgeError, match="GitLab"):
        world.run(SATURDAY)
    world.gitlab.down = False
    assert world.merge_requests() == []
    assert world.dashboard().description == dashboard_before
    assert [b for b in world.project.repo.branches if b.startswith("recipe-bot/")] == []


def test_upstream_outage_never_closes_or_rewrites(make_world) -> None:
    """When PyPI fails, the open merge request stays untouched and the error is on the dashboard."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(SATURDAY)
    before = len(world.gitlab.writes())
    world.pypi.server.routes["/pypi/attrs/json"] = Reply(status=503)
    world.run(SATURDAY)
    writes = [w for w in world.gitlab.writes()[before:] if not _is_lock(w)]
    assert all("/issues/" in w.path for w in writes), writes
    (mr,) = world.merge_requests()
    assert mr.state == "opened"
    assert "upstream-unavailable" in world.dashboard().description


def test_merge_request_is_closed_when_the_recipe_caught_up(make_world) -> None:
    """If the target branch already has the version, the bot's merge request is closed."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(SATURDAY)
    world.gitlab.push_to_branch("main", {"attrs/meta.yaml": recipe_text("attrs", "19.1.0")})
    world.run(SATURDAY)
    assert [mr.state for mr in world.merge_requests()] == ["closed"]


def test_upstream_text_cannot_forge_markers(make_world) -> None:
    """A hostile version or changelog cannot add a tick, a marker or a mention to GitLab text."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0", "20.0 -->\n- [x] <!-- create=six -->")
    world.run(SATURDAY)
    body = world.dashboard().description
    assert parse_ticks(body) == set()
    assert body.count("<!--") == body.count("<!-- rebase=")


def test_dry_run_needs_no_token_and_writes_nothing(make_world, tmp_path) -> None:
    """`run --dry-run --recipes DIR` without a token prints plan and dashboard, writes nothing."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    checkout = tmp_path / "checkout"
    (checkout / "attrs").mkdir(parents=True)
    (checkout / "attrs" / "meta.yaml").write_text(recipe_text("attrs", "18.2.0"))
    world.environ = {}
    world.run(SATURDAY, dry_run=True, recipes=checkout)
    printed = world.output.getvalue()
    assert "Would open merge request: Update attrs to 19.1.0 (branch recipe-bot/attrs)" in printed
    assert f"Dashboard issue '{DASHBOARD}' would read" in printed
    assert world.gitlab.requests == []
    assert (checkout / "attrs" / "meta.yaml").read_text() == recipe_text("attrs", "18.2.0")


def test_missing_token_is_a_clear_error(make_world) -> None:
    """A real run without a token stops before touching anything, naming the variable."""
    world = make_world({"attrs": "18.2.0"})
    world.environ = {}
    with pytest.raises(ForgeError, match="GITLAB_TOKEN"):
        world.run(SATURDAY)
    assert world.gitlab.requests == []


def test_a_second_run_while_one_holds_the_lock_fails_clearly(make_world) -> None:
    """A run started while another writes stops before any write, naming the lock's holder."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    attempts = []

    def start_another(request) -> None:
        if not attempts and "/repository/archive" in request.path:
            with pytest.raises(LockBusy, match="another recipe-bot run holds the lock") as caught:
                world.run(SATURDAY)
            attempts.append(caught.value)

    world.gitlab.on_request(start_another)
    world.run(SATURDAY)
    assert len(attempts) == 1
    assert [mr.title for mr in world.merge_requests()] == ["Update attrs to 19.1.0"]
    assert not [b for b in world.project.repo.branches if "_run-lock" in b]


def test_a_run_logs_its_actions_and_summary_without_the_token(make_world) -> None:
    """Merge request, branch and dashboard actions and a summary are logged; the token nowhere."""
    from structlog.testing import capture_logs

    world = make_world({"attrs": "18.2.0", "six": "1.16.0"})
    world.pypi.publish("attrs", "19.1.0")
    with capture_logs() as events:
        world.run(SATURDAY)
    names = [event["event"] for event in events]
    for expected in (
        "branch_written",
        "merge_request_created",
        "dashboard_created",
        "run_finished",
    ):
        assert expected in names
    summary = next(event for event in events if event["event"] == "run_finished")
    assert summary["statuses"] == {"outdated": 1, "up-to-date": 1}
    assert summary["actions"] == {"created": 1}
    assert world.gitlab.token not in repr(events)
    assert all(world.gitlab.token not in repr(write.body) for write in world.gitlab.writes())


def test_503_storm_starting_mid_run_writes_nothing_and_the_next_run_converges(make_world) -> None:
    """GitLab failing from the first commit on: nothing changes; after it recovers, one MR."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(TUESDAY)
    dashboard_before = world.dashboard().description

    def storm(request) -> None:
        commit = request.method == "POST" and request.path.endswith("/repository/commits")
        if commit and "_run-lock" not in str(request.body):
            world.gitlab.down = True

    stop_storm = world.gitlab.on_request(storm)
    with pytest.raises(ForgeError, match="GitLab"):
        world.run(SATURDAY)
    stop_storm()
    assert world.merge_requests() == []
    assert world.dashboard().description == dashboard_before
    assert [
        b
        for b in world.project.repo.branches
        if b.startswith("recipe-bot/") and "_run-lock" not in b
    ] == []
    world.gitlab.down = False
    world.run(SATURDAY)
    world.run(SATURDAY)
    assert [mr.title for mr in world.merge_requests()] == ["Update attrs to 19.1.0"]
    assert [b for b in world.project.repo.branches if b.startswith("recipe-bot/")] == [
        "recipe-bot/attrs"
    ]


def _requests_of_a_run(make_world) -> int:
    world = make_world({"attrs": "18.2.0", "six": "1.15.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.pypi.publish("six", "1.16.0")
    world.run(TUESDAY)
    world.pypi.publish("attrs", "19.2.0")  # so that the run rewrites the dashboard
    seen: list[object] = []
    world.gitlab.on_request(seen.append)
    world.run(TUESDAY)
    return len(seen)


def test_a_tick_at_any_point_of_a_run_is_acted_on_or_kept(make_world) -> None:
    """Ticked before any of a run's GitLab calls, a box is either answered or still ticked.

    Except in the one window GitLab leaves open: a tick that lands between the read the
    dashboard's new text is made from and the write of that text (the issues API has no
    conditional update). The bot makes that read the very request before its write.
    """
    calls = _requests_of_a_run(make_world)
    assert calls > 5
    lost = []
    for moment in range(1, calls + 1):
        world = make_world({"attrs": "18.2.0", "six": "1.15.0"})
        world.pypi.publish("attrs", "19.1.0")
        world.pypi.publish("six", "1.16.0")
        world.run(TUESDAY)
        world.pypi.publish("attrs", "19.2.0")  # so that the run rewrites the dashboard
        iid = world.dashboard().iid
        count: list[object] = []

        def tick_at(request, moment=moment, count=count, iid=iid, world=world) -> None:
            count.append(request)
            if len(count) == moment:
                world.gitlab.tick_box(iid, "create=six")

        world.gitlab.on_request(tick_at)
        world.run(TUESDAY)
        acted = [mr.title for mr in world.merge_requests()] == ["Update six to 1.16.0"]
        kept = ("create", "six") in parse_ticks(world.dashboard().description)
        if not (acted or kept):
            lost.append((moment, count[moment - 1].method, count[moment - 1].path))
            continue
        world.run(TUESDAY)
        assert [mr.title for mr in world.merge_requests()] == ["Update six to 1.16.0"], moment
        assert parse_ticks(world.dashboard().description) == set(), moment
    assert [(method, path.rsplit("/", 2)[-2]) for _, method, path in lost] in (
        [],
        [("PUT", "issues")],
    )


def test_a_dashboard_created_twice_is_repaired(make_world) -> None:
    """A create whose reply is lost is retried: two dashboards. The next run keeps the oldest,
    acts on the newer one's ticks, and closes it; the run after that changes nothing."""
    world = make_world({"attrs": "18.2.0", "six": "1.15.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.pypi.publish("six", "1.16.0")
    world.gitlab.lose_reply(
        lambda request: request.method == "POST" and request.path.endswith("/issues")
    )
    world.run(TUESDAY)
    dashboards = [i for i in world.project.issues.values() if i.title == DASHBOARD]
    assert len(dashboards) == 2, "the lost reply made the retry create a second dashboard"
    first, second = sorted(dashboards, key=lambda issue: issue.iid)
    world.gitlab.tick_box(second.iid, "create=six")

    world.run(TUESDAY)

    assert [mr.title for mr in world.merge_requests()] == ["Update six to 1.16.0"]
    assert (first.state, second.state) == ("opened", "closed")
    assert world.dashboard().iid == first.iid
    assert parse_ticks(first.description) == set()
    before = len(world.gitlab.writes())
    world.run(TUESDAY)
    assert [w for w in world.gitlab.writes()[before:] if not _is_lock(w)] == []


def test_a_lost_reply_at_any_call_then_a_clean_run_converges(make_world) -> None:
    """Whichever call's reply is lost (the call itself went through), the next run ends with
    one dashboard, one merge request per recipe, and no lock left behind."""
    probe = make_world({"attrs": "18.2.0", "six": "1.15.0"})
    probe.pypi.publish("attrs", "19.1.0")
    probe.pypi.publish("six", "1.16.0")
    calls: list[object] = []
    probe.gitlab.on_request(calls.append)
    probe.run(SATURDAY)
    assert len(calls) > 10
    for moment in range(1, len(calls) + 1):
        world = make_world({"attrs": "18.2.0", "six": "1.15.0"})
        world.pypi.publish("attrs", "19.1.0")
        world.pypi.publish("six", "1.16.0")
        seen: list[object] = []
        world.gitlab.lose_reply(lambda request, seen=seen, moment=moment: (
            seen.append(request) or len(seen) == moment
        ))  # fmt: skip
        with contextlib.suppress(ForgeError):  # the run may stop there; the next one matters
            world.run(SATURDAY)
        world.run(SATURDAY)
        titles = sorted(mr.title for mr in world.merge_requests("opened"))
        assert titles == ["Update attrs to 19.1.0", "Update six to 1.16.0"], moment
        dashboards = [
            issue for issue in world.project.issues.values()
            if issue.title == DASHBOARD and issue.state == "opened"
        ]  # fmt: skip
        assert len(dashboards) == 1, moment
        assert not [b for b in world.project.repo.branches if b.endswith("_run-lock")], moment


def test_a_duplicate_dashboards_unanswered_tick_moves_to_the_kept_one(make_world) -> None:
    """A tick on the duplicate that this run cannot act on (its upstream is down) is not lost
    with the duplicate: it is carried onto the dashboard that is kept."""
    world = make_world({"attrs": "18.2.0", "six": "1.15.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.pypi.publish("six", "1.16.0")
    world.gitlab.lose_reply(
        lambda request: request.method == "POST" and request.path.endswith("/issues")
    )
    world.run(TUESDAY)
    first, second = sorted(
        (i for i in world.project.issues.values() if i.title == DASHBOARD), key=lambda i: i.iid
    )
    world.gitlab.tick_box(second.iid, "create=six")
    world.pypi.server.routes["/pypi/six/json"] = Reply(status=503)

    world.run(TUESDAY)

    assert second.state == "closed"
    assert ("create", "six") in parse_ticks(first.description)
    assert world.merge_requests() == []


def test_a_create_tick_left_over_on_an_open_merge_request_is_cleared(make_world) -> None:
    """A create box ticked while the run that opened the merge request worked is moot at the
    next run (the merge request is open and kept): it is answered, not carried for ever."""
    world = make_world({"attrs": "18.2.0"})
    world.pypi.publish("attrs", "19.1.0")
    world.run(TUESDAY)
    iid = world.dashboard().iid
    ticked: list[bool] = []

    def tick_once(request) -> None:
        if not ticked and "/repository/archive" in request.path:
            ticked.append(True)
            world.gitlab.tick_box(iid, "create=attrs")

    world.gitlab.on_request(tick_once)
    world.run(SATURDAY)
    assert ticked
    assert [mr.title for mr in world.merge_requests()] == ["Update attrs to 19.1.0"]
    assert parse_ticks(world.dashboard().description) == {("create", "attrs")}
    world.run(SATURDAY)
    assert parse_ticks(world.dashboard().description) == set()
    assert len(world.merge_requests()) == 1


def test_secrets_in_failure_messages_never_reach_gitlab(make_world) -> None:
    """The password of a mirror URL in a failure message is scrubbed from what the bot writes
    to GitLab, as from its logs; the failure itself is still listed."""
    world = make_world({"attrs": "18.2.0"})
    mirror = world.pypi.server.base.replace("://", "://robot:mirr0r-passw0rd@")
    world = dataclasses.replace(
        world, config=dataclasses.replace(world.config, checkers={"pypi": {"url": mirror}})
    )
    world.pypi.server.routes["/pypi/attrs/json"] = Reply(status=418)
    world.run(SATURDAY)
    body = world.dashboard().description
    assert "attrs" in body and "418" in body
    assert "mirr0r-passw0rd" not in body
    assert all("mirr0r-passw0rd" not in repr(w.body) for w in world.gitlab.writes())
