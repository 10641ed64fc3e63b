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

from .mergeability import UNCHECKED, Mergeability, assess
from .pipelines import ACTIVE, Pipeline
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
    auto_merge_by: User | None = None  # set while "merge when pipeline succeeds" is armed
    checked_heads: tuple[str | None, str | None] | None = None  # (source, target) last assessed


class Ids:
    """Instance-wide id sequences: ids are unique across projects, iids only within one."""

    def __init__(self) -> None:
        self.projects = itertools.count(1)
        self.merge_requests = itertools.count(101)
        self.issues = itertools.count(201)
        self.notes = itertools.count(301)
        self.pipelines = itertools.count(401)


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
        self._iids = {
            "merge_requests": itertools.count(1),
            "issues": itertools.count(1),
            "pipelines": itertools.count(1),
        }
        self.pipelines: dict[int, Pipeline] = {}
        # Project settings a test may flip; GitLab's names, GitLab's defaults.
        self.merge_method = "merge"  # or "ff": merge only when the source is on the target head
        self.only_allow_merge_if_pipeline_succeeds = False
        self.async_mergeability = False  # first read after a head moves says "unchecked"
        self.auto_pipelines = False  # every push to a non-default branch starts a pipeline
        self.require_sha = False  # merges must name the source head they were checked against
        self.repo.on_move = self._branch_moved

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
            self.repo.set_branch(branch, commit.id)
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

    def set_pipeline(self, ref_or_sha: str, status: str, *, new: bool = False) -> int:
        """Report ``status`` for the newest pipeline of a commit (a branch name means its head),
        creating one when the commit has none or ``new`` is set; returns the pipeline id. An
        armed auto-merge of that head merges on success and is cancelled on failed/canceled."""
        with self.lock:
            commit = self.repo.resolve(ref_or_sha)
            if commit is None:
                raise LookupError(f"no branch or commit {ref_or_sha!r}")
            ref = ref_or_sha if ref_or_sha in self.repo.branches else self._ref_of(commit.id)
            existing = self.pipelines_for(commit.id)
            if existing and not new:
                pipeline = existing[0]
                pipeline.set_status(status, self.clock())
            else:
                pipeline = self._new_pipeline(commit.id, ref, status)
            self._pipeline_changed(pipeline)
            return pipeline.id

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

    def pipelines_for(self, sha: str) -> list[Pipeline]:
        """Pipelines of one commit, newest first."""
        found = (pipeline for pipeline in self.pipelines.values() if pipeline.sha == sha)
        return sorted(found, key=lambda pipeline: pipeline.id, reverse=True)

    def head_pipeline(self, mr: MergeRequest) -> Pipeline | None:
        """GitLab's ``head_pipeline``: the newest pipeline of the source head."""
        sha = self.current_sha(mr)
        pipelines = self.pipelines_for(sha) if sha else []
        return pipelines[0] if pipelines else None

    def mr_commits(self, mr: MergeRequest) -> set[str]:
        """The merge request's own commits: on its source head, not on its target."""
        source = self.repo.commits.get(self.current_sha(mr) or "")
        target = self.repo.head(mr.target_branch)
        merge = self.repo.commits.get(mr.merge_commit_sha or "")
        if merge is not None and len(merge.parent_ids) == 2:
            target = self.repo.commits[merge.parent_ids[0]]  # the target as it was when merged
        if source is None:
            return set()
        base = self.repo.merge_base(source, target) if target is not None else None
        return self.repo.ancestors(source) - self.repo.ancestors(base)

    def behind_target(self, mr: MergeRequest) -> bool:
        source, target = self.repo.head(mr.source_branch), self.repo.head(mr.target_branch)
        return (
            source is not None
            and target is not None
            and not self.repo.is_ancestor(target.id, source)
        )

    def diverged_commits_count(self, mr: MergeRequest) -> int:
        """Commits on the target that the source does not have (GitLab's "behind" count)."""
        source, target = self.repo.head(mr.source_branch), self.repo.head(mr.target_branch)
        if mr.state != "opened" or source is None or target is None:
            return 0
        return len(self.repo.ancestors(target) - self.repo.ancestors(source))

    def mergeability(self, mr: MergeRequest) -> Mergeability:
        """What a read of the merge request reports. With ``async_mergeability`` the first read
        after either head moved only starts GitLab's background check and says "unchecked"."""
        if mr.state == "opened" and self.async_mergeability:
            heads = (
                self.repo.branches.get(mr.source_branch),
                self.repo.branches.get(mr.target_branch),
            )
            if mr.checked_heads != heads:
                mr.checked_heads = heads
                return UNCHECKED
        return assess(self, mr)

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

    def arm_auto_merge(self, mr: MergeRequest, by: User) -> None:
        mr.auto_merge_by, mr.updated_at = by, self.clock()

    def disarm_auto_merge(self, mr: MergeRequest) -> None:
        if mr.auto_merge_by is not None:
            mr.auto_merge_by, mr.updated_at = None, self.clock()

    def _new_pipeline(self, sha: str, ref: str, status: str) -> Pipeline:
        now = self.clock()
        has_mr = self.open_merge_request_for(ref) is not None
        pipeline = Pipeline(
            id=next(self.ids.pipelines),
            iid=self.new_iid("pipelines"),
            project_id=self.id,
            sha=sha,
            ref=ref,
            status="created",
            source="merge_request_event" if has_mr else "push",
            created_at=now,
            updated_at=now,
        )
        pipeline.set_status(status, now)
        self.pipelines[pipeline.id] = pipeline
        return pipeline

    def _ref_of(self, sha: str) -> str:
        """The branch a bare sha was pushed to, preferring a non-default branch at that head."""
        heads = [name for name, head in self.repo.branches.items() if head == sha]
        others = [name for name in heads if name != self.default_branch]
        return (others or heads or [self.default_branch])[0]

    def _branch_moved(self, branch: str, old: str | None, new: str) -> None:
        for mr in list(self.merge_requests.values()):
            if mr.state == "opened" and mr.source_branch == branch and old is not None:
                self.disarm_auto_merge(mr)  # new commits cancel auto-merge, as in GitLab
        if self.auto_pipelines and branch != self.default_branch and not self.pipelines_for(new):
            self._new_pipeline(new, branch, "running")

    def _pipeline_changed(self, pipeline: Pipeline) -> None:
        for mr in list(self.merge_requests.values()):
            by = mr.auto_merge_by
            if mr.state != "opened" or by is None or self.head_pipeline(mr) is not pipeline:
                continue
            if pipeline.status in ACTIVE:
                continue
            if pipeline.status == "success" or (
                pipeline.status == "skipped" and not self.only_allow_merge_if_pipeline_succeeds
            ):
                try:
                    self.merge(mr, by)
                except MergeConflict:
                    self.disarm_auto_merge(mr)
            else:
                self.disarm_auto_merge(mr)

    def merge(self, mr: MergeRequest, by: User) -> Commit:
        """A merge commit on the target branch (GitLab's default merge method), or a
        fast-forward when the project's ``merge_method`` is "ff" (refused when behind)."""
        source, target = self.repo.head(mr.source_branch), self.repo.head(mr.target_branch)
        if mr.state != "opened" or source is None or target is None:
            raise MergeConflict(f"!{mr.iid} is {mr.state} or lost a branch")
        if self.merge_method == "ff":
            if self.behind_target(mr):
                raise MergeConflict(f"!{mr.iid} must be rebased before a fast-forward merge")
            self._mark_merged(mr, source, source, by)
            return source
        base = self.repo.merge_base(source, target)
        files, conflicts = three_way_merge(base.files if base else {}, target.files, source.files)
        if conflicts:
            raise MergeConflict(f"!{mr.iid} conflicts in {', '.join(conflicts)}")
        message = (
            f"Merge branch '{mr.source_branch}' into '{mr.target_branch}'\n\n{mr.title}\n\n"
            f"See merge request {self.path_with_namespace}!{mr.iid}"
        )
        commit = self.repo.make_commit((target.id, source.id), files, message, by.person)
        self._mark_merged(mr, source, commit, by)
        return commit

    def _mark_merged(self, mr: MergeRequest, source: Commit, onto: Commit, by: User) -> None:
        now = self.clock()
        # Merged before the target moves, so the push of the merge cancels nothing of its own.
        mr.state, mr.sha, mr.merge_commit_sha = "merged", source.id, onto.id
        mr.merged_at, mr.updated_at, mr.merged_by = now, now, by
        self.repo.set_branch(mr.target_branch, onto.id)
        if mr.remove_source_branch:
            self.repo.branches.pop(mr.source_branch, None)

    def items(self, kind: str) -> Iterator[Item]:
        store: Mapping[int, Item] = self.issues if kind == "issues" else self.merge_requests
        return iter(list(store.values()))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".") or "someone"
