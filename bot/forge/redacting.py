"""A Forge whose prose goes through the log redactor before it is written.

Logs and everything the commands print are scrubbed (bot.log); what the bot writes to the
forge is read by people too: the dashboard lists each failure's message, and a message can
carry what an upstream or GitLab echoed back (a token in a URL, `Authorization: Bearer ...`).
This wrapper scrubs every text a write sends as prose: merge request titles and descriptions,
commit messages, comments, the dashboard's description. File contents are not prose: a
recipe's text is committed as it is. Reads and the run lock's lease pass straight through.

Scrubbing is a pure function of the text, so an unchanged dashboard or merge request scrubs to
the same text again and its write stays a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from bot.forge.api import (
    AutoMerge,
    BranchHead,
    Forge,
    Issue,
    LeaseFile,
    MergeRequest,
    MergeRequestRef,
    MergeRequestStatus,
    Outcome,
)
from bot.log import Redactor
from bot.model import FileEdit, MergeRequestPlan


class RedactingForge:
    """`inner`, with the prose of its writes scrubbed by `redactor`."""

    def __init__(self, inner: Forge, redactor: Redactor) -> None:
        self._inner = inner
        self._scrub = redactor.scrub

    @property
    def write_guard(self) -> Callable[[], None] | None:
        return self._inner.write_guard

    @write_guard.setter
    def write_guard(self, guard: Callable[[], None] | None) -> None:
        self._inner.write_guard = guard  # the inner forge's writes are the guarded ones

    # --- reading ------------------------------------------------------------------------------
    def target_head(self) -> str:
        return self._inner.target_head()

    def download_tree(self, sha: str, destination: Path) -> None:
        self._inner.download_tree(sha, destination)

    def bot_merge_requests(self, branch_prefix: str) -> list[MergeRequest]:
        return self._inner.bot_merge_requests(branch_prefix)

    def branch_head(self, branch: str) -> BranchHead | None:
        return self._inner.branch_head(branch)

    def merge_request_status(self, number: int) -> MergeRequestStatus:
        return self._inner.merge_request_status(number)

    def find_issues(self, title: str, labels: Sequence[str]) -> list[Issue]:
        return self._inner.find_issues(title, labels)

    # --- writing: prose scrubbed --------------------------------------------------------------
    def write_branch(
        self, branch: str, edits: Sequence[FileEdit], message: str, *, start_sha: str | None
    ) -> str:
        return self._inner.write_branch(branch, edits, self._scrub(message), start_sha=start_sha)

    def create_merge_request(self, plan: MergeRequestPlan) -> tuple[MergeRequestRef, Outcome]:
        return self._inner.create_merge_request(self._plan(plan))

    def update_merge_request(self, number: int, plan: MergeRequestPlan) -> Outcome:
        return self._inner.update_merge_request(number, self._plan(plan))

    def close_merge_request(self, number: int, comment: str) -> None:
        self._inner.close_merge_request(number, self._scrub(comment))

    def enable_auto_merge(self, number: int, sha: str) -> AutoMerge:
        return self._inner.enable_auto_merge(number, sha)

    def create_issue(self, title: str, labels: Sequence[str], description: str) -> Issue:
        return self._inner.create_issue(self._scrub(title), labels, self._scrub(description))

    def edit_issue(self, number: int, edit: Callable[[str], str]) -> bool:
        return self._inner.edit_issue(number, lambda current: self._scrub(edit(current)))

    def close_issue(self, number: int, comment: str) -> None:
        self._inner.close_issue(number, self._scrub(comment))

    # --- the run lock's lease: as it is -------------------------------------------------------
    def read_lease(self, branch: str, path: str) -> LeaseFile | None:
        return self._inner.read_lease(branch, path)

    def create_lease(self, branch: str, path: str, content: str, message: str) -> str:
        return self._inner.create_lease(branch, path, content, message)

    def replace_lease(
        self, branch: str, path: str, content: str, message: str, *, expected: str
    ) -> str:
        return self._inner.replace_lease(branch, path, content, message, expected=expected)

    def delete_lease(self, branch: str) -> bool:
        return self._inner.delete_lease(branch)

    def commit_time(self, sha: str) -> datetime:
        return self._inner.commit_time(sha)

    def _plan(self, plan: MergeRequestPlan) -> MergeRequestPlan:
        return replace(
            plan,
            title=self._scrub(plan.title),
            description=self._scrub(plan.description),
            commit_message=self._scrub(plan.commit_message),
        )
