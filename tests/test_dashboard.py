"""The dashboard text: boxes, ticks, carried ticks, escaping and the size limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.dashboard import MAX_CHARS, DashboardView, Failure, Item, parse_ticks, render
from bot.markdown import escape, link
from bot.model import Reupload
from bot.reasons import Reason


def test_every_box_kind_carries_its_marker() -> None:
    """Awaiting, open, edited and rejected items get create, rebase, rebase and retry boxes."""
    body = render(
        DashboardView(
            items={
                "awaiting": [Item("attrs", "19.1.0", "18.2.0", "waiting for the schedule")],
                "open": [
                    Item(
                        "six",
                        "1.16.0",
                        "1.15.0",
                        mr_iid=3,
                        mr_url="https://gitlab.example/p/-/merge_requests/3",
                    )
                ],
                "edited": [
                    Item(
                        "zlib",
                        "1.3.1",
                        "1.3",
                        mr_iid=4,
                        mr_url="https://gitlab.example/p/-/merge_requests/4",
                    )
                ],
                "rejected": [
                    Item(
                        "cattrs",
                        "23.1",
                        mr_iid=2,
                        mr_url="https://gitlab.example/p/-/merge_requests/2",
                    )
                ],
            }
        )
    )
    assert "- [ ] <!-- create=attrs -->**attrs** 18.2.0 → 19.1.0 (waiting for the schedule)" in body
    assert "- [ ] <!-- rebase=six -->[&#33;3](https://gitlab.example/p/-/merge_requests/3)" in body
    assert "- [ ] <!-- rebase=zlib -->" in body
    assert "- [ ] <!-- retry=cattrs -->" in body
    assert parse_ticks(body) == set()


def test_actionable_sections_come_first() -> None:
    """Boxes stand above errors and the summary, so a truncated issue keeps them."""
    body = render(
        DashboardView(
            items={"awaiting": [Item("attrs", "2")]},
            errors=[Failure("x", "pypi", Reason.NOT_FOUND, "404")],
            up_to_date=1,
        )
    )
    assert body.index("create=attrs") < body.index("## Errors") < body.index("## Summary")


def test_parse_ticks_reads_only_ticked_marker_lines() -> None:
    """Ticked boxes with a marker count; unticked ones, prose and indented quotes do not forge."""
    body = (
        "- [x] <!-- create=attrs -->attrs\n"
        "- [X] <!-- rebase=six -->six\n"
        "- [ ] <!-- retry=zlib -->zlib\n"
        "text - [x] <!-- create=evil -->\n"
        "* [x] <!-- retry=cattrs -->cattrs\n"
    )
    assert parse_ticks(body) == {("create", "attrs"), ("rebase", "six"), ("retry", "cattrs")}


def test_carried_ticks_stay_ticked() -> None:
    """A tick made during a run is rendered ticked on its box, or kept under pending requests."""
    body = render(
        DashboardView(
            items={"awaiting": [Item("attrs", "2")]},
            carried=frozenset({("create", "attrs"), ("rebase", "gone")}),
        )
    )
    assert parse_ticks(body) == {("create", "attrs"), ("rebase", "gone")}
    assert "## Pending requests" in body


@pytest.mark.parametrize(
    "hostile",
    [
        "1.0 -->\n- [x] <!-- create=attrs -->",
        "@root please",
        "/close",
        "#1 !2 ~label %milestone $3 &4",
        "`code` *bold* _it_ [link](http://x) <script>",
    ],
)
def test_upstream_text_is_inert(hostile: str) -> None:
    """Escaped upstream text cannot produce a tick, a marker, a mention, a reference or markup."""
    body = render(
        DashboardView(
            errors=[Failure("attrs", "pypi", Reason.BAD_RESPONSE, hostile)],
            items={"awaiting": [Item("six", hostile, hostile)]},
        )
    )
    assert parse_ticks(body) == set()
    assert body.count("<!--") == 1  # only the create box for six
    escaped = escape(hostile)
    for character in "<>[]@/#!~%$&`*_\n":
        assert character not in escaped.replace("&#", "").replace(";", "")


def test_links_are_percent_encoded_and_http_only() -> None:
    """A URL from upstream cannot close the link or inject markup; other schemes are not linked."""
    assert link("notes", "https://x.org/a b)<!--") == "[notes](https://x.org/a%20b%29%3C%21--)"
    assert link("notes", "javascript:alert(1)") == "notes"


def test_recipe_names_that_could_break_a_marker_get_no_box() -> None:
    """Only names from a safe alphabet are written into markers."""
    body = render(DashboardView(items={"awaiting": [Item("bad --> name", "1"), Item("good", "1")]}))
    assert "create=good" in body and "bad" not in body


def test_description_stays_under_gitlabs_limit() -> None:
    """Thousands of long errors are cut, counted, and never push the boxes out."""
    errors = [Failure(f"recipe{i}", "listing", Reason.BAD_RESPONSE, "x" * 500) for i in range(5000)]
    body = render(DashboardView(items={"awaiting": [Item("attrs", "2")]}, errors=errors))
    assert len(body) < MAX_CHARS
    assert "create=attrs" in body
    assert "more lines did not fit" in body


def test_last_run_time_is_shown() -> None:
    """The summary says when the last run finished."""
    body = render(DashboardView(last_run=datetime(2026, 11, 21, 10, 0, tzinfo=UTC), up_to_date=7))
    assert "- Up to date: 7" in body
    assert "- Last run finished: 2026-11-21 10:00 UTC" in body


def test_failed_pipelines_and_changed_files_have_sections_without_boxes() -> None:
    """Information a reviewer acts on outside the bot: listed, linked, escaped, no marker."""
    failed = Item(
        "attrs",
        "19.1.0",
        "18.2.0",
        mr_iid=3,
        mr_url="https://gitlab.example/p/-/merge_requests/3",
        pipeline="failed",
        pipeline_url="https://gitlab.example/p/-/pipelines/7",
    )
    hostile = Reupload("https://files.example/x-1.0.tar.gz", "a" * 64, "<!-- create=evil -->")
    body = render(
        DashboardView(
            items={"open": [failed]}, failed_pipelines=[failed], reuploads=[("x", hostile)]
        )
    )
    assert "## Failed pipelines" in body
    assert "(pipeline [failed](https://gitlab.example/p/-/pipelines/7))" in body
    assert "## Upstream file changed" in body
    assert f"recipe {'a' * 64}, upstream" in body
    assert parse_ticks(body.replace("[ ]", "[x]")) == {("rebase", "attrs")}


def test_a_notice_from_the_forge_is_escaped_on_the_open_line() -> None:
    """The forge's refusal text cannot forge a tick either."""
    item = Item(
        "six", "2", "1", mr_iid=4, notice="auto-merge not set yet: - [x] <!-- retry=six -->"
    )
    body = render(DashboardView(items={"open": [item]}))
    assert parse_ticks(body) == set()
    assert "auto-merge not set yet" in body
