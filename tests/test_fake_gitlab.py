"""The fake GitLab behaves like GitLab for the real python-gitlab client."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import gitlab
import pytest
import requests
from fake_gitlab import FakeGitLab, MergeConflict, RecordedRequest, running_fake_gitlab
from fake_gitlab.repository import merge_lines, three_way_merge
from gitlab.v4.objects import Project, ProjectMergeRequest

PROJECT = "packaging/external-recipes"
META = "recipes/attrs/meta.yaml"


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with running_fake_gitlab() as server:
        yield server


@pytest.fixture
def gl(fake: FakeGitLab) -> Iterator[gitlab.Gitlab]:
    with gitlab.Gitlab(fake.url, private_token=fake.token) as client:
        yield client


@pytest.fixture
def project(gl: gitlab.Gitlab) -> Project:
    return gl.projects.get(PROJECT)


def commit_to_branch(project: Project, branch: str, content: str, **extra: object) -> str:
    """Update META on ``branch`` through the commits API; returns the commit id."""
    data = {
        "branch": branch,
        "commit_message": f"Update attrs on {branch}",
        "actions": [{"action": "update", "file_path": META, "content": content}],
        **extra,
    }
    return str(project.commits.create(data).id)


def api_error(call: Callable[[], object]) -> gitlab.GitlabError:
    """The GitLab error ``call`` raises; fails the test when it succeeds."""
    with pytest.raises(gitlab.GitlabError) as caught:
        call()
    return caught.value


# --- authentication and projects -------------------------------------------------------------


def test_auth_returns_the_bot_user(gl: gitlab.Gitlab) -> None:
    """The configured token authenticates as the bot user."""
    gl.auth()
    assert gl.user is not None
    assert (gl.user.id, gl.user.username) == (1, "recipe-bot")


def test_wrong_token_is_401(fake: FakeGitLab) -> None:
    """Any other token gets GitLab's 401 body."""
    response = requests.get(f"{fake.url}/api/v4/user", headers={"PRIVATE-TOKEN": "nope"}, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"message": "401 Unauthorized"}
    assert response.headers["Content-Type"] == "application/json"


def test_bearer_token_is_accepted(fake: FakeGitLab) -> None:
    """OAuth-style bearer tokens authenticate like PRIVATE-TOKEN."""
    with gitlab.Gitlab(fake.url, oauth_token=fake.token) as client:
        client.auth()
        assert client.user is not None and client.user.username == "recipe-bot"


def test_project_by_path_or_id_and_unknown_is_404(gl: gitlab.Gitlab) -> None:
    """A project is found by URL-encoded path or numeric id; others are 404."""
    by_path = gl.projects.get(PROJECT)
    assert gl.projects.get(by_path.id).path_with_namespace == PROJECT
    assert by_path.default_branch == "main"
    error = api_error(lambda: gl.projects.get("packaging/nothing"))
    assert error.response_code == 404 and error.error_message == "404 Project Not Found"


# --- repository ------------------------------------------------------------------------------


def test_tree_files_and_raw_read_the_seeded_snapshot(project: Project) -> None:
    """Tree, file (base64 + last_commit_id) and raw endpoints agree on the seeded files."""
    paths = {
        entry["path"] for entry in project.repository_tree(ref="main", recursive=True, get_all=True)
    }
    assert {"recipes", "recipes/attrs", META, "constraints.txt"} <= paths
    only_recipes = project.repository_tree(path="recipes", get_all=True)
    assert [(e["name"], e["type"]) for e in only_recipes] == [
        ("attrs", "tree"),
        ("readline", "tree"),
    ]
    file = project.files.get(META, ref="main")
    head = project.branches.get("main").commit["id"]
    assert file.decode() == project.files.raw(META, ref="main")
    assert (file.last_commit_id, file.commit_id, file.encoding) == (head, head, "base64")
    assert api_error(lambda: project.files.get("nope.txt", ref="main")).response_code == 404


def test_commit_on_new_branch_from_start_branch(fake: FakeGitLab, project: Project) -> None:
    """A commit with start_branch creates the branch on top of main, authored by the bot."""
    main_head = fake.project.branch_head("main")
    sha = commit_to_branch(project, "recipe-bot/attrs", "new\n", start_branch="main")
    commit = project.commits.get(sha)
    assert commit.parent_ids == [main_head]
    assert (commit.author_name, commit.committer_name) == ("Recipe Bot", "Recipe Bot")
    assert project.branches.get("recipe-bot/attrs").commit["id"] == sha
    assert project.files.raw(META, ref="recipe-bot/attrs") == b"new\n"
    assert fake.project.branch_head("main") == main_head


def test_commit_api_errors_match_gitlab(project: Project) -> None:
    """The commits API refuses what GitLab refuses, with GitLab's messages."""
    commit_to_branch(project, "recipe-bot/attrs", "v1\n", start_branch="main")
    create = {"action": "create", "file_path": META, "content": "x"}
    update_missing = {"action": "update", "file_path": "x.txt", "content": "x"}
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"branch": "recipe-bot/attrs", "start_branch": "main"},
            "A branch called 'recipe-bot/attrs' already exists",
        ),
        (
            {"branch": "recipe-bot/missing"},
            "You can only create or edit files when you are on a branch",
        ),
        ({"branch": "main", "actions": [create]}, "A file with this name already exists"),
        ({"branch": "main", "actions": [update_missing]}, "A file with this name doesn't exist"),
        ({"branch": "main", "actions": []}, "actions is empty"),
    ]
    for extra, message in cases:
        data = {
            "commit_message": "m",
            "actions": [{"action": "update", "file_path": META, "content": "x"}],
            **extra,
        }
        error = api_error(partial(project.commits.create, data))
        assert error.response_code == 400 and message in str(error.error_message), extra
    # python-gitlab checks required attributes itself, so send the empty body by hand.
    url = f"/projects/{project.id}/repository/commits"
    error = api_error(lambda: project.manager.gitlab.http_post(url, post_data={}))
    assert error.response_code == 400
    assert (
        str(error.error_message)
        == "branch is missing, commit_message is missing, actions is missing"
    )


def test_force_commit_replaces_branch_history(fake: FakeGitLab, project: Project) -> None:
    """force=true parents the new commit on start_branch and drops the branch's old commits."""
    old = commit_to_branch(project, "recipe-bot/attrs", "v1\n", start_branch="main")
    new = commit_to_branch(project, "recipe-bot/attrs", "v2\n", start_branch="main", force=True)
    assert project.commits.get(new).parent_ids == [fake.project.branch_head("main")]
    history = [c.id for c in project.commits.list(ref_name="recipe-bot/attrs", get_all=True)]
    assert new in history and old not in history


def test_stale_last_commit_id_is_refused(fake: FakeGitLab, project: Project) -> None:
    """An update carrying an outdated last_commit_id fails like GitLab's optimistic lock."""
    seen = project.files.get(META, ref="main").last_commit_id
    fake.push_to_branch("main", {META: "changed by a human\n"})
    action = {"action": "update", "file_path": META, "content": "x", "last_commit_id": seen}
    error = api_error(
        lambda: project.commits.create(
            {"branch": "main", "commit_message": "m", "actions": [action]}
        )
    )
    assert f"The file has changed since you started editing it: {META}" in str(error.error_message)


def test_base64_actions_round_trip_bytes(project: Project) -> None:
    """Base64 content is stored as bytes and served back unchanged."""
    payload = bytes(range(256))
    action = {
        "action": "create",
        "file_path": "blob.bin",
        "content": base64.b64encode(payload).decode(),
        "encoding": "base64",
    }
    project.commits.create({"branch": "main", "commit_message": "binary", "actions": [action]})
    assert project.files.raw("blob.bin", ref="main") == payload


def test_branches_create_list_delete(project: Project) -> None:
    """Branches can be created from a ref, listed with search, and deleted."""
    project.branches.create({"branch": "recipe-bot/readline", "ref": "main"})
    names = [b.name for b in project.branches.list(search="recipe-bot/", get_all=True)]
    assert names == ["recipe-bot/readline"]
    duplicate = api_error(
        lambda: project.branches.create({"branch": "recipe-bot/readline", "ref": "main"})
    )
    assert duplicate.response_code == 400 and duplicate.error_message == "Branch already exists"
    project.branches.delete("recipe-bot/readline")
    assert api_error(lambda: project.branches.get("recipe-bot/readline")).response_code == 404


def test_single_file_endpoints_are_one_action_commits(project: Project) -> None:
    """The files API creates, updates and deletes a file with one commit each."""
    data = {"file_path": "notes/a.txt", "branch": "main", "content": "a", "commit_message": "add"}
    created = project.files.create(data)
    assert created.file_path == "notes/a.txt"
    file = project.files.get("notes/a.txt", ref="main")
    file.content = "b"
    file.save(branch="main", commit_message="edit")
    assert project.files.raw("notes/a.txt", ref="main") == b"b"
    project.files.delete("notes/a.txt", branch="main", commit_message="drop")
    assert api_error(lambda: project.files.get("notes/a.txt", ref="main")).response_code == 404
    titles = [c.title for c in project.commits.list(ref_name="main", per_page=3, get_all=False)]
    assert titles == ["drop", "edit", "add"]


def test_archive_is_a_gitlab_shaped_tarball(fake: FakeGitLab, project: Project) -> None:
    """The archive is a real tar.gz of the snapshot under <project>-<ref>-<sha>/."""
    sha = str(fake.project.branch_head("main"))
    data = project.repository_archive(sha=sha, format="tar.gz")
    assert isinstance(data, bytes)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        top = f"external-recipes-{sha}-{sha}"
        member = tar.extractfile(f"{top}/{META}")
        assert member is not None and member.read().decode() == fake.project.file(META)
        assert all(name.startswith(top) for name in tar.getnames())


# --- merge requests --------------------------------------------------------------------------


def open_mr(
    project: Project, branch: str = "recipe-bot/attrs", **extra: object
) -> ProjectMergeRequest:
    if branch not in [b.name for b in project.branches.list(get_all=True)]:
        commit_to_branch(project, branch, f"{branch}\n", start_branch="main")
    data = {"source_branch": branch, "target_branch": "main", "title": f"Update {branch}", **extra}
    return project.mergerequests.create(data)


def test_merge_request_fields_and_duplicate_409(fake: FakeGitLab, project: Project) -> None:
    """A second open MR for the same source branch is a 409 naming the first."""
    mr = open_mr(
        project, labels="dependencies,recipe-bot", description="<!-- recipe-bot: recipe=attrs -->"
    )
    assert mr.state == "opened" and mr.labels == ["dependencies", "recipe-bot"]
    assert mr.sha == fake.project.branch_head("recipe-bot/attrs")
    assert mr.web_url.endswith(f"/{PROJECT}/-/merge_requests/{mr.iid}")
    error = api_error(lambda: open_mr(project))
    assert error.response_code == 409
    message = f"Another open merge request already exists for this source branch: !{mr.iid}"
    assert json.loads(error.response_body or b"{}") == {"message": [message]}


def test_merge_request_list_filters(project: Project) -> None:
    """Listing filters by state, source branch and (all of the) labels."""
    first = open_mr(project, "recipe-bot/a", labels="dependencies")
    open_mr(project, "recipe-bot/b", labels="dependencies,urgent")
    first.state_event = "close"
    first.save()

    def titles(**filters: Any) -> list[str]:
        return sorted(mr.title for mr in project.mergerequests.list(get_all=True, **filters))

    assert titles(state="opened") == ["Update recipe-bot/b"]
    assert titles(state="closed", source_branch="recipe-bot/a") == ["Update recipe-bot/a"]
    assert titles(labels=["dependencies", "urgent"]) == ["Update recipe-bot/b"]
    assert titles() == ["Update recipe-bot/a", "Update recipe-bot/b"]


def test_merge_request_sha_follows_pushes_until_closed(fake: FakeGitLab, project: Project) -> None:
    """An open MR's sha follows its branch; a human push shows up with the human as author."""
    mr = open_mr(project)
    pushed = fake.push_to_branch("recipe-bot/attrs", {META: "human\n"})
    assert project.mergerequests.get(mr.iid).sha == pushed
    latest = project.commits.list(ref_name="recipe-bot/attrs", per_page=1, get_all=False)[0]
    assert (latest.id, latest.author_name) == (pushed, "Human")


def test_human_close_and_merge(fake: FakeGitLab, project: Project) -> None:
    """Closing and merging by a human set state, timestamps and move the target branch."""
    closed, merged = open_mr(project, "recipe-bot/a"), open_mr(project, "recipe-bot/b")
    fake.close_merge_request(closed.iid)
    merge_sha = fake.merge_merge_request(merged.iid)
    closed_now = project.mergerequests.get(closed.iid)
    merged_now = project.mergerequests.get(merged.iid)
    assert (closed_now.state, closed_now.closed_at is not None) == ("closed", True)
    assert (merged_now.state, merged_now.merge_commit_sha) == ("merged", merge_sha)
    assert merged_now.merged_at is not None
    assert project.branches.get("main").commit["id"] == merge_sha
    assert project.files.raw(META, ref="main") == b"recipe-bot/b\n"
    open_mr(project, "recipe-bot/a")  # a closed MR does not block a new one


def test_clock_and_seed_files_are_under_test_control() -> None:
    """A test-owned clock stamps objects, so created_after can be exercised deterministically."""
    now = [datetime(2024, 6, 1, 12, 0, tzinfo=UTC)]
    with running_fake_gitlab(clock=lambda: now[0], files={"a.txt": "a"}) as server:
        server.project.seed_files({"b.txt": "b"}, message="more")
        with gitlab.Gitlab(server.url, private_token=server.token) as client:
            project = client.projects.get(PROJECT)
            assert sorted(e["path"] for e in project.repository_tree(get_all=True)) == [
                "a.txt",
                "b.txt",
            ]
            project.issues.create({"title": "old"})
            now[0] += timedelta(hours=2)
            project.issues.create({"title": "new"})
            recent = project.issues.list(created_after="2024-06-01T13:00:00Z", get_all=True)
            assert [issue.title for issue in recent] == ["new"]
            assert recent[0].created_at == "2024-06-01T14:00:00.000Z"


def test_notes_on_merge_requests_and_issues(fake: FakeGitLab, project: Project) -> None:
    """Notes can be posted and listed (newest first) on MRs and issues."""
    mr = open_mr(project)
    mr.notes.create({"body": "first"})
    fake.project.comment("merge_request", mr.iid, "second, by a human")
    bodies = [note.body for note in mr.notes.list(get_all=True)]
    assert bodies == ["second, by a human", "first"]
    issue = project.issues.create({"title": "Recipe Dashboard"})
    issue.notes.create({"body": "hello"})
    assert [n.author["username"] for n in issue.notes.list(get_all=True)] == ["recipe-bot"]


# --- issues and pagination -------------------------------------------------------------------


def test_issue_create_edit_close_and_tick(fake: FakeGitLab, project: Project) -> None:
    """Issues are edited like GitLab's, and a human tick is visible to the next read."""
    issue = project.issues.create(
        {
            "title": "Recipe Dashboard",
            "labels": "recipe-bot",
            "description": "- [ ] <!-- rebase=attrs -->tick me",
        }
    )
    fake.tick_box(issue.iid, "rebase=attrs")
    assert project.issues.get(issue.iid).description == "- [x] <!-- rebase=attrs -->tick me"
    issue = project.issues.get(issue.iid)
    issue.description, issue.labels = "rewritten", ["recipe-bot", "extra"]
    issue.save()
    again = project.issues.get(issue.iid)
    assert (again.description, again.labels) == ("rewritten", ["extra", "recipe-bot"])
    again.state_event = "close"
    again.save()
    found = project.issues.list(
        state="opened", labels=["recipe-bot"], search="dashboard", get_all=True
    )
    assert found == [] and project.issues.get(issue.iid).state == "closed"
    with pytest.raises(LookupError):
        fake.tick_box(issue.iid, "rebase=attrs")  # nothing left to tick


def test_get_all_follows_links_past_100_items(fake: FakeGitLab, project: Project) -> None:
    """get_all and iterator walk every page; the headers are GitLab's."""
    for number in range(130):
        project.issues.create({"title": f"issue {number}"})
    assert len(project.issues.list(get_all=True, per_page=100)) == 130
    assert sum(1 for _ in project.issues.list(iterator=True)) == 130
    response = requests.get(
        f"{fake.url}/api/v4/projects/1/issues",
        params={"per_page": "50", "page": "2", "state": "opened"},
        headers={"PRIVATE-TOKEN": fake.token},
        timeout=5,
    )
    headers = response.headers
    assert (
        headers["X-Page"],
        headers["X-Per-Page"],
        headers["X-Total"],
        headers["X-Total-Pages"],
    ) == ("2", "50", "130", "3")
    assert (headers["X-Next-Page"], headers["X-Prev-Page"]) == ("3", "1")
    assert set(response.links) == {"prev", "next", "first", "last"}
    assert (
        "page=3" in response.links["next"]["url"]
        and "state=opened" in response.links["next"]["url"]
    )
    assert len(response.json()) == 50
    capped = requests.get(
        f"{fake.url}/api/v4/projects/1/issues",
        params={"per_page": 500},
        headers={"PRIVATE-TOKEN": fake.token},
        timeout=5,
    )
    assert capped.headers["X-Per-Page"] == "100" and len(capped.json()) == 100


# --- faults and hooks ------------------------------------------------------------------------


def test_fail_next_503_then_success_with_retries(fake: FakeGitLab) -> None:
    """Two 503s are retried away by python-gitlab's retry_transient_errors."""
    fake.fail_next(2, status=503, path_contains="/projects/")
    with gitlab.Gitlab(fake.url, private_token=fake.token, retry_transient_errors=True) as client:
        assert client.projects.get(PROJECT).id == 1
    assert [r.path for r in fake.requests].count(f"/api/v4/projects/{PROJECT}") == 3


def test_503_without_retries_surfaces(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    """Without retries a 503 reaches the caller as an error."""
    fake.fail_next(status=503)
    assert api_error(lambda: gl.projects.get(PROJECT)).response_code == 503


def test_429_honours_retry_after(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    """A 429 with Retry-After makes python-gitlab wait that long, then succeed."""
    fake.fail_next(status=429, retry_after=1, method="GET")
    started = time.monotonic()
    assert gl.projects.get(PROJECT).id == 1
    assert time.monotonic() - started >= 1


def test_on_request_hook_acts_as_a_human_mid_run(fake: FakeGitLab, project: Project) -> None:
    """A hook can push to a branch between the bot's read and its write."""
    commit_to_branch(project, "recipe-bot/attrs", "bot\n", start_branch="main")
    pushed: list[str] = []

    def human_pushes_first(request: RecordedRequest) -> None:
        if request.method == "POST" and request.path.endswith("/repository/commits"):
            unsubscribe()
            pushed.append(fake.push_to_branch("recipe-bot/attrs", {META: "human\n"}))

    unsubscribe = fake.on_request(human_pushes_first)
    sha = commit_to_branch(project, "recipe-bot/attrs", "bot again\n")
    assert project.commits.get(sha).parent_ids == pushed
    assert fake.requests[-2].body["branch"] == "recipe-bot/attrs"


def test_down_and_crash_after_stop_everything_but_keep_the_write(
    fake: FakeGitLab, project: Project
) -> None:
    """crash_after lets the matching write land, then every request is a 503."""
    fake.crash_after(lambda r: r.method == "POST" and r.path.endswith("/merge_requests"))
    open_mr(project)
    assert fake.down
    assert api_error(lambda: project.mergerequests.list(get_all=True)).response_code == 503
    fake.down = False
    assert [mr.state for mr in project.mergerequests.list(get_all=True)] == ["opened"]
    assert [w.method for w in fake.writes()] == ["POST", "POST"]  # the commit and the MR


def test_hook_errors_fail_the_test(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    """An exception inside a hook becomes a 500 and is re-raised by check()."""

    def broken(request: RecordedRequest) -> None:
        raise ValueError("hook bug")

    fake.on_request(broken)
    assert api_error(lambda: gl.projects.get(PROJECT)).response_code == 500
    with pytest.raises(AssertionError, match="hook bug"):
        fake.check()
    fake.errors.clear()


def test_server_threads_stop_cleanly() -> None:
    """Stopping the fake joins its threads even with a keep-alive client still open."""
    before = set(threading.enumerate())
    with running_fake_gitlab() as server:
        client = gitlab.Gitlab(server.url, private_token=server.token)
        client.auth()
    client.session.close()
    assert set(threading.enumerate()) <= before


# --- line-level three-way merges --------------------------------------------------------------

PINS = [f"pkg{n}==1.0\n" for n in range(6)]
CONSTRAINTS = "".join(PINS)


def bump(text: str, n: int, version: str = "2.0") -> str:
    """``text`` with pin ``pkg<n>`` moved to ``version``."""
    return text.replace(f"pkg{n}==1.0\n", f"pkg{n}=={version}\n")


def test_line_merge_takes_one_sided_hunks_and_refuses_adjacent_ones() -> None:
    """Hunks with an unchanged line between them merge; touching hunks conflict, as in git."""
    base = {"constraints.txt": CONSTRAINTS}
    two_apart = three_way_merge(
        base, {"constraints.txt": bump(CONSTRAINTS, 1)}, {"constraints.txt": bump(CONSTRAINTS, 3)}
    )
    assert two_apart == ({"constraints.txt": bump(bump(CONSTRAINTS, 1), 3)}, [])
    adjacent = three_way_merge(
        base, {"constraints.txt": bump(CONSTRAINTS, 1)}, {"constraints.txt": bump(CONSTRAINTS, 2)}
    )
    assert adjacent == ({}, ["constraints.txt"])


def test_line_merge_accepts_identical_changes_and_refuses_different_ones() -> None:
    """Both sides making the same edit is no conflict; different edits to one line are."""
    ours = {"constraints.txt": bump(CONSTRAINTS, 4)}
    assert three_way_merge({"constraints.txt": CONSTRAINTS}, ours, dict(ours)) == (ours, [])
    other = {"constraints.txt": bump(CONSTRAINTS, 4, "3.0")}
    assert three_way_merge({"constraints.txt": CONSTRAINTS}, ours, other)[1] == ["constraints.txt"]


def test_line_merge_edge_cases_follow_git() -> None:
    """Modify/delete conflicts, delete/untouched deletes, inserts at one point conflict."""
    base = {"a.txt": CONSTRAINTS, "b.txt": "keep\n"}
    changed = {"a.txt": bump(CONSTRAINTS, 0), "b.txt": "keep\n"}
    deleted = {"b.txt": "keep\n"}
    assert three_way_merge(base, changed, deleted) == ({"b.txt": "keep\n"}, ["a.txt"])
    assert three_way_merge(base, base, {"a.txt": CONSTRAINTS}) == ({"a.txt": CONSTRAINTS}, [])
    assert merge_lines("x\n", "a\nx\n", "b\nx\n") is None
    assert merge_lines("x\n", "a\nx\n", "x\nb\n") == "a\nx\nb\n"
    assert merge_lines("", "new\n", "new\n") == "new\n"


def pin_requests(fake: FakeGitLab, project: Project) -> list[ProjectMergeRequest]:
    """Six MRs, each bumping one of six adjacent pins in constraints.txt from the same main."""
    fake.push_to_branch("main", {"constraints.txt": CONSTRAINTS}, message="Pin six packages")
    requests_ = []
    for n in range(6):
        branch = f"recipe-bot/pkg{n}"
        fake.push_to_branch(branch, {"constraints.txt": bump(CONSTRAINTS, n)})
        data = {"source_branch": branch, "target_branch": "main", "title": f"Bump pkg{n}"}
        requests_.append(project.mergerequests.create(data))
    return requests_


def test_merging_one_pin_makes_its_neighbours_conflict(fake: FakeGitLab, project: Project) -> None:
    """After pkg2's MR is merged, pkg1 and pkg3 conflict and the rest still merge cleanly."""
    mrs = pin_requests(fake, project)
    fake.merge_merge_request(mrs[2].iid)
    seen = {n: project.mergerequests.get(mrs[n].iid) for n in (0, 1, 3, 4, 5)}
    conflicted = {n for n, mr in seen.items() if mr.has_conflicts}
    assert conflicted == {1, 3}
    assert {seen[n].detailed_merge_status for n in (1, 3)} == {"conflict"}
    assert {seen[n].merge_status for n in (1, 3)} == {"cannot_be_merged"}
    assert {seen[n].detailed_merge_status for n in (0, 4, 5)} == {"mergeable"}
    error = api_error(lambda: seen[1].merge())
    assert (error.response_code, str(error.error_message)) == (422, "Branch cannot be merged")
    with pytest.raises(MergeConflict):
        fake.merge_merge_request(mrs[3].iid)
    seen[0].merge()
    assert project.files.raw("constraints.txt", ref="main").decode() == bump(
        bump(CONSTRAINTS, 2), 0
    )


def test_behind_branch_merge_keeps_a_human_edit_on_main(fake: FakeGitLab, project: Project) -> None:
    """A human commit on the target and an MR two lines away combine in the merge commit."""
    mrs = pin_requests(fake, project)
    fake.push_to_branch("main", {"constraints.txt": bump(CONSTRAINTS, 5, "9.9")})
    mr = project.mergerequests.get(mrs[3].iid)
    assert (mr.detailed_merge_status, mr.diverged_commits_count) == ("mergeable", 1)
    mr.merge()
    assert project.files.raw("constraints.txt", ref="main").decode() == bump(
        bump(CONSTRAINTS, 5, "9.9"), 3
    )


# --- mergeability ----------------------------------------------------------------------------


def test_fast_forward_projects_report_need_rebase(fake: FakeGitLab, project: Project) -> None:
    """With merge_method ff a branch behind main needs a rebase and cannot be merged (405)."""
    fake.project.merge_method = "ff"
    assert project.manager.get(PROJECT).merge_method == "ff"
    mr = open_mr(project)
    on_top = project.mergerequests.get(mr.iid)
    assert (on_top.detailed_merge_status, on_top.diverged_commits_count) == ("mergeable", 0)
    fake.push_to_branch("main", {"README.md": "moved\n"})
    behind = project.mergerequests.get(mr.iid)
    assert (behind.detailed_merge_status, behind.has_conflicts) == ("need_rebase", False)
    assert behind.merge_status == "can_be_merged"
    assert api_error(lambda: behind.merge()).response_code == 405
    fresh = open_mr(project, "recipe-bot/fresh")
    head = fresh.sha
    fresh.merge()
    assert project.branches.get("main").commit["id"] == head  # fast-forward: no merge commit


def test_async_mergeability_is_unchecked_on_first_read_after_a_move(
    fake: FakeGitLab, project: Project
) -> None:
    """With async_mergeability the create reply and the first read after each head move say
    "unchecked"; the read after that has the real answer."""
    fake.project.async_mergeability = True
    mrs = pin_requests(fake, project)
    first = mrs[1]  # the create reply is the first read
    assert (first.detailed_merge_status, first.merge_status, first.has_conflicts) == (
        "unchecked",
        "unchecked",
        False,
    )
    assert project.mergerequests.get(mrs[1].iid).detailed_merge_status == "mergeable"
    fake.merge_merge_request(mrs[2].iid)
    assert project.mergerequests.get(mrs[1].iid).detailed_merge_status == "unchecked"
    settled = project.mergerequests.get(mrs[1].iid)
    assert (settled.detailed_merge_status, settled.has_conflicts) == ("conflict", True)


def test_pipeline_must_succeed_statuses(fake: FakeGitLab, project: Project) -> None:
    """A required pipeline shows as ci_still_running, then ci_must_pass when red, then mergeable."""
    fake.project.only_allow_merge_if_pipeline_succeeds = True
    assert project.manager.get(PROJECT).only_allow_merge_if_pipeline_succeeds is True
    mr = open_mr(project)
    assert project.mergerequests.get(mr.iid).detailed_merge_status == "ci_must_pass"
    fake.set_pipeline("recipe-bot/attrs", "running")
    assert project.mergerequests.get(mr.iid).detailed_merge_status == "ci_still_running"
    fake.set_pipeline("recipe-bot/attrs", "failed")
    red = project.mergerequests.get(mr.iid)
    assert red.detailed_merge_status == "ci_must_pass"
    assert api_error(lambda: red.merge()).response_code == 405
    fake.set_pipeline("recipe-bot/attrs", "success")
    green = project.mergerequests.get(mr.iid)
    assert green.detailed_merge_status == "mergeable"
    green.merge()
    assert project.mergerequests.get(mr.iid).state == "merged"


def test_closed_and_draft_merge_requests_say_so(fake: FakeGitLab, project: Project) -> None:
    """GitLab reports not_open for closed MRs and draft_status for drafts."""
    draft = open_mr(project, "recipe-bot/draft", title="Draft: later")
    assert project.mergerequests.get(draft.iid).detailed_merge_status == "draft_status"
    fake.close_merge_request(draft.iid)
    assert project.mergerequests.get(draft.iid).detailed_merge_status == "not_open"


# --- pipelines -------------------------------------------------------------------------------


def test_pipelines_are_listed_filtered_and_fetched(fake: FakeGitLab, project: Project) -> None:
    """set_pipeline makes pipelines the pipelines API lists by sha/ref/status and returns."""
    mr = open_mr(project)
    head = fake.project.branch_head("recipe-bot/attrs")
    assert head is not None
    first = fake.set_pipeline("recipe-bot/attrs", "running")
    assert fake.set_pipeline(head, "failed") == first  # the same pipeline reports again
    main_id = fake.set_pipeline("main", "success")
    assert [p.id for p in project.pipelines.list(get_all=True)] == [main_id, first]
    by_sha = project.pipelines.list(sha=head, get_all=True)
    assert [(p.id, p.status, p.ref, p.source) for p in by_sha] == [
        (first, "failed", "recipe-bot/attrs", "merge_request_event")
    ]
    assert [p.id for p in project.pipelines.list(ref="main", get_all=True)] == [main_id]
    assert [p.id for p in project.pipelines.list(status="success", get_all=True)] == [main_id]
    assert project.pipelines.get(first).finished_at is not None
    assert api_error(lambda: project.pipelines.get(99999)).response_code == 404
    assert [p.id for p in mr.pipelines.list(get_all=True)] == [first]
    retry = fake.set_pipeline("recipe-bot/attrs", "pending", new=True)
    seen = project.mergerequests.get(mr.iid)
    assert (seen.head_pipeline["id"], seen.head_pipeline["status"]) == (retry, "pending")
    assert seen.head_pipeline["sha"] == head and seen.pipeline["id"] == retry
    assert set(seen.head_pipeline) >= {
        "id", "iid", "project_id", "sha", "ref", "status", "source", "web_url",
        "created_at", "updated_at",
    }  # fmt: skip


def test_head_pipeline_follows_the_source_head(fake: FakeGitLab, project: Project) -> None:
    """A push leaves the MR without a head pipeline until one runs for the new head."""
    mr = open_mr(project)
    assert project.mergerequests.get(mr.iid).head_pipeline is None
    fake.set_pipeline("recipe-bot/attrs", "success")
    fake.push_to_branch("recipe-bot/attrs", {META: "newer\n"})
    assert project.mergerequests.get(mr.iid).head_pipeline is None


def test_auto_pipelines_run_for_pushes_off_the_default_branch(
    fake: FakeGitLab, project: Project
) -> None:
    """With auto_pipelines every new commit on a non-default branch gets a running pipeline."""
    fake.project.auto_pipelines = True
    sha = commit_to_branch(project, "recipe-bot/attrs", "bumped\n", start_branch="main")
    fake.push_to_branch("main", {"README.md": "human\n"})
    listed = project.pipelines.list(get_all=True)
    assert [(p.sha, p.ref, p.status, p.source) for p in listed] == [
        (sha, "recipe-bot/attrs", "running", "push")
    ]


# --- auto-merge ------------------------------------------------------------------------------


def test_auto_merge_arms_then_merges_when_the_pipeline_succeeds(
    fake: FakeGitLab, project: Project
) -> None:
    """merge_when_pipeline_succeeds on a running pipeline arms; success merges as the bot."""
    mr = open_mr(project)
    fake.set_pipeline("recipe-bot/attrs", "running")
    mr.merge(merge_when_pipeline_succeeds=True, sha=mr.sha)
    armed = project.mergerequests.get(mr.iid)
    assert (armed.state, armed.merge_when_pipeline_succeeds, armed.auto_merge_enabled) == (
        "opened",
        True,
        True,
    )
    assert armed.merge_user["username"] == "recipe-bot"
    fake.set_pipeline("recipe-bot/attrs", "success")
    merged = project.mergerequests.get(mr.iid)
    assert (merged.state, merged.merged_by["username"]) == ("merged", "recipe-bot")
    assert project.files.raw(META, ref="main") == b"recipe-bot/attrs\n"


def test_auto_merge_flag_of_gitlab_17_merges_at_once_without_a_pipeline(
    fake: FakeGitLab, project: Project
) -> None:
    """auto_merge=true with no pipeline and no requirement merges now, like a plain merge."""
    mr = open_mr(project)
    reply = fake_put(fake, f"merge_requests/{mr.iid}/merge", {"auto_merge": True, "sha": mr.sha})
    assert (reply.status_code, reply.json()["state"]) == (200, "merged")


def fake_put(fake: FakeGitLab, path: str, body: dict[str, Any]) -> requests.Response:
    """A raw PUT on the seeded project, to read status codes python-gitlab would raise on."""
    url = f"{fake.url}/api/v4/projects/{PROJECT.replace('/', '%2F')}/{path}"
    return requests.put(url, json=body, headers={"PRIVATE-TOKEN": fake.token}, timeout=10)


def test_auto_merge_refusals_are_gitlabs(fake: FakeGitLab, project: Project) -> None:
    """405 for drafts, conflicts, closed MRs and red pipelines; 409 for a stale sha; 400 without
    a required sha; each message as GitLab words it."""
    mrs = pin_requests(fake, project)
    fake.merge_merge_request(mrs[2].iid)
    refusals = []
    for iid, body in (
        (mrs[2].iid, {"merge_when_pipeline_succeeds": True}),  # merged already
        (mrs[1].iid, {"merge_when_pipeline_succeeds": True}),  # conflicts
        (mrs[0].iid, {"merge_when_pipeline_succeeds": True, "sha": "0" * 40}),
    ):
        reply = fake_put(fake, f"merge_requests/{iid}/merge", body)
        refusals.append((reply.status_code, reply.json()["message"]))
    head = project.mergerequests.get(mrs[0].iid).sha
    assert refusals == [
        (405, "405 Method Not Allowed"),
        (405, "405 Method Not Allowed"),
        (409, f"SHA does not match HEAD of source branch: {head}"),
    ]
    draft = open_mr(project, "recipe-bot/draft", title="Draft: wip")
    error = api_error(lambda: draft.merge(merge_when_pipeline_succeeds=True))
    assert error.response_code == 405
    fake.project.require_sha = True
    reply = fake_put(fake, f"merge_requests/{mrs[4].iid}/merge", {"auto_merge": True})
    assert (reply.status_code, reply.json()) == (400, {"message": "SHA must be provided"})
    fake.set_pipeline("recipe-bot/pkg5", "failed")
    mr5 = project.mergerequests.get(mrs[5].iid)
    error = api_error(lambda: mr5.merge(merge_when_pipeline_succeeds=True, sha=mr5.sha))
    assert (error.response_code, str(error.error_message)) == (405, "Pipeline failed")
    assert project.mergerequests.get(mrs[5].iid).state == "opened"


def test_auto_merge_needs_a_pipeline_when_one_is_required(
    fake: FakeGitLab, project: Project
) -> None:
    """With pipelines required and none run yet, asking for auto-merge is refused with 405."""
    fake.project.only_allow_merge_if_pipeline_succeeds = True
    mr = open_mr(project)
    error = api_error(lambda: mr.merge(merge_when_pipeline_succeeds=True, sha=mr.sha))
    assert error.response_code == 405


def test_failed_pipeline_or_new_commit_disarms_auto_merge(
    fake: FakeGitLab, project: Project
) -> None:
    """A red pipeline, or a push of a new head, cancels an armed auto-merge."""
    red, pushed = open_mr(project, "recipe-bot/red"), open_mr(project, "recipe-bot/pushed")
    for mr in (red, pushed):
        fake.set_pipeline(mr.source_branch, "pending")
        mr.merge(merge_when_pipeline_succeeds=True, sha=mr.sha)
    fake.set_pipeline("recipe-bot/red", "failed")
    fake.push_to_branch("recipe-bot/pushed", {META: "human fix\n"})
    fake.set_pipeline("recipe-bot/pushed", "success")
    for mr in (red, pushed):
        seen = project.mergerequests.get(mr.iid)
        assert (seen.state, seen.merge_when_pipeline_succeeds, seen.merge_user) == (
            "opened",
            False,
            None,
        )


def test_auto_merge_that_meets_a_conflict_is_dropped(fake: FakeGitLab, project: Project) -> None:
    """An armed MR whose target moved into conflict is not merged when its pipeline succeeds."""
    mrs = pin_requests(fake, project)
    fake.set_pipeline("recipe-bot/pkg1", "running")
    mrs[1].merge(merge_when_pipeline_succeeds=True, sha=mrs[1].sha)
    fake.merge_merge_request(mrs[2].iid)
    fake.set_pipeline("recipe-bot/pkg1", "success")
    seen = project.mergerequests.get(mrs[1].iid)
    assert (seen.state, seen.merge_when_pipeline_succeeds, seen.has_conflicts) == (
        "opened",
        False,
        True,
    )


def test_cancel_merge_when_pipeline_succeeds(fake: FakeGitLab, project: Project) -> None:
    """Cancelling disarms an armed MR (201 {"status": "success"}) and is a 405 otherwise."""
    mr = open_mr(project)
    fake.set_pipeline("recipe-bot/attrs", "running")
    mr.merge(merge_when_pipeline_succeeds=True, sha=mr.sha)
    assert mr.cancel_merge_when_pipeline_succeeds() == {"status": "success"}
    assert project.mergerequests.get(mr.iid).merge_when_pipeline_succeeds is False
    error = api_error(mr.cancel_merge_when_pipeline_succeeds)
    assert error.response_code == 405
    fake.set_pipeline("recipe-bot/attrs", "success")
    assert project.mergerequests.get(mr.iid).state == "opened"


def test_merged_merge_request_keeps_listing_its_pipelines(
    fake: FakeGitLab, project: Project
) -> None:
    """After the merge, an MR's pipelines are still those of its own commits, not main's."""
    mr = open_mr(project)
    ran = fake.set_pipeline("recipe-bot/attrs", "success")
    fake.set_pipeline("main", "success")
    mr.merge()
    assert [p.id for p in mr.pipelines.list(get_all=True)] == [ran]


def test_skipped_pipeline_counts_as_green_unless_pipelines_must_succeed(
    fake: FakeGitLab, project: Project
) -> None:
    """A skipped head pipeline lets auto-merge merge at once, but not when success is required."""
    free, strict = open_mr(project, "recipe-bot/free"), open_mr(project, "recipe-bot/strict")
    fake.set_pipeline("recipe-bot/free", "skipped")
    free.merge(merge_when_pipeline_succeeds=True, sha=free.sha)
    assert project.mergerequests.get(free.iid).state == "merged"
    fake.project.only_allow_merge_if_pipeline_succeeds = True
    fake.set_pipeline("recipe-bot/strict", "skipped")
    error = api_error(lambda: strict.merge(merge_when_pipeline_succeeds=True, sha=strict.sha))
    assert error.response_code == 405


def test_set_pipeline_refuses_unknown_statuses_and_refs(fake: FakeGitLab) -> None:
    """A typo in a test's pipeline status or ref fails loudly instead of creating a pipeline."""
    with pytest.raises(ValueError, match="unknown pipeline status"):
        fake.set_pipeline("main", "green")
    with pytest.raises(LookupError):
        fake.set_pipeline("no-such-branch", "success")
    assert fake.project.pipelines == {}
