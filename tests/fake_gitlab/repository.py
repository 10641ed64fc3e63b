"""An in-memory, git-shaped repository: immutable commits holding full file snapshots, and
branches pointing at them.

Snapshots instead of trees and deltas keep every question ("what is in this file at that ref",
"what changed in this commit") a dictionary lookup; the repositories in tests are small.
"""

from __future__ import annotations

import difflib
import hashlib
import heapq
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True, eq=False)
class Commit:
    id: str
    parent_ids: tuple[str, ...]
    message: str
    author: Person
    committer: Person
    created_at: datetime
    files: Mapping[str, str]  # the whole tree at this commit: path -> text; never mutated
    serial: int  # creation order, to order commits made within the same clock tick

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]


def blob_id(text: str) -> str:
    """The id git itself would give this content, so blob ids look and behave like GitLab's."""
    data = encode(text)
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def encode(text: str) -> bytes:
    # Files committed with base64 encoding may hold any bytes; surrogateescape carries them
    # through the str snapshot unchanged.
    return text.encode("utf-8", "surrogateescape")


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


class Repository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._serials = itertools.count(1)
        self.commits: dict[str, Commit] = {}
        self.branches: dict[str, str] = {}
        # Told (branch, old head or None, new head) whenever a branch moves, so the project
        # can start pipelines and cancel auto-merges as GitLab does on a push.
        self.on_move: Callable[[str, str | None, str], None] | None = None

    def set_branch(self, name: str, sha: str) -> None:
        """Point ``name`` at ``sha``: every push, branch creation and merge goes through here."""
        old = self.branches.get(name)
        self.branches[name] = sha
        if self.on_move is not None and old != sha:
            self.on_move(name, old, sha)

    @property
    def empty(self) -> bool:
        return not self.branches

    def head(self, branch: str) -> Commit | None:
        sha = self.branches.get(branch)
        return None if sha is None else self.commits[sha]

    def resolve(self, ref: str) -> Commit | None:
        """A branch name, a full sha, or an unambiguous sha prefix of at least 7 digits."""
        if ref in self.branches:
            return self.commits[self.branches[ref]]
        if ref in self.commits:
            return self.commits[ref]
        if len(ref) >= 7:
            found = [commit for sha, commit in self.commits.items() if sha.startswith(ref)]
            if len(found) == 1:
                return found[0]
        return None

    def make_commit(
        self,
        parents: Sequence[str],
        files: Mapping[str, str],
        message: str,
        author: Person,
        committer: Person | None = None,
    ) -> Commit:
        serial = next(self._serials)
        tree = hashlib.sha1(repr(sorted(files.items())).encode("utf-8", "surrogateescape"))
        seed = f"{serial}\0{','.join(parents)}\0{tree.hexdigest()}\0{author}\0{message}"
        commit = Commit(
            id=hashlib.sha1(seed.encode("utf-8", "surrogateescape")).hexdigest(),
            parent_ids=tuple(parents),
            message=message,
            author=author,
            committer=committer or author,
            created_at=self._clock(),
            files=dict(files),
            serial=serial,
        )
        self.commits[commit.id] = commit
        return commit

    def history(self, start: Commit) -> Iterator[Commit]:
        """Every ancestor of ``start`` (itself included), newest first, like ``git log``."""
        seen = {start.id}
        queue: list[tuple[float, int, str]] = [_newest_first(start)]
        while queue:
            commit = self.commits[heapq.heappop(queue)[2]]
            yield commit
            for parent_id in commit.parent_ids:
                if parent_id not in seen:
                    seen.add(parent_id)
                    heapq.heappush(queue, _newest_first(self.commits[parent_id]))

    def is_ancestor(self, ancestor_id: str, descendant: Commit) -> bool:
        return any(commit.id == ancestor_id for commit in self.history(descendant))

    def ancestors(self, start: Commit | None) -> set[str]:
        return set() if start is None else {commit.id for commit in self.history(start)}

    def merge_base(self, one: Commit, other: Commit) -> Commit | None:
        ancestors = {commit.id for commit in self.history(one)}
        return next((commit for commit in self.history(other) if commit.id in ancestors), None)

    def last_commit_for(self, start: Commit, path: str) -> Commit:
        """The commit that last changed ``path`` as ``git log -1 -- path`` finds it (GitLab's
        ``last_commit_id``): follow a parent with the same content, merges included, and stop
        at the first commit that no parent explains."""
        commit = start
        while True:
            content = commit.files.get(path)
            parents = (self.commits[parent_id] for parent_id in commit.parent_ids)
            same = next((parent for parent in parents if parent.files.get(path) == content), None)
            if same is None:
                return commit
            commit = same


def _newest_first(commit: Commit) -> tuple[float, int, str]:
    return (-commit.created_at.timestamp(), -commit.serial, commit.id)


def three_way_merge(
    base: Mapping[str, str], ours: Mapping[str, str], theirs: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """diff3-style three-way merge of two trees, as git does it: per path, a side that left the
    file alone yields to the other, and a file changed on both sides is merged line by line
    (see :func:`merge_lines`). A delete on one side and a change on the other conflicts.
    Returns (merged files, conflicting paths)."""
    merged: dict[str, str] = {}
    conflicts: list[str] = []
    for path in sorted(set(base) | set(ours) | set(theirs)):
        was, mine, yours = base.get(path), ours.get(path), theirs.get(path)
        if mine == yours or yours == was:
            chosen = mine
        elif mine == was:
            chosen = yours
        elif mine is None or yours is None:
            conflicts.append(path)  # modify/delete
            continue
        else:
            chosen = merge_lines(was or "", mine, yours)
            if chosen is None:
                conflicts.append(path)
                continue
        if chosen is not None:
            merged[path] = chosen
    return merged, conflicts


@dataclass(frozen=True)
class _Hunk:
    """Base lines [start, end) replaced by ``lines`` on one side."""

    side: int
    start: int
    end: int
    lines: tuple[str, ...]


def merge_lines(base: str, ours: str, theirs: str) -> str | None:
    """Merge two edits of ``base`` line by line, or None on a conflict. Hunks that overlap or
    touch (no unchanged base line between them) conflict unless both sides made the same
    change there; git refuses adjacent edits too, because neither side saw the other's context."""
    was = base.splitlines(keepends=True)
    hunks = sorted([*_hunks(was, ours, 0), *_hunks(was, theirs, 1)], key=lambda h: (h.start, h.end))
    result: list[str] = []
    position = 0
    index = 0
    while index < len(hunks):
        group = [hunks[index]]
        end = hunks[index].end
        index += 1
        while index < len(hunks) and hunks[index].start <= end:
            group.append(hunks[index])
            end = max(end, hunks[index].end)
            index += 1
        start = group[0].start
        sides = [_apply(was, start, end, [h for h in group if h.side == side]) for side in (0, 1)]
        if len({h.side for h in group}) == 2 and sides[0] != sides[1]:
            return None
        changed = sides[0] if any(h.side == 0 for h in group) else sides[1]
        result += was[position:start]
        result += changed
        position = end
    result += was[position:]
    return "".join(result)


def _hunks(was: list[str], text: str, side: int) -> list[_Hunk]:
    now = text.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, was, now, autojunk=False)
    return [
        _Hunk(side, i1, i2, tuple(now[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _apply(was: list[str], start: int, end: int, hunks: list[_Hunk]) -> list[str]:
    """Base lines [start, end) with one side's (non-overlapping, sorted) hunks applied."""
    out: list[str] = []
    position = start
    for hunk in hunks:
        out += was[position : hunk.start]
        out += hunk.lines
        position = hunk.end
    out += was[position:end]
    return out
