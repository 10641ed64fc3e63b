"""GitLab's "create a commit with multiple files and actions", checks in GitLab's order.

Order and wording follow ``Commits::CreateService`` / ``Files::MultiService`` and Gitaly's
``UserCommitFiles``: parameter validation (Grape, ``{"error": ...}``), then start point and branch
checks, then ``last_commit_id`` checks, then per-file existence (``{"message": ...}``, 400).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .repository import Commit, Person, Repository, decode
from .wire import ApiError, bad_request, invalid

ACTIONS = ("create", "delete", "move", "update", "chmod")
EXISTS = "A file with this name already exists"
ABSENT = "A file with this name doesn't exist"


@dataclass(frozen=True)
class CommitRequest:
    branch: str
    message: str
    actions: Sequence[Mapping[str, Any]]
    author: Person
    start_branch: str | None = None
    start_sha: str | None = None
    force: bool = False


def create_commit(repo: Repository, request: CommitRequest, committer: Person) -> Commit:
    """Validate, apply the actions on the start point, and point ``request.branch`` at the
    new commit (replacing its history when ``force`` is set)."""
    _validate_actions(request.actions)
    start_branch = request.start_branch
    if start_branch is None and request.start_sha is None:
        start_branch = request.branch  # the API's default: commit on top of the branch itself
    start = _start_point(repo, request, start_branch)
    files = dict(start.files) if start else {}
    _check_unchanged(repo, start, request.actions)
    for action in request.actions:
        _apply(files, action)
    commit = repo.make_commit(
        parents=(start.id,) if start else (),
        files=files,
        message=request.message,
        author=request.author,
        committer=committer,
    )
    repo.set_branch(request.branch, commit.id)
    return commit


def _start_point(
    repo: Repository, request: CommitRequest, start_branch: str | None
) -> Commit | None:
    start: Commit | None = None
    if request.start_sha is not None:
        start = repo.commits.get(request.start_sha)
        if start is None:
            raise bad_request(f"Cannot find start_sha '{request.start_sha}'")
    if start_branch is not None and not repo.empty:
        start = repo.head(start_branch)
        if start is None:
            raise bad_request("You can only create or edit files when you are on a branch")
    different = start_branch != request.branch or request.start_sha is not None
    if different and request.branch in repo.branches and not request.force:
        raise bad_request(
            f"A branch called '{request.branch}' already exists. "
            "Switch to that branch in order to make changes"
        )
    return start


def _validate_actions(actions: Sequence[Mapping[str, Any]]) -> None:
    if not actions:
        raise ApiError(400, {"error": "actions is empty"})
    for index, action in enumerate(actions):
        name = f"actions[{index}]"
        if not isinstance(action, Mapping):
            raise invalid(name)
        if action.get("action") is None:
            raise ApiError(400, {"error": f"{name}[action] is missing"})
        if action["action"] not in ACTIONS:
            raise invalid(f"{name}[action]", "does not have a valid value")
        if not action.get("file_path"):
            raise ApiError(400, {"error": f"{name}[file_path] is missing"})
        if action.get("encoding", "text") not in ("text", "base64"):
            raise invalid(f"{name}[encoding]", "does not have a valid value")


def _check_unchanged(
    repo: Repository, start: Commit | None, actions: Sequence[Mapping[str, Any]]
) -> None:
    """Optimistic locking: ``last_commit_id`` must still be the last commit touching the file."""
    for action in actions:
        expected = action.get("last_commit_id")
        if start is None or not expected or action["action"] == "create":
            continue
        path = _path(action.get("previous_path") or action["file_path"])
        if repo.last_commit_for(start, path).id != expected:
            raise bad_request(f"The file has changed since you started editing it: {path}")


def _apply(files: dict[str, str], action: Mapping[str, Any]) -> None:
    kind = action["action"]
    path = _path(action["file_path"])
    if kind == "create":
        _refuse_existing(files, path)
        files[path] = _content(action)
    elif kind == "update":
        _require_existing(files, path)
        files[path] = _content(action)
    elif kind == "delete":
        _require_existing(files, path)
        del files[path]
    elif kind == "move":
        _move(files, _path(action.get("previous_path") or ""), path, action)
    else:  # chmod: modes are not modelled, but the file must exist
        _require_existing(files, path)


def _move(files: dict[str, str], source: str, target: str, action: Mapping[str, Any]) -> None:
    _require_existing(files, source)
    _refuse_existing(files, target)
    old = files.pop(source)
    # content null means "keep the old content"; an empty string really empties the file.
    files[target] = old if action.get("content") is None else _content(action)


def _content(action: Mapping[str, Any]) -> str:
    content = action.get("content")
    if content is None:
        return ""
    if action.get("encoding") != "base64":
        return str(content)
    try:
        return decode(base64.b64decode(str(content), validate=True))
    except (binascii.Error, ValueError):
        raise bad_request("Invalid base64") from None


def _path(path: str) -> str:
    return str(path).lstrip("/")


def _refuse_existing(files: Mapping[str, str], path: str) -> None:
    if path in files:
        raise bad_request(EXISTS)


def _require_existing(files: Mapping[str, str], path: str) -> None:
    if path not in files:
        raise bad_request(ABSENT)
