"""The fake GitLab instance: its state, fault injection, hooks and the request log.

Each request goes through, in order: the log, ``on_request`` hooks (run without the lock, so
a hook may call the fake's human actions or even make API calls of its own), ``down``, queued
faults, authentication, then the route under the instance lock, then ``crash_after`` predicates.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack
from urllib.parse import parse_qs, unquote, urlsplit

from . import routes_items, routes_merge, routes_pipelines, routes_repository
from .project import FakeProject, Ids, User
from .repository import Clock
from .routing import Ctx, Route, find, route
from .transport import LocalServer
from .views import current_user_json, project_json
from .wire import ApiError, Call, RecordedRequest, Reply, json_reply, not_found

Hook = Callable[[RecordedRequest], None]
Predicate = Callable[[RecordedRequest], bool]

API_PREFIX = "/api/v4/"
DEFAULT_PROJECT = "packaging/external-recipes"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

DEFAULT_FILES: Mapping[str, str] = {
    "README.md": "# External recipes\n\nRecipes maintained with recipe-bot.\n",
    "recipes/attrs/meta.yaml": (
        '{% set version = "23.1.0" %}\n\npackage:\n  name: attrs\n  version: {{ version }}\n\n'
        "source:\n  url: https://pypi.io/packages/source/a/attrs/attrs-{{ version }}.tar.gz\n"
        "  sha256: cc4f2ec4fd1b0c1ff1b29b50f4c2a7c83c1b3a4d6e4a6e8d2e3b7d5b0ec5df4f\n\n"
        "build:\n  number: 0\n"
    ),
    "recipes/readline/recipe.yaml": (
        'context:\n  version: "8.1"\n\npackage:\n  name: readline\n  version: ${{ version }}\n\n'
        "source:\n  url: https://ftp.gnu.org/gnu/readline/readline-${{ version }}.tar.gz\n"
        "  sha256: f8ceb4ee131e3232226a17f51b164afc46cd0b9e6cef344be87c65962cb82b02\n"
    ),
    "constraints.txt": "attrs==23.1.0\nrequests==2.31.0  # HTTP\n",
}

REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Fault:
    remaining: int
    status: int
    retry_after: int | None
    path_contains: str | None
    method: str | None

    def matches(self, request: RecordedRequest) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == request.method)
            and (self.path_contains is None or self.path_contains in request.path)
        )

    def reply(self) -> Reply:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return status_reply(self.status, headers)


def status_reply(status: int, headers: Mapping[str, str] | None = None) -> Reply:
    return json_reply({"message": f"{status} {REASONS.get(status, 'Error')}"}, status, headers)


class Options(TypedDict, total=False):
    """Keyword arguments of :class:`FakeGitLab`."""

    token: str
    project_path: str
    default_branch: str
    files: Mapping[str, str] | None
    clock: Clock | None
    bot_username: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FakeGitLab:
    """A stateful GitLab REST v4 on 127.0.0.1. Start with :meth:`start` or use as a context
    manager; ``url`` is the instance URL to hand to python-gitlab (it adds ``/api/v4``)."""

    def __init__(
        self,
        *,
        token: str = "fake-token",
        project_path: str = DEFAULT_PROJECT,
        default_branch: str = "main",
        files: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        bot_username: str = "recipe-bot",
    ) -> None:
        self.token = token
        self.clock: Clock = clock or _utc_now
        self.bot = User(1, bot_username, "Recipe Bot", f"{bot_username}@example.com")
        self.human = User(2, "human", "Human", "human@example.com")
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # raised inside the fake or a hook; see check()
        self.down = False
        self.projects: dict[int, FakeProject] = {}
        self._ids = Ids()
        self._faults: list[Fault] = []
        self._hooks: list[Hook] = []
        self._crash_predicates: list[Predicate] = []
        self._lost_replies: list[Predicate] = []
        self._server: LocalServer | None = None
        seed = DEFAULT_FILES if files is None else files
        self.project = self.add_project(project_path, default_branch, seed)

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("fake GitLab is not running")
        return self._server.url

    def start(self) -> FakeGitLab:
        self._server = LocalServer(self)
        return self

    def stop(self) -> None:
        """Stop serving, drop keep-alive connections and join every server thread."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeGitLab:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def check(self) -> None:
        """Raise the first exception that happened inside the fake or a hook, so a bug in a
        test's hook cannot pass as an ordinary 500."""
        if self.errors:
            first = self.errors[0]
            raise AssertionError(f"fake GitLab failed internally: {first!r}") from first

    # --- set-up ------------------------------------------------------------------------------

    def add_project(
        self,
        path_with_namespace: str,
        default_branch: str = "main",
        files: Mapping[str, str] | None = None,
    ) -> FakeProject:
        with self.lock:
            project = FakeProject(
                project_id=next(self._ids.projects),
                path_with_namespace=path_with_namespace,
                default_branch=default_branch,
                clock=lambda: self.clock(),  # late-bound, so a test may swap ``fake.clock``
                ids=self._ids,
                lock=self.lock,
                human=self.human,
            )
            self.projects[project.id] = project
            if files:
                project.seed_files(files, message="Initial commit")
            return project

    # --- fault injection and observation ---------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        retry_after: int | None = None,
        path_contains: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` (and ``Retry-After``)."""
        with self.lock:
            self._faults.append(Fault(n, status, retry_after, path_contains, method))

    def on_request(self, callback: Hook) -> Callable[[], None]:
        """Call ``callback(request)`` before each request is handled; returns an unsubscriber."""
        with self.lock:
            self._hooks.append(callback)
        return lambda: self._hooks.remove(callback)

    def crash_after(self, predicate: Predicate) -> None:
        """After the first request matching ``predicate`` has been answered without error, go
        ``down``: the write lands, then the instance dies, like a run killed half-way."""
        with self.lock:
            self._crash_predicates.append(predicate)

    def lose_reply(self, predicate: Predicate) -> None:
        """The first request matching ``predicate`` is carried out, but its reply is lost on
        the way back (a proxy answers 502): the client cannot tell it from a failed call."""
        with self.lock:
            self._lost_replies.append(predicate)

    def writes(self) -> list[RecordedRequest]:
        """Every POST/PUT/PATCH/DELETE received, including refused ones."""
        with self.lock:
            return [request for request in self.requests if request.method in WRITE_METHODS]

    # --- human actions on the seeded project -------------------------------------------------

    def tick_box(self, issue_iid: int, marker: str) -> None:
        self.project.tick_box(issue_iid, marker)

    def push_to_branch(
        self,
        branch: str,
        files: Mapping[str, str | None],
        author: str = "Human",
        message: str | None = None,
    ) -> str:
        return self.project.push_to_branch(branch, files, author=author, message=message)

    def close_merge_request(self, iid: int) -> None:
        self.project.close_merge_request(iid)

    def merge_merge_request(self, iid: int) -> str:
        """Merge as a maintainer from the UI; raises MergeConflict when GitLab would refuse."""
        return self.project.merge_merge_request(iid)

    def set_pipeline(self, ref_or_sha: str, status: str, *, new: bool = False) -> int:
        """Report a CI status for a branch head or commit; see FakeProject.set_pipeline."""
        return self.project.set_pipeline(ref_or_sha, status, new=new)

    # --- request handling ------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one HTTP request; ``headers`` has lower-case names."""
        try:
            return self._handle(method, target, headers, body)
        except ApiError as error:
            return error.reply()
        except Exception as error:  # a bug in the fake or in a test's hook: keep it for check()
            self.errors.append(error)
            return status_reply(500)

    def _handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        body = _parse_body(headers.get("content-type", ""), raw)
        last_values = {key: values[-1] for key, values in query.items()}
        request = RecordedRequest(method, unquote(parts.path), last_values, body)
        with self.lock:
            self.requests.append(request)
            hooks = list(self._hooks)
        for hook in hooks:
            hook(request)
        refusal = self._refusal(request, headers)
        if refusal is not None:
            return refusal
        call_body = body if isinstance(body, dict) else {}
        with self.lock:
            reply = self._route(method, parts.path, query, call_body, headers)
            self._maybe_crash(request)
            lost = next((p for p in self._lost_replies if p(request)), None)
            if lost is not None:
                self._lost_replies.remove(lost)
                return status_reply(502)
        return reply

    def _refusal(self, request: RecordedRequest, headers: Mapping[str, str]) -> Reply | None:
        with self.lock:
            if self.down:
                return status_reply(503)
            fault = next((fault for fault in self._faults if fault.matches(request)), None)
            if fault is not None:
                fault.remaining -= 1
                return fault.reply()
        if not self._authorized(headers):
            return json_reply({"message": "401 Unauthorized"}, 401)
        return None

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        bearer = headers.get("authorization", "")
        return headers.get("private-token") == self.token or bearer == f"Bearer {self.token}"

    def _maybe_crash(self, request: RecordedRequest) -> None:
        for predicate in list(self._crash_predicates):
            if predicate(request):
                self._crash_predicates.remove(predicate)
                self.down = True

    def _route(
        self,
        method: str,
        raw_path: str,
        query: Mapping[str, list[str]],
        body: Mapping[str, Any],
        headers: Mapping[str, str],
    ) -> Reply:
        if not raw_path.startswith(API_PREFIX):
            raise ApiError(404, {"error": "404 Not Found"})
        segments = [unquote(part) for part in raw_path[len(API_PREFIX) :].strip("/").split("/")]
        found, params = find(ROUTES, "GET" if method == "HEAD" else method, segments)
        call = Call(method, unquote(raw_path), params, query, body, self.url, raw_path, headers)
        project = self._project(params["id"]) if "id" in params else None
        return found.handler(Ctx(call, self.bot, project))

    def _project(self, ident: str) -> FakeProject:
        if ident.isdigit() and int(ident) in self.projects:
            return self.projects[int(ident)]
        wanted = ident.lower()  # GitLab resolves full paths case-insensitively
        for project in self.projects.values():
            if project.path_with_namespace.lower() == wanted:
                return project
        raise not_found("Project")


def _parse_body(content_type: str, raw: bytes) -> Any:
    if not raw:
        return {}
    if "application/x-www-form-urlencoded" in content_type:
        return {key: values[-1] for key, values in parse_qs(raw.decode("utf-8")).items()}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, {"error": "The request body is not valid JSON"}) from None


# --- instance-level routes -----------------------------------------------------------------


def get_user(ctx: Ctx) -> Reply:
    return json_reply(current_user_json(ctx.bot, ctx.call.base_url))


def get_version(ctx: Ctx) -> Reply:
    return json_reply({"version": "17.0.0-fake", "revision": "fake"})


def get_project(ctx: Ctx) -> Reply:
    return json_reply(project_json(ctx.project, ctx.call.base_url))


ROUTES: tuple[Route, ...] = (
    route("GET", "user", get_user),
    route("GET", "version", get_version),
    route("GET", "projects/{id}", get_project),
    *routes_repository.ROUTES,
    *routes_items.ROUTES,
    *routes_merge.ROUTES,
    *routes_pipelines.ROUTES,
)


@contextmanager
def running_fake_gitlab(**options: Unpack[Options]) -> Iterator[FakeGitLab]:
    """A started :class:`FakeGitLab`, stopped afterwards; fails the block if the fake itself
    (or a hook) raised while serving."""
    fake = FakeGitLab(**options).start()
    try:
        yield fake
    finally:
        fake.stop()
    fake.check()


def start_fake_gitlab(**options: Unpack[Options]) -> FakeGitLab:
    """A started :class:`FakeGitLab`; the caller must call ``stop()``."""
    return FakeGitLab(**options).start()
