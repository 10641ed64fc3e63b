"""JSON shapes of GitLab REST v4 entities, with the fields clients commonly read.

Field names and types follow the GitLab API reference; values the fake does not model
(milestones, approvals, jobs) are present with their "nothing here" value so that code
reading them does not break.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .mergeability import is_draft
from .pipelines import Pipeline
from .project import FakeProject, Issue, Item, MergeRequest, Note, User
from .repository import Commit, blob_id, encode
from .wire import iso

Json = dict[str, Any]


def user_json(user: User, base_url: str) -> Json:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": "active",
        "locked": False,
        "avatar_url": None,
        "web_url": f"{base_url}/{user.username}",
    }


def current_user_json(user: User, base_url: str) -> Json:
    return {**user_json(user, base_url), "email": user.email, "bot": user.username.endswith("bot")}


def project_url(project: FakeProject, base_url: str) -> str:
    return f"{base_url}/{project.path_with_namespace}"


def project_json(project: FakeProject, base_url: str) -> Json:
    namespace, _, name = project.path_with_namespace.rpartition("/")
    url = project_url(project, base_url)
    return {
        "id": project.id,
        "name": name,
        "path": name,
        "path_with_namespace": project.path_with_namespace,
        "name_with_namespace": project.path_with_namespace.replace("/", " / "),
        "description": None,
        "default_branch": None if project.repo.empty else project.default_branch,
        "visibility": "private",
        "archived": False,
        "empty_repo": project.repo.empty,
        "web_url": url,
        "http_url_to_repo": f"{url}.git",
        "ssh_url_to_repo": f"git@127.0.0.1:{project.path_with_namespace}.git",
        "namespace": {
            "id": 1,
            "name": namespace,
            "path": namespace,
            "kind": "group",
            "full_path": namespace,
        },
        "merge_requests_enabled": True,
        "issues_enabled": True,
        "merge_method": project.merge_method,
        "only_allow_merge_if_pipeline_succeeds": project.only_allow_merge_if_pipeline_succeeds,
        "remove_source_branch_after_merge": True,
        "created_at": None,
        "last_activity_at": None,
    }


def commit_json(project: FakeProject, commit: Commit, base_url: str) -> Json:
    return {
        "id": commit.id,
        "short_id": commit.id[:8],
        "created_at": iso(commit.created_at),
        "parent_ids": list(commit.parent_ids),
        "title": commit.title,
        "message": commit.message,
        "author_name": commit.author.name,
        "author_email": commit.author.email,
        "authored_date": iso(commit.created_at),
        "committer_name": commit.committer.name,
        "committer_email": commit.committer.email,
        "committed_date": iso(commit.created_at),
        "trailers": {},
        "extended_trailers": {},
        "web_url": f"{project_url(project, base_url)}/-/commit/{commit.id}",
    }


def commit_detail_json(project: FakeProject, commit: Commit, base_url: str) -> Json:
    parent = project.repo.commits[commit.parent_ids[0]].files if commit.parent_ids else {}
    additions, deletions = _line_changes(parent, commit.files)
    return {
        **commit_json(project, commit, base_url),
        "stats": {"additions": additions, "deletions": deletions, "total": additions + deletions},
        "status": None,
        "last_pipeline": None,
        "project_id": project.id,
    }


def _line_changes(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[int, int]:
    added = removed = 0
    for path in set(before) | set(after):
        old, new = before.get(path, ""), after.get(path, "")
        if old == new:
            continue
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
    return added, removed


def branch_json(project: FakeProject, name: str, base_url: str) -> Json:
    head = project.repo.commits[project.repo.branches[name]]
    default = project.repo.head(project.default_branch)
    is_default = name == project.default_branch
    merged = default is not None and not is_default and project.repo.is_ancestor(head.id, default)
    return {
        "name": name,
        "commit": commit_json(project, head, base_url),
        "merged": merged,
        "protected": is_default,
        "default": is_default,
        "developers_can_push": False,
        "developers_can_merge": False,
        "can_push": True,
        "web_url": f"{project_url(project, base_url)}/-/tree/{quote(name, safe='/')}",
    }


def _item_json(project: FakeProject, item: Item, kind: str, base_url: str) -> Json:
    sigil = "#" if kind == "issues" else "!"
    return {
        "id": item.id,
        "iid": item.iid,
        "project_id": project.id,
        "title": item.title,
        "description": item.description,
        "state": item.state,
        "labels": sorted(item.labels),
        "author": user_json(item.author, base_url),
        "assignees": [],
        "assignee": None,
        "milestone": None,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "closed_at": iso(item.closed_at),
        "user_notes_count": sum(1 for note in item.notes if not note.system),
        "upvotes": 0,
        "downvotes": 0,
        "web_url": f"{project_url(project, base_url)}/-/{kind}/{item.iid}",
        "references": {
            "short": f"{sigil}{item.iid}",
            "relative": f"{sigil}{item.iid}",
            "full": f"{project.path_with_namespace}{sigil}{item.iid}",
        },
    }


def issue_json(project: FakeProject, issue: Issue, base_url: str) -> Json:
    return {
        **_item_json(project, issue, "issues", base_url),
        "type": "ISSUE",
        "issue_type": "issue",
        "confidential": False,
        "discussion_locked": None,
        "closed_by": None,
    }


def pipeline_json(project: FakeProject, pipeline: Pipeline, base_url: str) -> Json:
    """The short form, as pipeline lists and a merge request's ``pipeline`` give it."""
    return {
        "id": pipeline.id,
        "iid": pipeline.iid,
        "project_id": pipeline.project_id,
        "sha": pipeline.sha,
        "ref": pipeline.ref,
        "status": pipeline.status,
        "source": pipeline.source,
        "created_at": iso(pipeline.created_at),
        "updated_at": iso(pipeline.updated_at),
        "web_url": f"{project_url(project, base_url)}/-/pipelines/{pipeline.id}",
    }


def pipeline_detail_json(project: FakeProject, pipeline: Pipeline, base_url: str) -> Json:
    """The single-pipeline form, also a merge request's ``head_pipeline``."""
    started, finished = pipeline.started_at, pipeline.finished_at
    duration = int((finished - started).total_seconds()) if started and finished else None
    return {
        **pipeline_json(project, pipeline, base_url),
        "before_sha": "0" * 40,
        "tag": False,
        "yaml_errors": None,
        "user": None,
        "started_at": iso(started),
        "finished_at": iso(finished),
        "committed_at": None,
        "duration": duration,
        "queued_duration": None,
        "coverage": None,
        "detailed_status": {
            "icon": f"status_{pipeline.status}",
            "text": pipeline.status,
            "label": pipeline.status,
            "group": pipeline.status,
        },
    }


def merge_request_json(project: FakeProject, mr: MergeRequest, base_url: str) -> Json:
    state = project.mergeability(mr)
    head = project.head_pipeline(mr)
    auto_merge = mr.auto_merge_by is not None
    merge_user = mr.merged_by or mr.auto_merge_by
    return {
        **_item_json(project, mr, "merge_requests", base_url),
        "source_branch": mr.source_branch,
        "target_branch": mr.target_branch,
        "source_project_id": project.id,
        "target_project_id": project.id,
        "sha": project.current_sha(mr),
        "merge_commit_sha": mr.merge_commit_sha,
        "squash_commit_sha": None,
        "merged_at": iso(mr.merged_at),
        "merged_by": user_json(mr.merged_by, base_url) if mr.merged_by else None,
        "merge_user": user_json(merge_user, base_url) if merge_user else None,
        "closed_by": user_json(mr.closed_by, base_url) if mr.closed_by else None,
        "draft": is_draft(mr),
        "work_in_progress": is_draft(mr),
        "merge_status": state.merge_status,
        "detailed_merge_status": state.detailed,
        "has_conflicts": state.has_conflicts,
        "diverged_commits_count": project.diverged_commits_count(mr),
        "merge_when_pipeline_succeeds": auto_merge,
        "auto_merge_enabled": auto_merge,
        "head_pipeline": pipeline_detail_json(project, head, base_url) if head else None,
        "pipeline": pipeline_json(project, head, base_url) if head else None,
        "force_remove_source_branch": mr.remove_source_branch,
        "should_remove_source_branch": None,
        "squash": False,
        "reviewers": [],
        "reference": f"!{mr.iid}",
    }


def note_json(note: Note, item: Item, base_url: str) -> Json:
    noteable = "Issue" if isinstance(item, Issue) else "MergeRequest"
    return {
        "id": note.id,
        "type": None,
        "body": note.body,
        "author": user_json(note.author, base_url),
        "created_at": iso(note.created_at),
        "updated_at": iso(note.updated_at),
        "system": note.system,
        "noteable_id": item.id,
        "noteable_type": noteable,
        "noteable_iid": item.iid,
        "resolvable": False,
        "confidential": False,
        "internal": False,
    }


def file_json(project: FakeProject, path: str, ref: str, commit: Commit) -> Json:
    data = encode(commit.files[path])
    return {
        "file_name": path.rsplit("/", 1)[-1],
        "file_path": path,
        "size": len(data),
        "encoding": "base64",
        "content": base64.b64encode(data).decode("ascii"),
        "content_sha256": hashlib.sha256(data).hexdigest(),
        "ref": ref,
        "blob_id": blob_id(commit.files[path]),
        "commit_id": commit.id,
        "last_commit_id": project.repo.last_commit_for(commit, path).id,
        "execute_filemode": False,
    }
