"""Repository endpoints: tree, files, archive, branches and commits."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Mapping
from typing import Any

from .commits import CommitRequest, create_commit
from .pagination import paginated
from .project import FakeProject
from .repository import Commit, Person, blob_id, encode
from .routing import Ctx, Route, route
from .views import branch_json, commit_detail_json, commit_json, file_json
from .wire import ApiError, Reply, bad_request, json_reply, no_content, not_found

# --- helpers ---------------------------------------------------------------------------------


def _ref(ctx: Ctx, name: str = "ref", missing: str = "Commit") -> tuple[str, Commit]:
    ref = ctx.call.text(name) or ctx.project.default_branch
    commit = ctx.project.repo.resolve(ref)
    if commit is None:
        raise not_found(missing)
    return ref, commit


def _tree_entries(
    files: Mapping[str, str], path: str, recursive: bool
) -> list[dict[str, Any]] | None:
    """Entries under ``path``: direct children, or everything below when recursive; None
    when ``path`` is not a directory (GitLab answers 404 Tree Not Found)."""
    prefix = f"{path}/" if path else ""
    dirs = {
        "/".join(name.split("/")[:depth])
        for name in files
        for depth in range(1, name.count("/") + 1)
    }
    if path and path not in dirs:
        return None
    entries = []
    for entry in sorted(dirs | set(files)):
        if not entry.startswith(prefix):
            continue
        if not recursive and "/" in entry[len(prefix) :]:
            continue
        entries.append(_tree_entry(files, entry, entry in dirs))
    # GitLab lists directories before files, each group by name.
    return sorted(entries, key=lambda item: (item["type"] != "tree", item["path"]))


def _tree_entry(files: Mapping[str, str], entry: str, is_dir: bool) -> dict[str, Any]:
    if is_dir:
        inside = sorted(
            (name, blob_id(text)) for name, text in files.items() if name.startswith(f"{entry}/")
        )
        sha = blob_id(repr(inside))
    else:
        sha = blob_id(files[entry])
    return {
        "id": sha,
        "name": entry.rsplit("/", 1)[-1],
        "type": "tree" if is_dir else "blob",
        "path": entry,
        "mode": "040000" if is_dir else "100644",
    }


def _file_commit(ctx: Ctx, kind: str) -> Reply:
    """The single-file endpoints (POST/PUT/DELETE repository/files/:path) are one-action commits."""
    call = ctx.call
    call.require("branch", "commit_message", *(("content",) if kind != "delete" else ()))
    action: dict[str, Any] = {
        "action": kind,
        "file_path": ctx.call.params["file_path"],
        "content": call.text("content"),
        "encoding": call.text("encoding") or "text",
        "last_commit_id": call.text("last_commit_id"),
    }
    request = CommitRequest(
        branch=str(call.text("branch")),
        message=str(call.text("commit_message")),
        actions=[action],
        author=_author(ctx),
        start_branch=call.text("start_branch"),
    )
    create_commit(ctx.project.repo, request, ctx.bot.person)
    if kind == "delete":
        return no_content()
    return json_reply(
        {"file_path": action["file_path"], "branch": request.branch},
        201 if kind == "create" else 200,
    )


def _author(ctx: Ctx) -> Person:
    bot = ctx.bot.person
    return Person(
        ctx.call.text("author_name") or bot.name, ctx.call.text("author_email") or bot.email
    )


def _archive_name(project: FakeProject, ref: str, commit: Commit, subpath: str) -> str:
    # GitLab names the top folder <project>-<ref>-<sha>[-<path>], slashes made dashes.
    name = f"{project.path}-{ref}-{commit.id}" + (f"-{subpath}" if subpath else "")
    return name.replace("/", "-")


def _archive(top: str, commit: Commit, subpath: str) -> bytes:
    """A deterministic tar.gz; like ``git archive -- path``, files keep their full paths."""
    mtime = int(commit.created_at.timestamp())
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_dir(tar, top, mtime)
        for path in sorted(commit.files):
            if subpath and not path.startswith(f"{subpath}/"):
                continue
            data = encode(commit.files[path])
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=mtime)


def _add_dir(tar: tarfile.TarFile, name: str, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
    tar.addfile(info)


# --- handlers --------------------------------------------------------------------------------


def get_tree(ctx: Ctx) -> Reply:
    _, commit = _ref(ctx, missing="Tree")
    path = (ctx.call.text("path") or "").strip("/")
    entries = _tree_entries(commit.files, path, bool(ctx.call.flag("recursive")))
    if entries is None:
        raise not_found("Tree")
    return paginated(ctx.call, entries, lambda entry: entry)


def get_file(ctx: Ctx) -> Reply:
    ctx.call.require("ref")
    ref, commit = _ref(ctx)
    path = ctx.call.params["file_path"]
    if path not in commit.files:
        raise not_found("File")
    return json_reply(file_json(ctx.project, path, ref, commit))


def get_raw_file(ctx: Ctx) -> Reply:
    _, commit = _ref(ctx)
    path = ctx.call.params["file_path"]
    if path not in commit.files:
        raise not_found("File")
    return Reply(200, encode(commit.files[path]), "text/plain; charset=utf-8")


def create_file(ctx: Ctx) -> Reply:
    return _file_commit(ctx, "create")


def update_file(ctx: Ctx) -> Reply:
    return _file_commit(ctx, "update")


def delete_file(ctx: Ctx) -> Reply:
    return _file_commit(ctx, "delete")


def get_archive(ctx: Ctx) -> Reply:
    ref, commit = _ref(ctx, "sha")
    subpath = (ctx.call.text("path") or "").strip("/")
    top = _archive_name(ctx.project, ref, commit, subpath)
    headers = (("Content-Disposition", f'attachment; filename="{top}.tar.gz"'),)
    return Reply(200, _archive(top, commit, subpath), "application/gzip", headers)


def list_branches(ctx: Ctx) -> Reply:
    search = ctx.call.text("search") or ""
    names = sorted(name for name in ctx.project.repo.branches if _branch_matches(name, search))
    return paginated(
        ctx.call, names, lambda name: branch_json(ctx.project, name, ctx.call.base_url)
    )


def _branch_matches(name: str, search: str) -> bool:
    # GitLab's branch search: substring, with ^ and $ anchoring to either end.
    if search.startswith("^"):
        return name.startswith(search[1:])
    if search.endswith("$"):
        return name.endswith(search[:-1])
    return search.lower() in name.lower()


def get_branch(ctx: Ctx) -> Reply:
    name = ctx.call.params["branch"]
    if name not in ctx.project.repo.branches:
        raise not_found("Branch")
    return json_reply(branch_json(ctx.project, name, ctx.call.base_url))


def create_branch(ctx: Ctx) -> Reply:
    ctx.call.require("branch", "ref")
    name, ref = str(ctx.call.text("branch")), str(ctx.call.text("ref"))
    repo = ctx.project.repo
    if name in repo.branches:
        raise bad_request("Branch already exists")
    commit = repo.resolve(ref)
    if commit is None:
        raise bad_request(f"Invalid reference name: {ref}")
    repo.set_branch(name, commit.id)
    return json_reply(branch_json(ctx.project, name, ctx.call.base_url), 201)


def delete_branch(ctx: Ctx) -> Reply:
    name = ctx.call.params["branch"]
    if name not in ctx.project.repo.branches:
        raise not_found("Branch")
    if name == ctx.project.default_branch:
        raise bad_request("Cannot remove HEAD branch", 405)
    del ctx.project.repo.branches[name]
    return no_content()


def list_commits(ctx: Ctx) -> Reply:
    ref = ctx.call.text("ref_name") or ctx.project.default_branch
    start = ctx.project.repo.resolve(ref)
    if start is None:
        raise not_found("Revision")
    path, since, until = ctx.call.text("path"), ctx.call.when("since"), ctx.call.when("until")
    commits = [
        commit
        for commit in ctx.project.repo.history(start)
        if (path is None or _touches(ctx.project, commit, path))
        and (since is None or commit.created_at >= since)
        and (until is None or commit.created_at <= until)
    ]
    return paginated(
        ctx.call, commits, lambda commit: commit_json(ctx.project, commit, ctx.call.base_url)
    )


def _touches(project: FakeProject, commit: Commit, path: str) -> bool:
    parent = project.repo.commits[commit.parent_ids[0]].files if commit.parent_ids else {}
    prefix = path.rstrip("/") + "/"
    changed = {
        name
        for name in set(parent) | set(commit.files)
        if parent.get(name) != commit.files.get(name)
    }
    return any(name == path or name.startswith(prefix) for name in changed)


def get_commit(ctx: Ctx) -> Reply:
    commit = ctx.project.repo.resolve(ctx.call.params["sha"])
    if commit is None:
        raise not_found("Commit")
    return json_reply(commit_detail_json(ctx.project, commit, ctx.call.base_url))


def post_commit(ctx: Ctx) -> Reply:
    call = ctx.call
    call.require("branch", "commit_message", "actions")
    if call.has("start_branch") and call.has("start_sha"):
        raise ApiError(400, {"error": "start_branch, start_sha are mutually exclusive"})
    actions = call.arg("actions")
    if not isinstance(actions, list):
        raise ApiError(400, {"error": "actions is invalid"})
    request = CommitRequest(
        branch=str(call.text("branch")),
        message=str(call.text("commit_message")),
        actions=actions,
        author=_author(ctx),
        start_branch=call.text("start_branch"),
        start_sha=call.text("start_sha"),
        force=bool(call.flag("force")),
    )
    commit = create_commit(ctx.project.repo, request, ctx.bot.person)
    return json_reply(commit_detail_json(ctx.project, commit, call.base_url), 201)


REPO = "projects/{id}/repository"
ROUTES: tuple[Route, ...] = (
    route("GET", f"{REPO}/tree", get_tree),
    route("GET", f"{REPO}/files/{{file_path}}", get_file),
    route("POST", f"{REPO}/files/{{file_path}}", create_file),
    route("PUT", f"{REPO}/files/{{file_path}}", update_file),
    route("DELETE", f"{REPO}/files/{{file_path}}", delete_file),
    route("GET", f"{REPO}/files/{{file_path}}/raw", get_raw_file),
    # Only gzip tarballs are modelled; other formats get the router's 404.
    *(
        route("GET", f"{REPO}/{name}", get_archive)
        for name in ("archive", "archive.tar.gz", "archive.tgz")
    ),
    route("GET", f"{REPO}/branches", list_branches),
    route("POST", f"{REPO}/branches", create_branch),
    route("GET", f"{REPO}/branches/{{branch}}", get_branch),
    route("DELETE", f"{REPO}/branches/{{branch}}", delete_branch),
    route("GET", f"{REPO}/commits", list_commits),
    route("POST", f"{REPO}/commits", post_commit),
    route("GET", f"{REPO}/commits/{{sha}}", get_commit),
)
