"""The forge: GitLab through python-gitlab. Branches, commits, merge requests, the dashboard issue.

GitLab is the state. The bot's merge requests are found by branch prefix and the hidden marker
`<!-- recipe-bot: recipe=<recipe> version=<version> -->` (never by author, so a new token loses
nothing); the bot's commits carry a `Recipe-Bot:` trailer, so a branch whose head lacks it has
been pushed to by someone else. Verbs are idempotent and say what they did (created / updated /
unchanged); a create that GitLab answers with "already exists" (a retried request whose first
attempt went through) is a success.

Every call has a timeout and bounded retries on 5xx/429 (honouring Retry-After up to a cap).
Failures surface as ForgeError; the token never appears in one.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypeVar

import gitlab
import gitlab.exceptions
import requests
from requests.adapters import HTTPAdapter

from bot.config import GitLabConfig
from bot.errors import ForgeError
from bot.http import HostRateLimited, retry_policy
from bot.model import FileEdit, MergeRequestPlan

Outcome = Literal["created", "updated", "unchanged"]
T = TypeVar("T")

MARKER = re.compile(r"<!-- recipe-bot: recipe=([A-Za-z0-9._+-]+) version=(\S+?) -->")
TRAILER = re.compile(r"^Recipe-Bot: recipe=([A-Za-z0-9._+-]+) version=(\S+)$", re.MULTILINE)
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024


def marker(recipe: str, version: str) -> str:
    return f"<!-- recipe-bot: recipe={recipe} version={version} -->"


def trailer(recipe: str, version: str) -> str:
    return f"Recipe-Bot: recipe={recipe} version={version}"


@dataclass(frozen=True)
class BotMergeRequest:
    iid: int
    recipe: str
    version: str
    state: str  # opened, closed, merged, locked
    branch: str
    title: str
    description: str
    web_url: str
    created_at: datetime
    sha: str | None  # head of the source branch


@dataclass(frozen=True)
class BranchHead:
    sha: str
    bot_made: bool  # the head commit carries our trailer
    version: str | None  # the version that trailer names


@dataclass(frozen=True)
class Issue:
    iid: int
    title: str
    description: str
    web_url: str


class _Gitlab(gitlab.Gitlab):
    """python-gitlab with its own retry loop off: the session's adapter retries instead, with
    bounded attempts and a cap on Retry-After (python-gitlab would sleep for any Retry-After)."""

    def http_request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["obey_rate_limit"] = False
        kwargs["retry_transient_errors"] = False
        return super().http_request(*args, **kwargs)


class Forge:
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
        self._project: Any = None
        # Called before every write; the run lock sets it to refuse writes once it is lost.
        self.write_guard: Callable[[], None] | None = None

    # --- reading -----------------------------------------------------------------------------

    @property
    def project(self) -> Any:
        if self._project is None:
            self._project = self._call(
                "find the project", lambda: self._gl.projects.get(self._project_path)
            )
        return self._project

    def target_sha(self) -> str:
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
        _unpack(data, destination)

    def bot_merge_requests(self, branch_prefix: str) -> list[BotMergeRequest]:
        """Every merge request (any state) whose branch and marker say it is the bot's."""

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
                BotMergeRequest(
                    iid=mr.iid,
                    recipe=match.group(1),
                    version=match.group(2),
                    state=mr.state,
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
        try:
            found = self.project.branches.get(branch)
        except gitlab.exceptions.GitlabGetError as exc:
            if exc.response_code == 404:
                return None
            raise self._error(f"read branch {branch}", exc) from None
        except Exception as exc:
            raise self._error(f"read branch {branch}", exc) from None
        message = str(found.commit.get("message") or "")
        match = TRAILER.search(message)
        return BranchHead(
            str(found.commit["id"]), match is not None, match.group(2) if match else None
        )

    # --- writing -----------------------------------------------------------------------------

    def write_branch(
        self, branch: str, edits: Sequence[FileEdit], message: str, *, start_sha: str | None
    ) -> str:
        """Make `branch` one commit (ours) on top of the target: created, or force-replaced."""
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

    def create_merge_request(self, plan: MergeRequestPlan) -> tuple[int, str, Outcome]:
        """Open the merge request; if one is already open for the branch, adopt it."""
        self._guard()
        data = {
            "source_branch": plan.branch,
            "target_branch": self.config.target_branch,
            "title": plan.title,
            "description": plan.description,
            "labels": ",".join(plan.labels),
            "remove_source_branch": True,
        }
        try:
            created = self.project.mergerequests.create(data)
            return created.iid, created.web_url, "created"
        except gitlab.exceptions.GitlabCreateError as exc:
            if exc.response_code != 409:
                raise self._error(f"open a merge request for {plan.branch}", exc) from None
        except Exception as exc:
            raise self._error(f"open a merge request for {plan.branch}", exc) from None
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
        return existing[0].iid, existing[0].web_url, "updated"

    def update_merge_request(self, iid: int, plan: MergeRequestPlan) -> Outcome:
        self._guard()
        def update() -> Outcome:
            mr = self.project.mergerequests.get(iid)
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

        return self._call(f"update merge request !{iid}", update)

    def close_merge_request(self, iid: int, comment: str) -> None:
        self._guard()
        def close() -> None:
            mr = self.project.mergerequests.get(iid)
            if mr.state != "opened":
                return
            mr.notes.create({"body": comment})
            mr.state_event = "close"
            mr.save()

        self._call(f"close merge request !{iid}", close)

    # --- the dashboard -----------------------------------------------------------------------

    def find_issue(self, title: str, labels: Sequence[str]) -> Issue | None:
        """The open issue with exactly this title among those with the labels (oldest wins)."""
        found = self.find_issues(title, labels)
        return found[0] if found else None

    def find_issues(self, title: str, labels: Sequence[str]) -> list[Issue]:
        """Every open issue with exactly this title among those with the labels, oldest first."""

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

    def create_issue(self, title: str, labels: Sequence[str], description: str) -> Issue:
        self._guard()
        created = self._call(
            "create the dashboard issue",
            lambda: self.project.issues.create(
                {"title": title, "labels": ",".join(labels), "description": description}
            ),
        )
        return Issue(created.iid, created.title, created.description or "", created.web_url)

    def edit_issue(self, iid: int, edit: Callable[[str], str]) -> bool:
        """Write `edit(the description as read now)`, if it changes it; True when it did.

        The description is computed from this read, the newest the bot makes, so a box
        ticked up to this moment is seen and kept.
        """
        self._guard()

        def update() -> bool:
            issue = self.project.issues.get(iid)
            current = issue.description or ""
            wanted = edit(current)
            if wanted == current:
                return False
            issue.description = wanted
            issue.save()
            return True

        return self._call(f"update issue #{iid}", update)

    def close_issue(self, iid: int, comment: str) -> None:
        self._guard()
        def close() -> None:
            issue = self.project.issues.get(iid)
            if issue.state == "closed":
                return  # a retry whose first attempt went through: no second note
            issue.state_event = "close"
            issue.save()
            issue.notes.create({"body": comment})

        self._call(f"close issue #{iid}", close)

    def _guard(self) -> None:
        if self.write_guard is not None:
            self.write_guard()

    # --- errors ------------------------------------------------------------------------------

    def _call(self, action: str, function: Callable[[], T]) -> T:
        try:
            return function()
        except ForgeError:
            raise
        except Exception as exc:
            raise self._error(action, exc) from None

    def _error(self, action: str, exc: Exception) -> ForgeError:
        if isinstance(exc, gitlab.exceptions.GitlabAuthenticationError):
            return ForgeError(
                f"GitLab refused the token while trying to {action} (401): "
                f"check {self.config.token_env}"
            )
        if isinstance(exc, gitlab.exceptions.GitlabError):
            code = exc.response_code
            if code == 404 and action == "find the project":
                return ForgeError(
                    f"GitLab project {self.config.project!r} not found (or the token cannot see it)"
                )
            if code == 403:
                return ForgeError(
                    f"GitLab forbade the bot to {action} (403): "
                    "the token needs the api scope and the Developer role"
                )
            return ForgeError(f"GitLab could not {action}: {code}: {_short(exc.error_message)}")
        if isinstance(exc, requests.exceptions.RetryError | HostRateLimited):
            return ForgeError(f"GitLab is not answering ({action}): rate-limited or overloaded")
        if isinstance(exc, requests.RequestException):
            return ForgeError(f"GitLab is unreachable ({action}): {type(exc).__name__}")
        return ForgeError(f"GitLab call failed ({action}): {type(exc).__name__}: {_short(exc)}")


def _short(value: object) -> str:
    return " ".join(str(value).split())[:300]


def _unpack(data: bytes, destination: Path) -> None:
    """Extract a GitLab archive, dropping its top folder; the 'data' filter refuses links out,
    absolute paths and device files."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = []
        for member in archive.getmembers():
            parts = PurePosixPath(member.name).parts
            if len(parts) < 2:
                continue
            member.name = str(PurePosixPath(*parts[1:]))
            members.append(member)
        archive.extractall(destination, members=members, filter="data")
