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
    with pytest.raises(MergeConflict):
        fake.merge_merge_request(mrs[3].iid)
    fake.merge_merge_request(mrs[0].iid)
    assert project.files.raw("constraints.txt", ref="main").decode() == bump(
        bump(CONSTRAINTS, 2), 0
    )
