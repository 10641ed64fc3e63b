"""Merge requests, issues and their notes. Both kinds share GitLab's filtering, editing and
note semantics, so one set of handlers serves both, keyed by the URL's collection name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .pagination import paginated
from .project import FakeProject, Issue, Item, MergeRequest, Note
from .routing import Ctx, Route, route
from .views import issue_json, merge_request_json, note_json
from .wire import (
    Call,
    Reply,
    bad_request,
    invalid,
    json_reply,
    no_content,
    record_not_found,
)

STATES = {
    "issues": ("opened", "closed", "all"),
    "merge_requests": ("opened", "closed", "locked", "merged", "all"),
}
EDITABLE = ("title", "description", "labels", "add_labels", "remove_labels", "state_event")
MR_EDITABLE = (*EDITABLE, "target_branch", "remove_source_branch")


def _kind(ctx: Ctx) -> str:
    return ctx.call.params["kind"]


def find_item(ctx: Ctx) -> Item:
    iid = ctx.call.params["iid"]
    number = int(iid) if iid.isdigit() else -1
    item: Item | None
    if _kind(ctx) == "issues":
        item = ctx.project.issues.get(number)
    else:
        item = ctx.project.merge_requests.get(number)
    if item is None:
        raise record_not_found()
    return item


def _render(ctx: Ctx) -> Callable[[Item], dict[str, Any]]:
    project, base = ctx.project, ctx.call.base_url

    def render(item: Item) -> dict[str, Any]:
        if isinstance(item, MergeRequest):
            return merge_request_json(project, item, base)
        assert isinstance(item, Issue)
        return issue_json(project, item, base)

    return render


# --- listing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    state: str
    labels: list[str] | None
    search: str | None
    search_in: tuple[str, ...]
    iids: set[int] | None
    branches: dict[str, str]
    author: str | None

    @classmethod
    def parse(cls, call: Call, kind: str) -> Filters:
        state = call.text("state") or "all"
        if state not in STATES[kind]:
            raise invalid("state", "does not have a valid value")
        branches = {
            name: str(call.text(name))
            for name in ("source_branch", "target_branch")
            if call.has(name)
        }
        return cls(
            state=state,
            labels=call.items("labels"),
            search=(call.text("search") or "").lower() or None,
            search_in=tuple(call.items("in") or ("title", "description")),
            iids={int(iid) for iid in call.items("iids") or []} or None,
            branches=branches if kind == "merge_requests" else {},
            author=call.text("author_username"),
        )

    def keep(self, item: Item) -> bool:
        return (
            self.state in ("all", item.state)
            and self._labels_match(item.labels)
            and self._search_matches(item)
            and (self.iids is None or item.iid in self.iids)
            and all(getattr(item, name) == value for name, value in self.branches.items())
            and (self.author is None or item.author.username == self.author)
        )

    def _labels_match(self, labels: list[str]) -> bool:
        if self.labels is None:
            return True
        if self.labels == ["None"]:
            return not labels
        if self.labels == ["Any"]:
            return bool(labels)
        return all(label in labels for label in self.labels)  # every label must be present

    def _search_matches(self, item: Item) -> bool:
        if self.search is None:
            return True
        fields = {"title": item.title, "description": item.description or ""}
        return any(self.search in fields[name].lower() for name in self.search_in if name in fields)


def _in_time_window(call: Call, item: Item) -> bool:
    for field in ("created", "updated"):
        moment = getattr(item, f"{field}_at")
        after, before = call.when(f"{field}_after"), call.when(f"{field}_before")
        if (after and moment < after) or (before and moment > before):
            return False
    return True


def _ordered(call: Call, items: list[Item]) -> list[Item]:
    order_by = call.text("order_by") or "created_at"
    if order_by not in ("created_at", "updated_at", "title"):
        raise invalid("order_by", "does not have a valid value")
    descending = (call.text("sort") or "desc") == "desc"
    return sorted(items, key=lambda item: (getattr(item, order_by), item.id), reverse=descending)


def list_items(ctx: Ctx) -> Reply:
    filters = Filters.parse(ctx.call, _kind(ctx))
    items = [
        item
        for item in ctx.project.items(_kind(ctx))
        if filters.keep(item) and _in_time_window(ctx.call, item)
    ]
    return paginated(ctx.call, _ordered(ctx.call, items), _render(ctx))


def get_item(ctx: Ctx) -> Reply:
    return json_reply(_render(ctx)(find_item(ctx)))


# --- creating --------------------------------------------------------------------------------


def create_issue(ctx: Ctx) -> Reply:
    ctx.call.require("title")
    project, now = ctx.project, ctx.project.clock()
    issue = Issue(
        id=next(project.ids.issues),
        iid=project.new_iid("issues"),
        title=str(ctx.call.text("title")),
        description=ctx.call.text("description"),
        author=ctx.bot,
        created_at=now,
        updated_at=now,
        labels=_unique(ctx.call.items("labels") or []),
    )
    project.issues[issue.iid] = issue
    return json_reply(issue_json(project, issue, ctx.call.base_url), 201)


def create_merge_request(ctx: Ctx) -> Reply:
    call, project = ctx.call, ctx.project
    call.require("source_branch", "target_branch", "title")
    source, target = str(call.text("source_branch")), str(call.text("target_branch"))
    _check_branches(project, source, target)
    now = project.clock()
    mr = MergeRequest(
        id=next(project.ids.merge_requests),
        iid=project.new_iid("merge_requests"),
        title=str(call.text("title")),
        description=call.text("description"),
        author=ctx.bot,
        created_at=now,
        updated_at=now,
        labels=_unique(call.items("labels") or []),
        source_branch=source,
        target_branch=target,
        remove_source_branch=bool(call.flag("remove_source_branch")),
    )
    project.merge_requests[mr.iid] = mr
    return json_reply(merge_request_json(project, mr, call.base_url), 201)


def _check_branches(project: FakeProject, source: str, target: str, iid: int | None = None) -> None:
    if source == target:
        raise bad_request(["You can't use same project/branch for source and target"], 422)
    for field, branch in (("source_branch", source), ("target_branch", target)):
        if branch not in project.repo.branches:
            raise bad_request({field: ["does not exist"]})
    _refuse_duplicate(project, source, iid)


def _refuse_duplicate(project: FakeProject, source: str, iid: int | None) -> None:
    duplicate = project.open_merge_request_for(source, exclude_iid=iid)
    if duplicate is not None:
        message = (
            f"Another open merge request already exists for this source branch: !{duplicate.iid}"
        )
        raise bad_request([message], 409)


# --- editing ---------------------------------------------------------------------------------


def update_item(ctx: Ctx) -> Reply:
    item, call = find_item(ctx), ctx.call
    editable = MR_EDITABLE if isinstance(item, MergeRequest) else EDITABLE
    if not any(call.has(name) for name in editable):
        names = ", ".join(editable)
        raise invalid(names, "are missing, at least one parameter must be provided")
    event = call.text("state_event")
    if event is not None and event not in ("close", "reopen"):
        raise invalid("state_event", "does not have a valid value")
    if isinstance(item, MergeRequest):
        _update_branches(ctx.project, item, call, event)
    _update_text(item, call)
    item.updated_at = ctx.project.clock()
    if event == "close":
        ctx.project.close(item, ctx.bot)
    elif event == "reopen":
        ctx.project.reopen(item)
    return json_reply(_render(ctx)(item))


def _update_text(item: Item, call: Call) -> None:
    if call.has("title"):
        item.title = str(call.text("title"))
    if "description" in call.body or call.has("description"):
        item.description = call.text("description")
    if call.items("labels") is not None:
        item.labels = _unique(call.items("labels") or [])
    item.labels = _unique([*item.labels, *(call.items("add_labels") or [])])
    removed = set(call.items("remove_labels") or [])
    item.labels = [label for label in item.labels if label not in removed]


def _update_branches(project: FakeProject, mr: MergeRequest, call: Call, event: str | None) -> None:
    if event == "reopen" and mr.state == "closed":
        _refuse_duplicate(project, mr.source_branch, mr.iid)
    if call.has("target_branch"):
        target = str(call.text("target_branch"))
        if target not in project.repo.branches:
            raise bad_request({"target_branch": ["does not exist"]})
        mr.target_branch = target
    if call.has("remove_source_branch"):
        mr.remove_source_branch = bool(call.flag("remove_source_branch"))


def _unique(labels: list[str]) -> list[str]:
    return list(dict.fromkeys(labels))


# --- notes -----------------------------------------------------------------------------------


def _note(ctx: Ctx, item: Item) -> Note:
    note_id = ctx.call.params["note_id"]
    note = next((note for note in item.notes if str(note.id) == note_id), None)
    if note is None:
        raise record_not_found()
    return note


def list_notes(ctx: Ctx) -> Reply:
    item = find_item(ctx)
    order_by = ctx.call.text("order_by") or "created_at"
    if order_by not in ("created_at", "updated_at"):
        raise invalid("order_by", "does not have a valid value")
    descending = (ctx.call.text("sort") or "desc") == "desc"  # GitLab lists notes newest first
    notes = sorted(
        item.notes, key=lambda note: (getattr(note, order_by), note.id), reverse=descending
    )
    return paginated(ctx.call, notes, lambda note: note_json(note, item, ctx.call.base_url))


def get_note(ctx: Ctx) -> Reply:
    item = find_item(ctx)
    return json_reply(note_json(_note(ctx, item), item, ctx.call.base_url))


def create_note(ctx: Ctx) -> Reply:
    ctx.call.require("body")
    item = find_item(ctx)
    note = ctx.project.add_note(item, str(ctx.call.text("body")), ctx.bot)
    return json_reply(note_json(note, item, ctx.call.base_url), 201)


def update_note(ctx: Ctx) -> Reply:
    ctx.call.require("body")
    item = find_item(ctx)
    note = _note(ctx, item)
    note.body, note.updated_at = str(ctx.call.text("body")), ctx.project.clock()
    return json_reply(note_json(note, item, ctx.call.base_url))


def delete_note(ctx: Ctx) -> Reply:
    item = find_item(ctx)
    item.notes.remove(_note(ctx, item))
    return no_content()


ITEMS = "projects/{id}/{kind|issues|merge_requests}"
ROUTES: tuple[Route, ...] = (
    route("GET", ITEMS, list_items),
    route("GET", f"{ITEMS}/{{iid}}", get_item),
    route("PUT", f"{ITEMS}/{{iid}}", update_item),
    route("GET", f"{ITEMS}/{{iid}}/notes", list_notes),
    route("POST", f"{ITEMS}/{{iid}}/notes", create_note),
    route("GET", f"{ITEMS}/{{iid}}/notes/{{note_id}}", get_note),
    route("PUT", f"{ITEMS}/{{iid}}/notes/{{note_id}}", update_note),
    route("DELETE", f"{ITEMS}/{{iid}}/notes/{{note_id}}", delete_note),
    route("POST", "projects/{id}/issues", create_issue),
    route("POST", "projects/{id}/merge_requests", create_merge_request),
)
