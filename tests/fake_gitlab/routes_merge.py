"""Merging a merge request through the API, at once or when its pipeline succeeds.

Refusals follow GitLab's ``PUT .../merge`` in order: 405 when the merge request cannot be merged
(not open, draft, conflicts, a fast-forward that needs a rebase, a pipeline that failed), 409
when ``sha`` is not the source head, 400 when the project requires a ``sha`` and none came, 422
when the merge itself finds a conflict. With ``merge_when_pipeline_succeeds`` (or GitLab 17's
``auto_merge``) and an unfinished head pipeline the merge is armed instead and happens when
``FakeGitLab.set_pipeline`` reports success.
"""

from __future__ import annotations

from .mergeability import is_draft
from .pipelines import ACTIVE
from .project import FakeProject, MergeConflict, MergeRequest
from .routes_items import find_item
from .routing import Ctx, Route, route
from .views import merge_request_json
from .wire import Reply, bad_request, json_reply

NOT_ALLOWED = "405 Method Not Allowed"


def _merge_request(ctx: Ctx) -> MergeRequest:
    mr = find_item(ctx)
    assert isinstance(mr, MergeRequest)
    return mr


def merge_merge_request(ctx: Ctx) -> Reply:
    mr, project, call = _merge_request(ctx), ctx.project, ctx.call
    auto = bool(call.flag("merge_when_pipeline_succeeds") or call.flag("auto_merge"))
    if mr.state != "opened":
        raise bad_request(NOT_ALLOWED, 405)
    if auto and (is_draft(mr) or project.conflicts(mr)):
        raise bad_request(NOT_ALLOWED, 405)
    if project.merge_method == "ff" and project.behind_target(mr):
        raise bad_request(NOT_ALLOWED, 405)
    _check_sha(project, mr, call.text("sha"))
    if call.flag("should_remove_source_branch"):
        mr.remove_source_branch = True
    pipeline = project.head_pipeline(mr)
    status = pipeline.status if pipeline else None
    if auto and status in ACTIVE:
        project.arm_auto_merge(mr, ctx.bot)
        return json_reply(merge_request_json(project, mr, call.base_url))
    if auto and status in ("failed", "canceled"):
        raise bad_request("Pipeline failed", 405)  # GitLab no longer merges over a red pipeline
    if project.only_allow_merge_if_pipeline_succeeds and status != "success":
        raise bad_request(NOT_ALLOWED, 405)
    try:
        project.merge(mr, ctx.bot)
    except MergeConflict:
        raise bad_request("Branch cannot be merged", 422) from None
    return json_reply(merge_request_json(project, mr, call.base_url))


def _check_sha(project: FakeProject, mr: MergeRequest, sha: str | None) -> None:
    head = project.current_sha(mr)
    if sha and sha != head:
        raise bad_request(f"SHA does not match HEAD of source branch: {head}", 409)
    if not sha and project.require_sha:
        raise bad_request("SHA must be provided")


def cancel_merge_when_pipeline_succeeds(ctx: Ctx) -> Reply:
    """GitLab answers 201 ``{"status": "success"}`` (its service result, not the merge request
    its docs promise); 405 when the merge request is not open or nothing is armed."""
    mr = _merge_request(ctx)
    if mr.state != "opened" or mr.auto_merge_by is None:
        raise bad_request(NOT_ALLOWED, 405)
    ctx.project.disarm_auto_merge(mr)
    return json_reply({"status": "success"}, 201)


MR = "projects/{id}/{kind|merge_requests}/{iid}"
ROUTES: tuple[Route, ...] = (
    route("PUT", f"{MR}/merge", merge_merge_request),
    route("POST", f"{MR}/cancel_merge_when_pipeline_succeeds", cancel_merge_when_pipeline_succeeds),
)
