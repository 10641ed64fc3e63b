"""GitLab webhooks for `recipe-bot serve`: who may send them, what a body must be, which matter.

These events are worth a run before the next scheduled one:

- the dashboard issue edited so that a box became ticked (comparing the ticked boxes before and
  after with `bot.dashboard.parse_ticks`). The bot's own dashboard edits only ever clear ticks,
  so they never trigger a run, and a run can never loop on its own webhook;
- one of the bot's merge requests merged or closed (a newer version may follow, a rejection
  goes on the dashboard), or found in conflict with its target, or behind it (it is
  regenerated);
- a pipeline of a bot branch finished (the dashboard shows failed ones; auto-merge may need
  asking again). The bot's own pushes start pipelines but never finish one, so no loop.

The checks run cheapest and safest first: the secret (401/403, before the body is even read),
then the size (400 over 1 MiB), then the JSON (400), then the delivery's `Idempotency-Key`
(GitLab resends a delivery it thinks failed with the same key: answered 200 once more, acted
on once), then relevance (200 ignored, or the caller's 202). `bot.serve` runs the HTTP server
and schedules the run.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from bot import dashboard
from bot.config import Config

log = structlog.get_logger()

MAX_BODY = 1024 * 1024  # GitLab's issue and merge request events are a few kilobytes
DRAIN_LIMIT = 16 * MAX_BODY  # read (and drop) at most this much of a refused body
MAX_KEY = 200  # an Idempotency-Key is a UUID; anything much longer is not GitLab's
# Mergeability words (detailed_merge_status, then merge_status) that call for a regeneration.
STALE = frozenset({"conflict", "need_rebase", "cannot_be_merged"})
FINISHED = frozenset({"success", "failed", "canceled"})


class Deliveries:
    """The Idempotency-Keys of deliveries already taken, the newest `size` of them: GitLab
    retries a delivery it saw time out with the same key, and one run per event is enough."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        """True the first time `key` is seen (and remembers it), False for a repeat."""
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return True


class BadWebhook(Exception):
    """The body is not a webhook we can read (answered with 400)."""


@dataclass(frozen=True)
class Verdict:
    relevant: bool
    kind: str  # object_kind, or "" when absent
    why: str  # for the log: what made it relevant, or why it was ignored


@dataclass(frozen=True)
class Response:
    status: int
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def receive(
    headers: Mapping[str, str],
    read: Callable[[int], bytes],
    *,
    secret: str | None,
    config: Config,
    peer: str = "",
    deliveries: Deliveries | None = None,
) -> Response | Verdict:
    """Check one POST /webhook (`headers` with lower-case names, `read(n)` for the body): the
    answer when it stops here (refused, invalid, ignored: each logged), else the relevant verdict
    for the caller to act on and log."""
    context = {"peer": peer, "gitlab_event": headers.get("x-gitlab-event", "")}
    length = _content_length(headers)
    if secret is None:
        log.warning("webhook_refused", status=403, why="no webhook secret configured", **context)
        _drain(read, length, MAX_BODY)
        return Response(403)
    given = headers.get("x-gitlab-token")
    if not token_matches(secret, given):
        why = "missing token" if given is None else "wrong token"
        log.warning("webhook_refused", status=401, why=why, **context)
        _drain(read, length, MAX_BODY)
        return Response(401)
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower() or length is None:
            raise BadWebhook("a Content-Length is required")
        if length > MAX_BODY:
            _drain(read, length, DRAIN_LIMIT)
            raise BadWebhook(f"the body is over {MAX_BODY} bytes")
        raw = read(length)
        if len(raw) < length:
            raise BadWebhook("the body is shorter than its Content-Length")
        payload = parse_body(raw)
    except BadWebhook as exc:
        log.warning("webhook_invalid", status=400, why=str(exc), length=length, **context)
        return Response(400, {"status": "error", "error": str(exc)})
    key = headers.get("idempotency-key", "").strip()[:MAX_KEY]
    if key and deliveries is not None and not deliveries.first(key):
        log.info("webhook_duplicate", idempotency_key=key, **context)
        return Response(200, {"status": "duplicate"})
    verdict = classify(payload, config)
    if not verdict.relevant:
        log.info("webhook_ignored", kind=verdict.kind, why=verdict.why, **context)
        return Response(200, {"status": "ignored"})
    return verdict


def token_matches(secret: str, given: str | None) -> bool:
    """Constant-time comparison of `X-Gitlab-Token` with the configured secret."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode("utf-8"))


def parse_body(raw: bytes) -> Mapping[str, Any]:
    """The JSON object a webhook carries; BadWebhook for anything else."""
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadWebhook("the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadWebhook("the body is not a JSON object")
    return payload


def classify(payload: Mapping[str, Any], config: Config) -> Verdict:
    """Whether this event should start a run soon. Any field may be missing or of the wrong
    type; that makes the event irrelevant, never an error."""
    kind = _text(payload.get("object_kind"))
    project = _text(_get(payload, "project", "path_with_namespace"))
    if project and config.gitlab.project and project.casefold() != config.gitlab.project.casefold():
        return Verdict(False, kind, "another project")
    if kind == "issue":
        return _issue(payload, config)
    if kind == "merge_request":
        return _merge_request(payload, config)
    if kind == "pipeline":
        return _pipeline(payload, config)
    return Verdict(False, kind, "not an issue, merge request or pipeline event")


def _issue(payload: Mapping[str, Any], config: Config) -> Verdict:
    if _text(_get(payload, "object_attributes", "title")) != config.dashboard.title:
        return Verdict(False, "issue", "not the dashboard")
    before = dashboard.parse_ticks(_text(_get(payload, "changes", "description", "previous")))
    after = dashboard.parse_ticks(_text(_get(payload, "changes", "description", "current")))
    ticked = after - before
    if not ticked:
        return Verdict(False, "issue", "no box newly ticked")
    names = ", ".join(f"{kind}={name}" for kind, name in sorted(ticked))
    return Verdict(True, "issue", f"dashboard ticked: {names}")


def _merge_request(payload: Mapping[str, Any], config: Config) -> Verdict:
    action = _text(_get(payload, "object_attributes", "action"))
    branch = _text(_get(payload, "object_attributes", "source_branch"))
    if not branch.startswith(config.merge_requests.branch_prefix):
        return Verdict(False, "merge_request", "not a recipe-bot branch")
    if action in ("close", "merge"):
        done = "merged" if action == "merge" else "closed"
        return Verdict(True, "merge_request", f"{branch} {done}")
    if action == "update":
        for field_name in ("detailed_merge_status", "merge_status"):
            now = _text(_get(payload, "changes", field_name, "current"))
            if now in STALE:
                return Verdict(True, "merge_request", f"{branch} is now {now}")
    return Verdict(False, "merge_request", f"action {action or 'none'!r}")


def _pipeline(payload: Mapping[str, Any], config: Config) -> Verdict:
    branch = _text(_get(payload, "merge_request", "source_branch")) or _text(
        _get(payload, "object_attributes", "ref")
    )
    if not branch.startswith(config.merge_requests.branch_prefix):
        return Verdict(False, "pipeline", "not a recipe-bot branch")
    status = _text(_get(payload, "object_attributes", "status"))
    if status not in FINISHED:
        return Verdict(False, "pipeline", f"status {status or 'none'!r}")
    return Verdict(True, "pipeline", f"{branch} pipeline {status}")


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def _drain(read: Callable[[int], bytes], length: int | None, limit: int) -> None:
    """Read and drop a refused body (up to `limit`), so the client gets our answer instead of a
    connection reset from closing a socket with unread data."""
    if length is None or length > limit:
        return
    while length > 0:
        chunk = read(min(length, 64 * 1024))
        if not chunk:
            return
        length -= len(chunk)


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
