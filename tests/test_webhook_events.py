"""Webhook events of the merge-request lifecycle, and GitLab's redeliveries (Idempotency-Key)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from bot.config import Config, GitLabConfig
from bot.webhook import Deliveries, Response, Verdict, classify, receive

CONFIG = Config(gitlab=GitLabConfig(url="https://gitlab.example", project="p/r"))
SECRET = "s3cret"


def mr_update(field: str, previous: str, current: str, branch: str = "recipe-bot/attrs"):
    return {
        "object_kind": "merge_request",
        "project": {"path_with_namespace": "p/r"},
        "object_attributes": {"action": "update", "source_branch": branch},
        "changes": {field: {"previous": previous, "current": current}},
    }


def pipeline(status: str, ref: str = "recipe-bot/attrs", mr_branch: str | None = None):
    payload: dict[str, Any] = {
        "object_kind": "pipeline",
        "project": {"path_with_namespace": "p/r"},
        "object_attributes": {"ref": ref, "status": status},
    }
    if mr_branch is not None:
        payload["merge_request"] = {"source_branch": mr_branch}
    return payload


@pytest.mark.parametrize(
    ("payload", "relevant"),
    [
        (mr_update("detailed_merge_status", "mergeable", "conflict"), True),
        (mr_update("merge_status", "can_be_merged", "cannot_be_merged"), True),
        (mr_update("detailed_merge_status", "mergeable", "need_rebase"), True),
        (mr_update("detailed_merge_status", "unchecked", "mergeable"), False),
        (mr_update("detailed_merge_status", "mergeable", "conflict", branch="feature/x"), False),
        (mr_update("title", "a", "b"), False),
        (pipeline("failed"), True),
        (pipeline("success"), True),
        (pipeline("canceled"), True),
        (pipeline("running"), False),
        (pipeline("pending"), False),
        (pipeline("failed", ref="main"), False),
        (pipeline("failed", ref="refs/merge-requests/3/head", mr_branch="recipe-bot/attrs"), True),
        ({**pipeline("failed"), "project": {"path_with_namespace": "other/r"}}, False),
    ],
)
def test_lifecycle_events_that_start_a_run(payload: dict[str, Any], relevant: bool) -> None:
    """A bot merge request turning conflicted or behind, or a bot pipeline finishing, starts one."""
    verdict = classify(payload, CONFIG)
    assert verdict.relevant is relevant, verdict.why


def deliver(body: dict[str, Any], deliveries: Deliveries, key: str | None) -> Response | Verdict:
    raw = json.dumps(body).encode()
    headers = {"x-gitlab-token": SECRET, "content-length": str(len(raw))}
    if key is not None:
        headers["idempotency-key"] = key
    return receive(
        headers, io.BytesIO(raw).read, secret=SECRET, config=CONFIG, deliveries=deliveries
    )


def test_a_redelivery_with_the_same_key_is_acted_on_once() -> None:
    """GitLab's retry of one event answers 200 "duplicate"; another key is a new event."""
    deliveries = Deliveries()
    body = pipeline("failed")
    assert isinstance(deliver(body, deliveries, "k-1"), Verdict)
    again = deliver(body, deliveries, "k-1")
    assert isinstance(again, Response)
    assert (again.status, again.body) == (200, {"status": "duplicate"})
    assert isinstance(deliver(body, deliveries, "k-2"), Verdict)


def test_deliveries_without_a_key_are_never_deduplicated() -> None:
    """Older GitLab sends no Idempotency-Key: every delivery counts."""
    deliveries = Deliveries()
    body = pipeline("failed")
    assert isinstance(deliver(body, deliveries, None), Verdict)
    assert isinstance(deliver(body, deliveries, None), Verdict)


def test_unauthenticated_deliveries_cannot_spend_a_key() -> None:
    """A refused delivery (wrong token) does not record its key: the real one still counts."""
    deliveries = Deliveries()
    raw = json.dumps(pipeline("failed")).encode()
    headers = {"x-gitlab-token": "wrong", "content-length": str(len(raw)), "idempotency-key": "k"}
    refused = receive(
        headers, io.BytesIO(raw).read, secret=SECRET, config=CONFIG, deliveries=deliveries
    )
    assert isinstance(refused, Response) and refused.status == 401
    assert isinstance(deliver(pipeline("failed"), deliveries, "k"), Verdict)


def test_the_memory_of_keys_is_bounded() -> None:
    """Only the newest keys are kept: the oldest is forgotten once the bound is passed."""
    deliveries = Deliveries(size=2)
    assert [deliveries.first(key) for key in ("a", "b", "c")] == [True, True, True]
    assert deliveries.first("c") is False
    assert deliveries.first("a") is True
