"""Which GitLab webhooks start a run, read from recorded payloads with one change per case."""

from __future__ import annotations

from typing import Any

import pytest
from serve.helpers import payload

from bot.config import Config, GitLabConfig
from bot.webhook import BadWebhook, classify, parse_body, token_matches

CONFIG = Config(
    gitlab=GitLabConfig(url="https://gitlab.example.com", project="packaging/external-recipes")
)
BOX = "- [{}] <!-- {} -->attrs 23.2.0 (from 23.1.0)\n"


def dashboard_edit(previous: str, current: str, **attributes: Any) -> dict[str, Any]:
    body = payload("issue_hook")
    body["changes"]["description"] = {"previous": previous, "current": current}
    body["object_attributes"].update(attributes)
    return body


def merge_request(**attributes: Any) -> dict[str, Any]:
    body = payload("merge_request_hook")
    body["object_attributes"].update(attributes)
    return body


# (case, body, relevant)
CASES: list[tuple[str, Any, bool]] = [
    ("the recorded tick", payload("issue_hook"), True),
    (
        "a create box ticked",
        dashboard_edit(BOX.format(" ", "create=attrs"), BOX.format("x", "create=attrs")),
        True,
    ),
    (
        "a rebase box ticked with a capital X",
        dashboard_edit(BOX.format(" ", "rebase=attrs"), BOX.format("X", "rebase=attrs")),
        True,
    ),
    (
        "a box ticked while another is cleared",
        dashboard_edit(
            BOX.format("x", "retry=a") + BOX.format(" ", "retry=b"),
            BOX.format(" ", "retry=a") + BOX.format("x", "retry=b"),
        ),
        True,
    ),
    (
        "the bot clearing ticks after a run",
        dashboard_edit(BOX.format("x", "create=attrs"), BOX.format(" ", "create=attrs")),
        False,
    ),
    (
        "the bot rewriting the dashboard, ticks unchanged",
        dashboard_edit(
            BOX.format("x", "create=attrs"), "Intro\n" + BOX.format("x", "create=attrs")
        ),
        False,
    ),
    (
        "a tick on an issue that is not the dashboard",
        dashboard_edit(
            BOX.format(" ", "create=attrs"), BOX.format("x", "create=attrs"), title="Other"
        ),
        False,
    ),
    (
        "a ticked box without a marker",
        dashboard_edit("- [ ] do the thing\n", "- [x] do the thing\n"),
        False,
    ),
    (
        "a dashboard edit without a description change",
        {**payload("issue_hook"), "changes": {"title": {"previous": "a", "current": "b"}}},
        False,
    ),
    ("a dashboard event without changes", {**payload("issue_hook"), "changes": None}, False),
    (
        "a tick in another project's dashboard",
        {**payload("issue_hook"), "project": {"path_with_namespace": "someone/else"}},
        False,
    ),
    (
        "the project path in another case",
        {**payload("issue_hook"), "project": {"path_with_namespace": "Packaging/External-Recipes"}},
        True,
    ),
    ("a bot merge request merged", payload("merge_request_hook"), True),
    ("a bot merge request closed", merge_request(action="close", state="closed"), True),
    ("a bot merge request opened", merge_request(action="open", state="opened"), False),
    ("a bot merge request updated", merge_request(action="update", state="opened"), False),
    ("a bot merge request reopened", merge_request(action="reopen", state="opened"), False),
    ("a human's merge request merged", merge_request(source_branch="feature/x"), False),
    ("a merge request without an action", merge_request(action=None), False),
    ("a push event", {"object_kind": "push", "ref": "refs/heads/main"}, False),
    (
        "a comment on the dashboard",
        {"object_kind": "note", "object_attributes": {"note": "- [x]"}},
        False,
    ),
    ("a pipeline event", {"object_kind": "pipeline"}, False),
    ("no object_kind at all", {}, False),
    (
        "object_attributes of the wrong type",
        {"object_kind": "issue", "object_attributes": [1, 2]},
        False,
    ),
    ("a title of the wrong type", dashboard_edit("", BOX.format("x", "create=a"), title=7), False),
    ("descriptions of the wrong type", dashboard_edit(None, ["- [x]"]), False),  # type: ignore[arg-type]
    ("a branch of the wrong type", merge_request(source_branch={"name": "recipe-bot/x"}), False),
]


@pytest.mark.parametrize(
    ("body", "relevant"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_relevance(body: Any, relevant: bool) -> None:
    """Only a newly ticked dashboard box or a bot merge request merged or closed starts a run."""
    verdict = classify(body, CONFIG)
    assert verdict.relevant is relevant, verdict.why


def test_a_relevant_verdict_says_why() -> None:
    """The log line of an accepted webhook names what was ticked or which branch ended."""
    assert classify(payload("issue_hook"), CONFIG).why == "dashboard ticked: create=attrs"
    assert classify(payload("merge_request_hook"), CONFIG).why == "recipe-bot/attrs merged"


def test_the_configured_names_are_used() -> None:
    """The dashboard title and branch prefix come from the config, not from defaults."""
    from bot.config import DashboardConfig, MergeRequestsConfig

    config = Config(
        dashboard=DashboardConfig(title="Bot"),
        merge_requests=MergeRequestsConfig(branch_prefix="bot-"),
    )
    assert not classify(payload("issue_hook"), config).relevant
    assert not classify(payload("merge_request_hook"), config).relevant
    tick = dashboard_edit(BOX.format(" ", "create=a"), BOX.format("x", "create=a"), title="Bot")
    assert classify(tick, config).relevant
    assert classify(merge_request(source_branch="bot-attrs"), config).relevant


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"issue"', "not a JSON object"),
        (b"[" * 100_000, "not valid JSON"),
    ],
    ids=["broken", "empty", "not UTF-8", "array", "string", "nested too deep"],
)
def test_unreadable_bodies_are_bad_webhooks(raw: bytes, message: str) -> None:
    """Anything that is not one JSON object is refused with a reason, never a crash."""
    with pytest.raises(BadWebhook, match=message):
        parse_body(raw)


@pytest.mark.parametrize(
    ("given", "matches"),
    [
        ("s3cret-token", True),
        ("s3cret-tokeN", False),
        ("", False),
        (None, False),
        ("s3cret-token ", False),
        ("sécret", False),
    ],
)
def test_token_comparison(given: str | None, matches: bool) -> None:
    """Only the exact secret matches; a missing or non-ASCII header is simply no match."""
    assert token_matches("s3cret-token", given) is matches
