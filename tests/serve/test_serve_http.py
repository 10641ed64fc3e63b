"""The HTTP endpoint: POST /webhook and GET /healthz on a real socket, bad input included."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest
from serve.helpers import SECRET, T0, FakeCycle, Running, StillClock, payload
from structlog.testing import capture_logs

from bot import webhook
from bot.serve import WEBHOOK_DELAY, WEBHOOK_JOB


def webhook_job(running: Running) -> Any:
    return running.service.scheduler.get_job(WEBHOOK_JOB)


def no_secret_in(logs: Sequence[Mapping[str, Any]]) -> bool:
    return SECRET not in json.dumps(logs, default=str)


# --- /healthz ------------------------------------------------------------------------------------


def test_health_before_any_run_is_ok(running: Running) -> None:
    """A service that is starting up and has not run yet is healthy."""
    reply = running.request("GET", "/healthz")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    body = reply.json
    assert body["status"] == "ok"
    assert body["last_run"] is None
    assert body["running"] is False
    assert body["next_run"].endswith("+00:00") and ":00:00" in body["next_run"]


def test_health_after_a_successful_run(running: Running, clock: StillClock) -> None:
    """After a good run, /healthz shows when it ran, how it ended and how long it took."""
    running.service.runner.run("schedule")
    reply = running.request("GET", "/healthz")
    assert reply.status == 200
    last = reply.json["last_run"]
    assert last["started"] == last["finished"] == "2024-06-01T12:00:00+00:00"
    assert last["exit_code"] == 0
    assert isinstance(last["duration"], float)


def test_health_is_503_after_a_failed_run_and_200_again_after_a_good_one(
    running: Running, cycle: FakeCycle
) -> None:
    """A failed run (GitLab down, a bad token) turns /healthz to 503 until a run succeeds."""
    cycle.codes = [1, 0]
    running.service.runner.run("schedule")
    reply = running.request("GET", "/healthz")
    assert reply.status == 503
    assert reply.json["status"] == "failing"
    assert reply.json["last_run"]["exit_code"] == 1
    running.service.runner.run("schedule")
    assert running.request("GET", "/healthz").status == 200


def test_health_shows_a_run_in_progress(running: Running, cycle: FakeCycle) -> None:
    """While a run is going, `running` is true."""
    import threading

    cycle.block = True
    thread = threading.Thread(target=running.service.runner.run, args=("schedule",))
    thread.start()
    assert cycle.started.wait(1)
    assert running.request("GET", "/healthz").json["running"] is True
    cycle.release.set()
    thread.join(1)
    assert running.request("GET", "/healthz").json["running"] is False


def test_health_answers_head_without_a_body(running: Running) -> None:
    """HEAD /healthz gives the status code alone, for probes that only look at it."""
    reply = running.request("HEAD", "/healthz")
    assert reply.status == 200
    assert reply.raw == b""


# --- POST /webhook: accepted and ignored ---------------------------------------------------


def test_a_dashboard_tick_is_accepted_and_schedules_a_run(running: Running) -> None:
    """A newly ticked box gets 202 and a run a few seconds later; the log names the tick."""
    with capture_logs() as logs:
        reply = running.webhook(payload("issue_hook"))
    assert reply.status == 202
    assert reply.json == {"status": "accepted"}
    assert webhook_job(running).next_run_time == T0 + timedelta(seconds=WEBHOOK_DELAY)
    assert [entry["event"] for entry in logs] == ["webhook_accepted"]
    assert logs[0]["run"] == "scheduled"
    assert logs[0]["why"] == "dashboard ticked: create=attrs"
    assert logs[0]["gitlab_event"] == "Issue Hook"
    assert no_secret_in(logs)


def test_a_burst_of_webhooks_makes_one_run(running: Running) -> None:
    """Several relevant webhooks in a row are all accepted and share one scheduled run."""
    replies = [
        running.webhook(payload("merge_request_hook"), event="Merge Request Hook") for _ in range(3)
    ]
    assert [reply.status for reply in replies] == [202, 202, 202]
    assert len([job for job in running.service.scheduler.get_jobs() if job.id == WEBHOOK_JOB]) == 1


def test_an_irrelevant_event_is_ignored(running: Running) -> None:
    """An event that cannot change what the bot would do gets 200 ignored and no run."""
    body = payload("merge_request_hook")
    body["object_attributes"]["action"] = "open"
    with capture_logs() as logs:
        reply = running.webhook(body, event="Merge Request Hook")
    assert reply.status == 200
    assert reply.json == {"status": "ignored"}
    assert webhook_job(running) is None
    assert [(entry["event"], entry["why"]) for entry in logs] == [
        ("webhook_ignored", "action 'open'")
    ]


def test_the_bots_own_dashboard_edit_is_ignored(running: Running) -> None:
    """The dashboard write at the end of a run only clears ticks, so it cannot trigger a loop."""
    body = payload("issue_hook")
    changes = body["changes"]["description"]
    changes["previous"], changes["current"] = changes["current"], changes["previous"]
    assert running.webhook(body).json == {"status": "ignored"}
    assert webhook_job(running) is None


# --- POST /webhook: refused and invalid ----------------------------------------------------


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (None, "missing token"),
        ("wrong", "wrong token"),
        (SECRET[:-1], "wrong token"),
        ("", "wrong token"),
    ],
)
def test_a_missing_or_wrong_token_is_401_without_details(
    running: Running, token: str | None, why: str
) -> None:
    """Without the right X-Gitlab-Token nothing is scheduled, and the answer says nothing."""
    with capture_logs() as logs:
        reply = running.webhook(payload("issue_hook"), token=token)
    assert reply.status == 401
    assert reply.raw == b""
    assert webhook_job(running) is None
    assert [(entry["event"], entry["why"]) for entry in logs] == [("webhook_refused", why)]
    assert no_secret_in(logs)


def test_without_a_configured_secret_every_webhook_is_403(
    start_service: Callable[..., Running],
) -> None:
    """No secret in the environment: the service says so once at start and refuses all webhooks."""
    with capture_logs() as logs:
        running = start_service(secret=None)
        replies = [
            running.webhook(payload("issue_hook"), token=token) for token in (SECRET, None, "")
        ]
    assert [reply.status for reply in replies] == [403, 403, 403]
    assert webhook_job(running) is None
    missing = [entry for entry in logs if entry["event"] == "webhook_secret_missing"]
    assert len(missing) == 1
    assert missing[0]["env"] == "RECIPE_BOT_WEBHOOK_SECRET"
    assert [entry["status"] for entry in logs if entry["event"] == "webhook_refused"] == [
        403,
        403,
        403,
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "the body is not valid JSON"),
        (b"[]", "the body is not a JSON object"),
        (b"\xff\xfe\x00", "the body is not valid JSON"),
    ],
    ids=["broken JSON", "an array", "not UTF-8"],
)
def test_a_malformed_body_is_400(running: Running, body: bytes, error: str) -> None:
    """A body that is not a JSON object is refused with the reason, and nothing is scheduled."""
    with capture_logs() as logs:
        reply = running.webhook(body)
    assert reply.status == 400
    assert reply.json == {"status": "error", "error": error}
    assert webhook_job(running) is None
    assert [entry["event"] for entry in logs] == ["webhook_invalid"]


def test_an_oversized_body_is_400(running: Running) -> None:
    """A body over 1 MiB is refused, with the client still getting the answer."""
    reply = running.webhook(b" " * (webhook.MAX_BODY + 1))
    assert reply.status == 400
    assert "over" in reply.json["error"]
    assert webhook_job(running) is None


def test_a_body_without_content_length_is_400(running: Running) -> None:
    """Chunked or length-less bodies are not read; the answer says a length is needed."""
    answer = running.raw(
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Gitlab-Token: "
        + SECRET.encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.0 400 ")
    assert b"Content-Length is required" in answer


def test_a_body_shorter_than_announced_is_400(running: Running) -> None:
    """A client that hangs up mid-body gets 400, and the server carries on."""
    answer = running.raw(
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Gitlab-Token: "
        + SECRET.encode()
        + b"\r\nContent-Length: 100\r\n\r\n{}"
    )
    assert answer.startswith(b"HTTP/1.0 400 ")
    assert running.request("GET", "/healthz").status == 200


def test_garbage_on_the_socket_does_not_stop_the_server(running: Running) -> None:
    """A request line that is not HTTP gets the stdlib's 400 and the next request is served."""
    answer = running.raw(b"\x16\x03\x01 hello tls?\r\n\r\n")
    assert b" 400 " in answer.split(b"\r\n", 1)[0]
    assert running.request("GET", "/healthz").status == 200


def test_a_bug_while_answering_is_a_logged_500_and_the_server_goes_on(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception in a request is caught, logged with its traceback, answered 500."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(webhook, "classify", broken)
    with capture_logs() as logs:
        reply = running.webhook(payload("issue_hook"))
    assert reply.status == 500
    failed = [entry for entry in logs if entry["event"] == "http_request_failed"]
    assert failed and failed[0]["exc_info"] is True
    assert running.request("GET", "/healthz").status == 200


# --- other paths and methods ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/webhook", 405, "POST"),
        ("PUT", "/webhook", 405, "POST"),
        ("POST", "/healthz", 405, "GET, HEAD"),
        ("DELETE", "/healthz", 405, "GET, HEAD"),
        ("GET", "/", 404, None),
        ("POST", "/hooks", 404, None),
        ("GET", "/healthz/../webhook", 404, None),
    ],
)
def test_other_paths_and_methods(
    running: Running, method: str, path: str, status: int, allow: str | None
) -> None:
    """Only POST /webhook and GET /healthz exist; the rest is 404 or 405 with Allow."""
    reply = running.request(method, path)
    assert reply.status == status
    assert reply.headers.get("allow") == allow


def test_query_strings_do_not_change_the_route(running: Running) -> None:
    """GitLab may be configured with a query string on the URL; the path is what counts."""
    assert running.request("GET", "/healthz?probe=1").status == 200
