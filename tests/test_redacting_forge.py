"""RedactingForge: the prose of every write is scrubbed, files and reads pass as they are."""

from __future__ import annotations

from typing import Any

from bot.forge.redacting import RedactingForge
from bot.log import REDACTED, Redactor
from bot.markdown import escape
from bot.model import FileEdit, MergeRequestPlan

SECRET = "s3cr3t_value-42"


class Recorder:
    """Records what reaches the forge behind the wrapper."""

    write_guard = None

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args + tuple(kwargs.values())))
            if name == "edit_issue":
                return args[1]("current text")
            return None

        return record


def wrapped() -> tuple[RedactingForge, Recorder]:
    inner = Recorder()
    redactor = Redactor([SECRET, escape(SECRET)])
    return RedactingForge(inner, redactor), inner  # type: ignore[arg-type]


def test_prose_is_scrubbed_in_every_write() -> None:
    forge, inner = wrapped()
    plan = MergeRequestPlan(
        recipe="attrs",
        version="19.1.0",
        branch="recipe-bot/attrs",
        title=f"attrs {SECRET}",
        description=f"failed: {escape('token ' + SECRET)}",
        commit_message=f"Update ({SECRET})",
        edits=(FileEdit("attrs/meta.yaml", "sha256: old\n", f"sha256: {SECRET}\n"),),
    )
    forge.create_merge_request(plan)
    forge.update_merge_request(3, plan)
    forge.close_merge_request(3, f"closed: {SECRET}")
    forge.create_issue("Dashboard", ["bot"], f"- attrs: {escape(SECRET)}")
    assert forge.edit_issue(1, lambda current: f"{current} {SECRET}") == f"current text {REDACTED}"
    forge.close_issue(1, SECRET)
    forge.write_branch("b", plan.edits, f"msg {SECRET}", start_sha=None)
    # A recipe's file is committed as it is: its text is not prose.
    name, (_, edits, message, _) = inner.calls[-1]
    assert (name, edits, message) == ("write_branch", plan.edits, f"msg {REDACTED}")
    prose = repr(inner.calls[:-1]).replace(repr(plan.edits), "")
    assert SECRET not in prose and escape(SECRET) not in prose
    assert prose.count("REDACTED") == 9  # 3 in each plan, and each comment and description


def test_the_run_lock_sets_the_guard_of_the_forge_that_writes() -> None:
    forge, inner = wrapped()

    def guard() -> None:
        pass

    forge.write_guard = guard
    assert inner.write_guard is guard and forge.write_guard is guard
