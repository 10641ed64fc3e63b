"""What the run needs of a forge, in neutral terms: branches, commits, merge requests, the
dashboard issue and the run lock's lease. GitLab (bot.forge.gitlab) is one implementation;
the planner and the run speak only this.

Every write calls `write_guard` first (the run lock sets it, to refuse writes once the lock
is no longer surely ours), except the lease verbs, which are how that lock is kept. Verbs are
idempotent and say what they did; failures are ForgeError, and a refusal that is part of the
ordinary course (a lease branch that exists already, a file changed since the commit a write
was conditional on) is ForgeConflict, which callers expect and handle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol

from bot.errors import ForgeError
from bot.model import FileEdit, MergeRequestPlan

Outcome = Literal["created", "updated", "unchanged"]


class MergeRequestState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # closed without merging: its version was rejected
    MERGED = "merged"
    LOCKED = "locked"  # being merged, or frozen: neither open nor rejected


@dataclass(frozen=True)
class MergeRequest:
    """One of the bot's merge requests (any state), found by its branch and hidden marker."""

    number: int
    recipe: str
    version: str
    state: MergeRequestState
    branch: str
    title: str
    description: str
    web_url: str
    created_at: datetime
    sha: str | None  # head of the source branch

    @property
    def is_open(self) -> bool:
        return self.state is MergeRequestState.OPEN


class Mergeability(StrEnum):
    """Whether the forge could merge a merge request now, in the terms the bot acts on."""

    MERGEABLE = "mergeable"
    CONFLICT = "conflict"  # the target changed the same or adjacent lines
    BEHIND = "behind"  # the target moved on and the project merges by fast-forward only
    UNKNOWN = "unknown"  # not computed yet (forges compute it asynchronously): look next run
    BLOCKED = "blocked"  # held by something else (draft, approvals, a running pipeline)


class PipelineStatus(StrEnum):
    PENDING = "pending"  # created, waiting, scheduled, preparing: not started
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELED = "canceled"
    SKIPPED = "skipped"
    MANUAL = "manual"


@dataclass(frozen=True)
class Pipeline:
    status: PipelineStatus
    web_url: str | None = None


@dataclass(frozen=True)
class MergeRequestStatus:
    """What the forge says of an open merge request now: mergeable?, its pipeline, auto-merge."""

    mergeability: Mergeability = Mergeability.UNKNOWN
    pipeline: Pipeline | None = None  # of the source branch's head; None when there is none
    auto_merge: bool = False  # set to merge when its pipeline succeeds


@dataclass(frozen=True)
class AutoMerge:
    """What asking for auto-merge did: armed (waits for the pipeline), merged at once, or
    refused with the forge's words (not mergeable yet, another head, ...): asked again next run."""

    armed: bool = False
    merged: bool = False
    refusal: str | None = None


@dataclass(frozen=True)
class MergeRequestRef:
    """What a merge request is known by once opened: its number and its page."""

    number: int
    web_url: str


@dataclass(frozen=True)
class BranchHead:
    sha: str
    bot_made: bool  # the head commit carries the bot's trailer
    version: str | None  # the version that trailer names


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    description: str
    web_url: str


@dataclass(frozen=True)
class LeaseFile:
    """The lock's file on its branch. Without the file (a branch someone made by hand),
    `content` is None and `commit` is the branch head."""

    content: str | None
    commit: str  # the last commit that touched the file (or the branch head, without it)


class ForgeConflict(ForgeError):
    """A conditional write was refused: the branch exists, or the file changed since."""


class Forge(Protocol):
    write_guard: Callable[[], None] | None

    # --- reading ------------------------------------------------------------------------------
    def target_head(self) -> str:
        """The commit at the head of the target branch."""
        ...

    def download_tree(self, sha: str, destination: Path) -> None:
        """The repository at `sha`, unpacked into `destination`."""
        ...

    def bot_merge_requests(self, branch_prefix: str) -> list[MergeRequest]:
        """Every merge request, any state, whose branch and marker say it is the bot's."""
        ...

    def branch_head(self, branch: str) -> BranchHead | None:
        """The branch's head commit, None when there is no such branch."""
        ...

    def merge_request_status(self, number: int) -> MergeRequestStatus:
        """Mergeability, head pipeline and auto-merge of an open merge request."""
        ...

    def find_issues(self, title: str, labels: Sequence[str]) -> list[Issue]:
        """Every open issue with exactly this title among those with the labels, oldest first."""
        ...

    # --- writing (each calls write_guard first) ---------------------------------------------
    def write_branch(
        self, branch: str, edits: Sequence[FileEdit], message: str, *, start_sha: str | None
    ) -> str:
        """Make `branch` one commit (the bot's) on top of the target; the new head."""
        ...

    def create_merge_request(self, plan: MergeRequestPlan) -> tuple[MergeRequestRef, Outcome]:
        """Open it; one already open for the branch (a retried create) is adopted, "updated"."""
        ...

    def update_merge_request(self, number: int, plan: MergeRequestPlan) -> Outcome: ...

    def close_merge_request(self, number: int, comment: str) -> None: ...

    def enable_auto_merge(self, number: int, sha: str) -> AutoMerge:
        """Merge when the pipeline succeeds, if the head is still `sha`. A refusal the forge
        documents is returned, not raised: it is asked again at the next run."""
        ...

    def create_issue(self, title: str, labels: Sequence[str], description: str) -> Issue: ...

    def edit_issue(self, number: int, edit: Callable[[str], str]) -> bool:
        """Write `edit(the description as read now)` if that changes it; True when it did."""
        ...

    def close_issue(self, number: int, comment: str) -> None: ...

    # --- the run lock's lease (bot.lock); never guarded --------------------------------------
    def read_lease(self, branch: str, path: str) -> LeaseFile | None:
        """The lease file on `branch`, None when there is no such branch."""
        ...

    def create_lease(self, branch: str, path: str, content: str, message: str) -> str:
        """Create `branch` from the target with this one file; ForgeConflict if it exists.
        Returns the commit."""
        ...

    def replace_lease(
        self, branch: str, path: str, content: str, message: str, *, expected: str
    ) -> str:
        """Rewrite the file, unless its last commit is no longer `expected` (ForgeConflict).
        Returns the commit."""
        ...

    def delete_lease(self, branch: str) -> bool:
        """Delete the lease branch; False when it was already gone."""
        ...

    def commit_time(self, sha: str) -> datetime:
        """When a commit was made (for a lease whose file cannot be read)."""
        ...
