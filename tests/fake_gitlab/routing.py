"""Route table plumbing: templates are matched segment by segment on the *raw* path, because
GitLab ids (``group%2Fproject``, ``recipes%2Ffoo%2Fmeta.yaml``, ``recipe-bot%2Fattrs``) carry
encoded slashes that must stay inside one segment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .project import FakeProject, User
from .wire import ApiError, Call, Reply


@dataclass(frozen=True)
class Ctx:
    call: Call
    bot: User
    project_or_none: FakeProject | None = None

    @property
    def project(self) -> FakeProject:
        if self.project_or_none is None:
            raise AssertionError("route declared without {id}")
        return self.project_or_none


Handler = Callable[[Ctx], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: tuple[str, ...]
    handler: Handler

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        if len(segments) != len(self.template):
            return None
        params: dict[str, str] = {}
        for expected, actual in zip(self.template, segments, strict=True):
            if expected.startswith("{"):
                # "{kind|issues|merge_requests}" captures only one of the listed values.
                name, *choices = expected[1:-1].split("|")
                if choices and actual not in choices:
                    return None
                params[name] = actual
            elif expected != actual:
                return None
        return params


def route(method: str, template: str, handler: Handler) -> Route:
    return Route(method, tuple(template.strip("/").split("/")), handler)


def find(
    routes: Sequence[Route], method: str, segments: Sequence[str]
) -> tuple[Route, dict[str, str]]:
    """The matching route, or GitLab's 404 (no such path) / 405 (path exists, other verb)."""
    path_matched = False
    for candidate in routes:
        params = candidate.match(segments)
        if params is None:
            continue
        if candidate.method == method:
            return candidate, params
        path_matched = True
    if path_matched:
        raise ApiError(405, {"error": "405 Not Allowed"})
    raise ApiError(404, {"error": "404 Not Found"})
