"""One fake GitLab project: its repository, merge requests, issues and notes, and the things a
human does to them outside the API (pushing, ticking a box, merging, closing).

Every public method takes the server's lock, so a test may call it at any time, also from an
``on_request`` hook while the code under test is in the middle of a run.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .repository import Clock, Commit, Person, Repository, three_way_merge


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str
    email: str

    @property
    def person(self) -> Person:
        return Person(self.name, self.email)


@dataclass
class Note:
    id: int
    body: str
    author: User
    created_at: datetime
    updated_at: datetime
    system: bool = False


@dataclass
class Item:
    """What issues and merge requests share: GitLab keeps both in the same shape of table."""

    id: int
    iid: int
    title: str
    description: str | None
    author: User
    created_at: datetime
    updated_at: datetime
    labels: list[str] = field(default_factory=list)
    state: str = "opened"
    closed_at: datetime | None = None
    notes: list[Note] = field(default_factory=list)


@dataclass
class Issue(Item):
    pass


@dataclass
class MergeRequest(Item):
    source_branch: str = ""
    target_branch: str = ""
    remove_source_branch: bool = False
    sha: str | None = None  # source head, frozen when the merge request stops being open
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None
    merged_by: User | None = None
    closed_by: User | None = None


class Ids:
    """Instance-wide id sequences: ids are unique across projects, iids only within one."""

    def __init__(self) -> None:
        self.projects = itertools.count(1)
        self.merge_requests = itertools.count(101)
        self.issues = itertools.count(201)
        self.notes = itertools.count(301)


class MergeConflict(Exception):
    pass


class FakeProject:
    def __init__(
        self,
        *,
        project_id: int,
        path_with_namespace: str,
        default_branch: str,
        clock: Clock,
        ids: Ids,
        lock: threading.RLock,
        human: User,
    ) -> None:
        self.id = project_id
        self.path_with_namespace = path_with_namespace
        self.default_branch = default_branch
        self.repo = Repository(clock)
        self.merge_requests: dict[int, MergeRequest] = {}
        self.issues: dict[int, Issue] = {}
        self.clock = clock
        self.ids = ids
        self.lock = lock
        self.human = human
        self._iids = {"merge_requests": itertools.count(1), "issues": itertools.count(1)}

    @property
    def path(self) -> str:
        return self.path_with_namespace.rsplit("/", 1)[-1]

    # --- set-up and human actions (thread-safe) ---------------------------------------------

    def seed_files(
        self, files: Mapping[str, str], message: str = "Seed files", branch: str | None = None
    ) -> str:
        """Commit ``files`` on top of ``branch`` (default branch) and return the commit id;
        files not named are kept."""
        return self.push_to_branch(
            branch or self.default_branch, files, author="Seeder", message=message
        )

    def push_to_branch(
        self,
        branch: str,
        files: Mapping[str, str | None],
        author: str = "Human",
        message: str | None = None,
        email: str | None = None,
    ) -> str:
        """What ``git push`` by someone else does: one commit on ``branch`` (created from the
        default branch when missing); a ``None`` content deletes the file. Returns the sha."""
        with self.lock:
            start = self.repo.head(branch) or self.repo.head(self.default_branch)
            snapshot = dict(start.files) if start else {}
            for path, text in files.items():
                if text is None:
                    snapshot.pop(path, None)
                else:
                    snapshot[path] = text
            person = Person(author, email or f"{_slug(author)}@example.com")
            commit = self.repo.make_commit(
                (start.id,) if start else (), snapshot, message or f"Edit by {author}", person
            )
            self.repo.branches[branch] = commit.id
            return commit.id

    def tick_box(self, issue_iid: int, marker: str) -> None:
        """Tick ``- [ ] <!-- marker -->`` in an issue description, as clicking it in the UI does."""
        with self.lock:
            issue = self.issue(issue_iid)
            pattern = re.compile(
                r"^(\s*[-*] )\[ \](\s*<!--\s*" + re.escape(marker) + r"\s*-->)", re.M
            )
            ticked, count = pattern.subn(r"\1[x]\2", issue.description or "")
            if not count:
                raise LookupError(f"issue #{issue_iid} has no unticked box <!-- {marker} -->")
            issue.description = ticked
            issue.updated_at = self.clock()

    def close_merge_request(self, iid: int) -> None:
        with self.lock:
            self.close(self.merge_request(iid), self.human)

    def merge_merge_request(self, iid: int) -> str:
        """Merge as a maintainer would from the UI; returns the merge commit id."""
        with self.lock:
            return self.merge(self.merge_request(iid), self.human).id

    def comment(self, kind: str, iid: int, body: str) -> Note:
        """A human note on ``"issue"`` or ``"merge_request"`` ``iid``."""
        with self.lock:
            item: Item = self.issue(iid) if kind == "issue" else self.merge_request(iid)
            return self.add_note(item, body, self.human)

    # --- look-ups used by tests and routes ----------------------------------------------------

    def file(self, path: str, ref: str | None = None) -> str | None:
        with self.lock:
            commit = self.repo.resolve(ref or self.default_branch)
            return None if commit is None else commit.files.get(path)

    def branch_head(self, branch: str) -> str | None:
        with self.lock:
            return self.repo.branches.get(branch)

    def merge_request(self, iid: int) -> MergeRequest:
        return self.merge_requests[iid]

    def issue(self, iid: int) -> Issue:
        return self.issues[iid]

    def open_merge_request_for(
        self, source_branch: str, exclude_iid: int | None = None
    ) -> MergeRequest | None:
        return next(
            (
                mr
                for mr in self.merge_requests.values()
                if mr.state == "opened"
                and mr.source_branch == source_branch
                and mr.iid != exclude_iid
            ),
            None,
        )

    def current_sha(self, mr: MergeRequest) -> str | None:
        """An open merge request follows its source branch; a closed or merged one is frozen."""
        if mr.state == "opened":
            return self.repo.branches.get(mr.source_branch, mr.sha)
        return mr.sha

    def conflicts(self, mr: MergeRequest) -> list[str]:
        source, target = self.repo.head(mr.source_branch), self.repo.head(mr.target_branch)
        if source is None or target is None:
            return []
        base = self.repo.merge_base(source, target)
        return three_way_merge(base.files if base else {}, target.files, source.files)[1]

    # --- state changes shared by routes and human actions (caller holds the lock) ------------

    def new_iid(self, kind: str) -> int:
        return next(self._iids[kind])

    def add_note(self, item: Item, body: str, author: User) -> Note:
        now = self.clock()
        note = Note(next(self.ids.notes), body, author, now, now)
        item.notes.append(note)
        item.updated_at = now  # GitLab touches the noteable when a note is added
        return note

    def close(self, item: Item, by: User) -> None:
        if item.state != "opened":
            return
        if isinstance(item, MergeRequest):
            item.sha = self.current_sha(item)
            item.closed_by = by
        item.state, item.closed_at = "closed", self.clock()
        item.updated_at = item.closed_at

    def reopen(self, item: Item) -> None:
        if item.state != "closed":
            return  # a merged merge request cannot be reopened; GitLab ignores the event
        item.state, item.closed_at, item.updated_at = "opened", None, self.clock()
        if isinstance(item, MergeRequest):
            item.closed_by = None

    def merge(self, mr: MergeRequest, by: User) -> Commit:
        """A merge commit on the target branch (GitLab's default merge method)."""
        source, target = self.repo.head(mr.source_branch), self.repo.head(mr.target_branch)
        if mr.state != "opened" or source is None or target is None:
            raise MergeConflict(f"!{mr.iid} is {mr.state} or lost a branch")
        base = self.repo.merge_base(source, target)
        files, conflicts = three_way_merge(base.files if base else {}, target.files, source.files)
        if conflicts:
            raise MergeConflict(f"!{mr.iid} conflicts in {', '.join(conflicts)}")
        message = (
            f"Merge branch '{mr.source_branch}' into '{mr.target_branch}'\n\n{mr.title}\n\n"
            f"See merge request {self.path_with_namespace}!{mr.iid}"
        )
        commit = self.repo.make_commit((target.id, source.id), files, message, by.person)
        self.repo.branches[mr.target_branch] = commit.id
        now = self.clock()
        mr.state, mr.sha, mr.merge_commit_sha = "merged", source.id, commit.id
        mr.merged_at, mr.updated_at, mr.merged_by = now, now, by
        if mr.remove_source_branch:
            self.repo.branches.pop(mr.source_branch, None)
        return commit

    def items(self, kind: str) -> Iterator[Item]:
        store: Mapping[int, Item] = self.issues if kind == "issues" else self.merge_requests
        return iter(list(store.values()))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".") or "someone"
