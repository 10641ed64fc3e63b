"""GitLabForge, the one Forge implementation, against the fake GitLab over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_gitlab import FakeGitLab, running_fake_gitlab

from bot.config import Config, GitLabConfig
from bot.errors import ConfigError, ForgeError
from bot.forge import (
    AutoMerge,
    Forge,
    ForgeConflict,
    Mergeability,
    MergeRequestState,
    MergeRequestStatus,
    PipelineStatus,
    marker,
    require_project,
    trailer,
)
from bot.forge.gitlab import GitLabForge
from bot.model import FileEdit, MergeRequestPlan

PROJECT = "packaging/external-recipes"


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with running_fake_gitlab() as server:
        yield server


@pytest.fixture
def forge(fake: FakeGitLab) -> GitLabForge:
    return GitLabForge(
        GitLabConfig(url=fake.url, project=PROJECT), "fake-token", retries=0, backoff=0
    )


def mr_plan(version: str = "1.1", description: str | None = None) -> MergeRequestPlan:
    return MergeRequestPlan(
        recipe="attrs",
        version=version,
        branch="recipe-bot/attrs",
        title=f"Update attrs to {version}",
        description=description or f"Update.\n\n{marker('attrs', version)}\n",
        commit_message=f"Update attrs to {version}\n\n{trailer('attrs', version)}\n",
        edits=(FileEdit("attrs/meta.yaml", "", "version: 1\n", created=True),),
        labels=("dependencies",),
    )


def open_one(forge: GitLabForge, version: str = "1.1") -> None:
    plan = mr_plan(version)
    forge.write_branch(plan.branch, plan.edits, plan.commit_message, start_sha=None)
    forge.create_merge_request(plan)


def test_gitlab_forge_has_every_verb_of_the_protocol() -> None:
    """Each method the Forge protocol names exists on GitLabForge with the same parameters
    (mypy checks bot/, not tests: this is the check a second implementation would copy)."""
    import inspect

    verbs = [
        name
        for name, member in vars(Forge).items()
        if callable(member) and not name.startswith("_")
    ]
    assert len(verbs) >= 18
    for name in verbs:
        implemented = getattr(GitLabForge, name, None)
        assert callable(implemented), name
        wanted = list(inspect.signature(getattr(Forge, name)).parameters)
        assert list(inspect.signature(implemented).parameters) == wanted, name
    forge = GitLabForge(GitLabConfig(url="http://127.0.0.1:9", project=PROJECT), None)
    assert forge.write_guard is None


def test_a_repeated_create_adopts_the_open_merge_request(forge: GitLabForge) -> None:
    """GitLab's 409 for an open merge request on the branch is a success: it is updated."""
    open_one(forge)
    ref, outcome = forge.create_merge_request(
        mr_plan(description="new text " + marker("attrs", "1.1"))
    )
    assert outcome == "updated"
    (only,) = forge.bot_merge_requests("recipe-bot/")
    assert only.number == ref.number
    assert only.description.startswith("new text")


def test_merge_requests_come_back_in_neutral_terms(fake: FakeGitLab, forge: GitLabForge) -> None:
    """GitLab's state words become the enum; the marker gives recipe and version."""
    open_one(forge)
    (found,) = forge.bot_merge_requests("recipe-bot/")
    assert (found.recipe, found.version, found.state, found.is_open) == (
        "attrs",
        "1.1",
        MergeRequestState.OPEN,
        True,
    )
    fake.close_merge_request(found.number)
    (closed,) = forge.bot_merge_requests("recipe-bot/")
    assert (closed.state, closed.is_open) == (MergeRequestState.CLOSED, False)


def test_merge_requests_without_the_marker_or_prefix_are_not_the_bots(forge: GitLabForge) -> None:
    """A merge request on another prefix is ignored, however it is described."""
    open_one(forge)
    assert forge.bot_merge_requests("other-prefix/") == []


def test_branch_heads_tell_our_commits_from_others(fake: FakeGitLab, forge: GitLabForge) -> None:
    """Our trailer names the version; a human's push has none; a missing branch is None."""
    open_one(forge)
    head = forge.branch_head("recipe-bot/attrs")
    assert head is not None and (head.bot_made, head.version) == (True, "1.1")
    fake.push_to_branch("recipe-bot/attrs", {"attrs/meta.yaml": "version: 2\n"})
    head = forge.branch_head("recipe-bot/attrs")
    assert head is not None and (head.bot_made, head.version) == (False, None)
    assert forge.branch_head("recipe-bot/nothing") is None


def test_every_write_asks_the_guard_first(forge: GitLabForge) -> None:
    """A guard that raises stops each write before it reaches GitLab."""

    def refuse() -> None:
        raise ForgeError("lock lost")

    forge.write_guard = refuse
    plan = mr_plan()
    writes = [
        lambda: forge.write_branch(plan.branch, plan.edits, plan.commit_message, start_sha=None),
        lambda: forge.create_merge_request(plan),
        lambda: forge.update_merge_request(1, plan),
        lambda: forge.close_merge_request(1, "x"),
        lambda: forge.create_issue("t", [], "b"),
        lambda: forge.edit_issue(1, lambda text: text),
        lambda: forge.close_issue(1, "x"),
    ]
    for write in writes:
        with pytest.raises(ForgeError, match="lock lost"):
            write()
    forge.write_guard = None
    assert forge.branch_head(plan.branch) is None


def test_the_lease_verbs_are_conditional(forge: GitLabForge) -> None:
    """Create refuses an existing branch; replace refuses a stale commit; both as ForgeConflict."""
    first = forge.create_lease("lease", "lock.json", "one", "take")
    with pytest.raises(ForgeConflict):
        forge.create_lease("lease", "lock.json", "two", "take again")
    second = forge.replace_lease("lease", "lock.json", "two", "renew", expected=first)
    with pytest.raises(ForgeConflict):
        forge.replace_lease("lease", "lock.json", "three", "renew", expected=first)
    found = forge.read_lease("lease", "lock.json")
    assert found is not None and (found.content, found.commit) == ("two", second)
    assert forge.commit_time(second).tzinfo is not None


def test_the_lease_verbs_ignore_the_write_guard(forge: GitLabForge) -> None:
    """The lock keeps its lease through them even while it refuses other writes."""

    def refuse() -> None:
        raise ForgeError("refused")

    forge.write_guard = refuse
    commit = forge.create_lease("lease", "lock.json", "one", "take")
    forge.replace_lease("lease", "lock.json", "two", "renew", expected=commit)
    assert forge.delete_lease("lease") is True


def test_missing_lease_branches_and_files(fake: FakeGitLab, forge: GitLabForge) -> None:
    """No branch: None and False. A branch without the file: no content, dated by its head."""
    assert forge.read_lease("lease", "lock.json") is None
    assert forge.delete_lease("lease") is False
    plan = mr_plan()
    head = forge.write_branch("lease", plan.edits, "by hand", start_sha=None)
    found = forge.read_lease("lease", "lock.json")
    assert found is not None and (found.content, found.commit) == (None, head)


def test_errors_name_the_action_and_never_the_token(fake: FakeGitLab) -> None:
    """A refused token names the variable to check; a missing project names the project."""
    config = GitLabConfig(url=fake.url, project=PROJECT, token_env="MY_TOKEN")
    with pytest.raises(ForgeError, match=r"401.*MY_TOKEN") as caught:
        GitLabForge(config, "wrong-secret", retries=0).target_head()
    assert "wrong-secret" not in caught.value.message
    missing = GitLabConfig(url=fake.url, project="no/such")
    with pytest.raises(ForgeError, match="'no/such' not found"):
        GitLabForge(missing, "fake-token", retries=0).target_head()


def test_a_down_gitlab_is_unreachable_not_a_crash(fake: FakeGitLab, forge: GitLabForge) -> None:
    """Errors on the wire become a ForgeError naming what the bot was doing."""
    fake.down = True
    with pytest.raises(ForgeError, match=r"find the project|read branch"):
        forge.branch_head("recipe-bot/attrs")


def test_require_project_names_the_key_and_the_file() -> None:
    """Without gitlab.url and gitlab.project a command that needs the forge stops with a key."""
    with pytest.raises(ConfigError, match=r"recipe-bot\.yaml, key 'gitlab': .* to serve"):
        require_project(Config(source="recipe-bot.yaml"), "to serve")
    require_project(Config(gitlab=GitLabConfig(url="https://g", project="p")), "to serve")


def test_mergeability_and_pipelines_in_neutral_terms(fake: FakeGitLab, forge: GitLabForge) -> None:
    """Conflict, behind (fast-forward projects), not yet computed, and the head pipeline."""
    open_one(forge)
    (mr,) = forge.bot_merge_requests("recipe-bot/")
    assert forge.merge_request_status(mr.number) == MergeRequestStatus(Mergeability.MERGEABLE)
    fake.push_to_branch("main", {"attrs/meta.yaml": "version: 0\n"})
    assert forge.merge_request_status(mr.number).mergeability is Mergeability.CONFLICT
    fake.project.async_mergeability = True
    fake.push_to_branch("recipe-bot/attrs", {"attrs/meta.yaml": "version: 0\n", "x": "1\n"})
    assert forge.merge_request_status(mr.number).mergeability is Mergeability.UNKNOWN
    fake.project.async_mergeability = False
    fake.project.merge_method = "ff"
    fake.push_to_branch("main", {"README.md": "moved on\n"})
    assert forge.merge_request_status(mr.number).mergeability is Mergeability.BEHIND
    fake.set_pipeline("recipe-bot/attrs", "failed")
    pipeline = forge.merge_request_status(mr.number).pipeline
    assert pipeline is not None and pipeline.status is PipelineStatus.FAILED
    assert pipeline.web_url and "/pipelines/" in pipeline.web_url


def test_auto_merge_arms_merges_or_is_refused_in_words(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    """A running pipeline arms it; a stale sha is a refusal returned, not raised; none merges."""
    open_one(forge)
    (mr,) = forge.bot_merge_requests("recipe-bot/")
    head = forge.branch_head(mr.branch)
    assert head is not None
    refused = forge.enable_auto_merge(mr.number, "0" * 40)
    assert refused.refusal is not None and refused.refusal.startswith("409")
    fake.set_pipeline(head.sha, "running")
    assert forge.enable_auto_merge(mr.number, head.sha) == AutoMerge(armed=True)
    assert forge.merge_request_status(mr.number).auto_merge is True
    fake.set_pipeline(head.sha, "success")
    (merged,) = forge.bot_merge_requests("recipe-bot/")
    assert merged.state is MergeRequestState.MERGED
