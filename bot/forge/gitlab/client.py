"""GitLabForge: bot.forge.Forge on GitLab's REST API, through python-gitlab.

The bot's merge requests are found by branch prefix and the hidden marker (bot.forge.markers);
branches are written with one commits-API call each (create or force-replace); a create that
GitLab answers with 409 "already exists" (a retried request whose first attempt went through)
adopts what is there. The run lock's lease is a branch with one file: created without `force`
(GitLab refuses with 400 when the branch exists: that refusal is the mutex) and replaced with
`last_commit_id`, which GitLab refuses with 400 when the file changed since.

Every call has a timeout and bounded retries on 5xx/429 (honouring Retry-After up to a cap).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import gitlab
import gitlab.exceptions
import requests
from requests.adapters import HTTPAdapter

from bot.config import GitLabConfig
from bot.errors import ForgeError
from bot.forge.api import (
    AutoMerge,
    BranchHead,
    ForgeConflict,
    Issue,
    LeaseFile,
    Mergeability,
    MergeRequest,
    MergeRequestRef,
    MergeRequestState,
    MergeRequestStatus,
    Outcome,
    Pipeline,
    PipelineStatus,
)
from bot.forge.gitlab.archive import unpack
from bot.forge.gitlab.errors import Errors, short
from bot.forge.markers import MARKER, TRAILER
from bot.model import FileEdit, MergeRequestPlan
from bot.transport import retry_policy

MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
# GitLab's words for a merge request's state, and ours.
STATES = {
    "opened": MergeRequestState.OPEN,
    "closed": MergeRequestState.CLOSED,
    "merged": MergeRequestState.MERGED,
    "locked": MergeRequestState.LOCKED,
}
T = TypeVar("T")
REFUSED = 400  # how the commits API refuses an existing branch or a stale last_commit_id
# detailed_merge_status (GitLab 15.6+). Mergeability is computed asynchronously: while it is,
# the answer is one of the "not yet known" words, and the bot looks again at the next run.
MERGEABILITY = {
    "mergeable": Mergeability.MERGEABLE,
    "conflict": Mergeability.CONFLICT,
    "need_rebase": Mergeability.BEHIND,
    "unchecked": Mergeability.UNKNOWN,
    "checking": Mergeability.UNKNOWN,
    "preparing": Mergeability.UNKNOWN,
    "approvals_syncing": Mergeability.UNKNOWN,
}
# merge_status, for GitLab before detailed_merge_status.
LEGACY_MERGEABILITY = {
    "can_be_merged": Mergeability.MERGEABLE,
    "cannot_be_merged": Mergeability.CONFLICT,
    "cannot_be_merged_recheck": Mergeability.UNKNOWN,
    "unchecked": Mergeability.UNKNOWN,
    "checking": Mergeability.UNKNOWN,
    "cannot_be_merged_rechecking": Mergeability.UNKNOWN,
}
PIPELINE_STATUS = {
    "created": PipelineStatus.PENDING,
    "waiting_for_resource": PipelineStatus.PENDING,
    "preparing": PipelineStatus.PENDING,
    "pending": PipelineStatus.PENDING,
    "scheduled": PipelineStatus.PENDING,
    "running": PipelineStatus.RUNNING,
    "success": PipelineStatus.SUCCESS,
    "failed": PipelineStatus.FAILED,
    "canceled": PipelineStatus.CANCELED,
    "canceling": PipelineStatus.CANCELED,
    "skipped": PipelineStatus.SKIPPED,
    "manual": PipelineStatus.MANUAL,
}
# "Merge a merge request" refusals GitLab documents: not mergeable (yet), SHA mismatch,
# merge failed, SHA required. Each is asked again at the next run.
AUTO_MERGE_REFUSALS = frozenset({400, 405, 406, 409, 422})


class _Gitlab(gitlab.Gitlab):
    """python-gitlab with its own retry loop off: the session's adapter retries instead, with
    bounded attempts and a cap on Retry-After (python-gitlab would sleep for any Retry-After)."""

    def http_request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["obey_rate_limit"] = False
        kwargs["retry_transient_errors"] = False
        return super().http_request(*args, **kwargs)


class GitLabForge:
    def __init__(
        self,
        config: GitLabConfig,
        token: str | None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        max_retry_after: float = 60.0,
        ca_bundle: str | None = None,
    ) -> None:
        if not config.url or not config.project:
            raise ForgeError("gitlab.url and gitlab.project must be set in the configuration")
        session = requests.Session()
        adapter = HTTPAdapter(
            max_retries=retry_policy(retries, backoff, max_retry_after, methods=None)
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._gl = _Gitlab(
            config.url,
            private_token=token or None,
            timeout=timeout,
            per_page=100,
            session=session,
            ssl_verify=ca_bundle or True,
        )
        self.config = config
        self._project_path: str = config.project
        self._errors = Errors(config.project, config.token_env)
        self._project: Any = None
        self.write_guard: Callable[[], None] | None = None

    @property
    def project(self) -> Any:
        if self._project is None:
            self._project = self._call(
                "find the project", lambda: self._gl.projects.get(self._project_path)
            )
        return self._project

    # --- reading -----------------------------------------------------------------------------

    def target_head(self) -> str:
        branch = self._call(
            f"read branch {self.config.target_branch}",
            lambda: self.project.branches.get(self.config.target_branch),
        )
        return str(branch.commit["id"])

    def download_tree(self, sha: str, destination: Path) -> None:
        """The repository at `sha`, unpacked into `destination` (no clone, one request)."""

        def fetch() -> bytes:
            return bytes(self.project.repository_archive(sha=sha, format="tar.gz"))

        data = self._call(f"download the repository at {sha[:12]}", fetch)
        if len(data) > MAX_ARCHIVE_BYTES:
            raise ForgeError(f"the repository archive is over {MAX_ARCHIVE_BYTES} bytes")
        unpack(data, destination)

    def bot_merge_requests(self, branch_prefix: str) -> list[MergeRequest]:
        def fetch() -> list[Any]:
            return list(
                self.project.mergerequests.list(
                    state="all",
                    target_branch=self.config.target_branch,
                    iterator=True,
                    order_by="created_at",
                    sort="asc",
                )
            )

        found = []
        for mr in self._call("list merge requests", fetch):
            match = MARKER.search(mr.description or "")
            if not mr.source_branch.startswith(branch_prefix) or match is None:
                continue
            found.append(
                MergeRequest(
                    number=mr.iid,
                    recipe=match.group(1),
                    version=match.group(2),
                    state=STATES.get(mr.state, MergeRequestState.LOCKED),
                    branch=mr.source_branch,
                    title=mr.title,
                    description=mr.description or "",
                    web_url=mr.web_url,
                    created_at=datetime.fromisoformat(str(mr.created_at).replace("Z", "+00:00")),
                    sha=getattr(mr, "sha", None),
                )
            )
        return found

    def branch_head(self, branch: str) -> BranchHead | None:
        found = self._branch(branch)
        if found is None:
            return None
        match = TRAILER.search(str(found.commit.get("message") or ""))
        return BranchHead(
            str(found.commit["id"]), match is not None, match.group(2) if match else None
        )

    def merge_request_status(self, number: int) -> MergeRequestStatus:
        # One merge request's own page: lists carry neither head_pipeline nor a fresh status.
        mr = self._call(
            f"read merge request !{number}", lambda: self.project.mergerequests.get(number)
        )
        attributes: dict[str, Any] = mr.attributes
        return MergeRequestStatus(
            mergeability=_mergeability(attributes),
            pipeline=_pipeline(attributes.get("head_pipeline")),
            auto_merge=bool(attributes.get("merge_when_pipeline_succeeds")),
        )

    def find_issues(self, title: str, labels: Sequence[str]) -> list[Issue]:
        def fetch() -> list[Any]:
            return list(
                self.project.issues.list(
                    state="opened",
                    labels=",".join(labels),
                    search=title,
                    iterator=True,
                    order_by="created_at",
                    sort="asc",
                )
            )

        return [
            Issue(issue.iid, issue.title, issue.description or "", issue.web_url)
            for issue in self._call("find the dashboard issue", fetch)
            if issue.title == title
        ]

    # --- writing -----------------------------------------------------------------------------

    def write_branch(
        self, branch: str, edits: Sequence[FileEdit], message: str, *, start_sha: str | None
    ) -> str:
        self._guard()
        actions = [
            {
                "action": "create" if edit.created else "update",
                "file_path": edit.path,
                "content": edit.after,
            }
            for edit in edits
            if edit.changed
        ]
        data: dict[str, Any] = {
            "branch": branch,
            "commit_message": message,
            "actions": actions,
            "force": True,
        }
        if start_sha:
            data["start_sha"] = start_sha
        else:
            data["start_branch"] = self.config.target_branch
        commit = self._call(f"commit to {branch}", lambda: self.project.commits.create(data))
        return str(commit.id)

    def create_merge_request(self, plan: MergeRequestPlan) -> tuple[MergeRequestRef, Outcome]:
        self._guard()
        data = {
            "source_branch": plan.branch,
            "target_branch": self.config.target_branch,
            "title": plan.title,
            "description": plan.description,
            "labels": ",".join(plan.labels),
            "remove_source_branch": True,
        }
        action = f"open a merge request for {plan.branch}"
        try:
            created = self._call(
                action, lambda: self.project.mergerequests.create(data), conflict=409
            )
            return MergeRequestRef(created.iid, created.web_url), "created"
        except ForgeConflict:
            pass
        # 409: a retried create whose first attempt went through, or a run killed after it.
        existing = self._call(
            f"find the merge request for {plan.branch}",
            lambda: self.project.mergerequests.list(
                source_branch=plan.branch, state="opened", get_all=True
            ),
        )
        if not existing:
            raise ForgeError(
                f"GitLab says a merge request for {plan.branch} exists, but none is open"
            )
        self.update_merge_request(existing[0].iid, plan)
        return MergeRequestRef(existing[0].iid, existing[0].web_url), "updated"

    def update_merge_request(self, number: int, plan: MergeRequestPlan) -> Outcome:
        self._guard()

        def update() -> Outcome:
            mr = self.project.mergerequests.get(number)
            wanted_labels = sorted(set(mr.labels) | set(plan.labels))
            if (
                mr.title == plan.title
                and mr.description == plan.description
                and sorted(mr.labels) == wanted_labels
            ):
                return "unchanged"
            mr.title, mr.description, mr.labels = plan.title, plan.description, wanted_labels
            mr.save()
            return "updated"

        return self._call(f"update merge request !{number}", update)

    def close_merge_request(self, number: int, comment: str) -> None:
        self._guard()

        def close() -> None:
            mr = self.project.mergerequests.get(number)
            if mr.state != "opened":
                return
            mr.notes.create({"body": comment})
            mr.state_event = "close"
            mr.save()

        self._call(f"close merge request !{number}", close)

    def enable_auto_merge(self, number: int, sha: str) -> AutoMerge:
        self._guard()
        path = f"/projects/{self.project.id}/merge_requests/{number}/merge"
        # Both spellings: merge_when_pipeline_succeeds (deprecated in 17.11) and auto_merge.
        data = {"merge_when_pipeline_succeeds": True, "auto_merge": True, "sha": sha}
        try:
            reply = self._gl.http_put(path, post_data=data)
        except gitlab.exceptions.GitlabError as exc:
            if exc.response_code in AUTO_MERGE_REFUSALS:
                return AutoMerge(refusal=f"{exc.response_code}: {short(exc.error_message)}")
            raise self._errors.error(f"set auto-merge on !{number}", exc) from None
        except Exception as exc:
            raise self._errors.error(f"set auto-merge on !{number}", exc) from None
        answer: dict[str, Any] = reply if isinstance(reply, dict) else {}
        if answer.get("state") == "merged":
            return AutoMerge(merged=True)
        return AutoMerge(armed=True)

    def create_issue(self, title: str, labels: Sequence[str], description: str) -> Issue:
        self._guard()
        created = self._call(
            "create the dashboard issue",
            lambda: self.project.issues.create(
                {"title": title, "labels": ",".join(labels), "description": description}
            ),
        )
        return Issue(created.iid, created.title, created.description or "", created.web_url)

    def edit_issue(self, number: int, edit: Callable[[str], str]) -> bool:
        """The description is computed from this read, the newest the bot makes, so a box
        ticked up to this moment is seen and kept."""
        self._guard()

        def update() -> bool:
            issue = self.project.issues.get(number)
            current = issue.description or ""
            wanted = edit(current)
            if wanted == current:
                return False
            issue.description = wanted
            issue.save()
            return True

        return self._call(f"update issue #{number}", update)

    def close_issue(self, number: int, comment: str) -> None:
        self._guard()

        def close() -> None:
            issue = self.project.issues.get(number)
            if issue.state == "closed":
                return  # a retry whose first attempt went through: no second note
            issue.state_event = "close"
            issue.save()
            issue.notes.create({"body": comment})

        self._call(f"close issue #{number}", close)

    # --- the lease ---------------------------------------------------------------------------

    def read_lease(self, branch: str, path: str) -> LeaseFile | None:
        found = self._unless_missing(
            "read the lock file", lambda project: project.files.get(file_path=path, ref=branch)
        )
        if found is None:
            head = self._branch(branch)
            return None if head is None else LeaseFile(None, str(head.commit["id"]))
        content = bytes(found.decode()).decode("utf-8", "replace")
        return LeaseFile(content, str(found.last_commit_id))

    def create_lease(self, branch: str, path: str, content: str, message: str) -> str:
        data = {
            "branch": branch,
            "start_branch": self.config.target_branch,
            "commit_message": message,
            "actions": [{"action": "create", "file_path": path, "content": content}],
        }
        return self._commit("create the lock branch", data)

    def replace_lease(
        self, branch: str, path: str, content: str, message: str, *, expected: str
    ) -> str:
        data = {
            "branch": branch,
            "commit_message": message,
            "actions": [
                {
                    "action": "update",
                    "file_path": path,
                    "content": content,
                    "last_commit_id": expected,
                }
            ],
        }
        return self._commit("rewrite the lock file", data)

    def delete_lease(self, branch: str) -> bool:
        def delete(project: Any) -> bool:
            project.branches.delete(branch)
            return True

        return bool(self._unless_missing("delete the lock branch", delete))

    def commit_time(self, sha: str) -> datetime:
        commit = self._call("read a commit", lambda: self.project.commits.get(sha))
        try:
            return datetime.fromisoformat(str(commit.committed_date).replace("Z", "+00:00"))
        except ValueError:  # a date we cannot read: as if just made, so the lease runs a TTL
            return datetime.now(UTC)

    # --- plumbing ----------------------------------------------------------------------------

    def _commit(self, action: str, data: dict[str, Any]) -> str:
        commit = self._call(action, lambda: self.project.commits.create(data), conflict=REFUSED)
        return str(commit.id)

    def _branch(self, branch: str) -> Any:
        """The branch as python-gitlab gives it, None when there is none."""
        return self._unless_missing(
            f"read branch {branch}", lambda project: project.branches.get(branch)
        )

    def _unless_missing(self, action: str, function: Callable[[Any], T]) -> T | None:
        """`function(project)`, or None when GitLab answers 404 (the project is found first:
        its own 404 means a missing project, not a missing branch or file)."""
        project = self.project
        try:
            return function(project)
        except gitlab.exceptions.GitlabError as exc:
            if exc.response_code == 404:
                return None
            raise self._errors.error(action, exc) from None
        except Exception as exc:
            raise self._errors.error(action, exc) from None

    def _guard(self) -> None:
        if self.write_guard is not None:
            self.write_guard()

    def _call(self, action: str, function: Callable[[], T], *, conflict: int | None = None) -> T:
        return self._errors.call(action, function, conflict=conflict)


def _mergeability(attributes: dict[str, Any]) -> Mergeability:
    detailed = attributes.get("detailed_merge_status")
    known = MERGEABILITY.get(detailed) if isinstance(detailed, str) else None
    if known is Mergeability.UNKNOWN:
        return known  # has_conflicts is the previous answer while GitLab computes a new one
    if attributes.get("has_conflicts"):
        return Mergeability.CONFLICT  # also when another word (a running pipeline) comes first
    if isinstance(detailed, str):
        return known or Mergeability.BLOCKED
    return LEGACY_MERGEABILITY.get(str(attributes.get("merge_status")), Mergeability.UNKNOWN)


def _pipeline(data: Any) -> Pipeline | None:
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        return None
    status = PIPELINE_STATUS.get(data["status"], PipelineStatus.PENDING)
    url = data.get("web_url")
    return Pipeline(status, url if isinstance(url, str) else None)
