"""Pipelines: the project's list (filters ``sha``, ``ref``, ``status``), one pipeline, and a
merge request's pipelines (those of its own commits). GitLab lists them newest first."""

from __future__ import annotations

from .pagination import paginated
from .pipelines import STATUSES, Pipeline
from .project import MergeRequest
from .routes_items import find_item
from .routing import Ctx, Route, route
from .views import pipeline_detail_json, pipeline_json
from .wire import Reply, invalid, json_reply, record_not_found


def _newest_first(pipelines: list[Pipeline]) -> list[Pipeline]:
    return sorted(pipelines, key=lambda pipeline: pipeline.id, reverse=True)


def list_pipelines(ctx: Ctx) -> Reply:
    call, project = ctx.call, ctx.project
    status = call.text("status")
    if status is not None and status not in STATUSES:
        raise invalid("status", "does not have a valid value")
    wanted = {name: call.text(name) for name in ("sha", "ref", "status") if call.has(name)}
    found = [
        pipeline
        for pipeline in project.pipelines.values()
        if all(getattr(pipeline, name) == value for name, value in wanted.items())
    ]
    return paginated(call, _newest_first(found), lambda p: pipeline_json(project, p, call.base_url))


def get_pipeline(ctx: Ctx) -> Reply:
    ident = ctx.call.params["pipeline_id"]
    pipeline = ctx.project.pipelines.get(int(ident)) if ident.isdigit() else None
    if pipeline is None:
        raise record_not_found()
    return json_reply(pipeline_detail_json(ctx.project, pipeline, ctx.call.base_url))


def list_merge_request_pipelines(ctx: Ctx) -> Reply:
    mr, project = find_item(ctx), ctx.project
    assert isinstance(mr, MergeRequest)
    commits = project.mr_commits(mr)
    found = [pipeline for pipeline in project.pipelines.values() if pipeline.sha in commits]
    return paginated(
        ctx.call, _newest_first(found), lambda p: pipeline_json(project, p, ctx.call.base_url)
    )


ROUTES: tuple[Route, ...] = (
    route("GET", "projects/{id}/pipelines", list_pipelines),
    route("GET", "projects/{id}/pipelines/{pipeline_id}", get_pipeline),
    route(
        "GET", "projects/{id}/{kind|merge_requests}/{iid}/pipelines", list_merge_request_pipelines
    ),
)
