"""Structured logs: JSON lines off a terminal, one event per outcome, and secrets redacted."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from bot import log as logs
from bot.config import Config
from bot.errors import UpstreamUnavailable
from bot.http import Http, HttpSettings
from bot.model import Recipe, Release, Source
from bot.sweep import sweep

SECRET = "glpat-Zx9aQ2bW4cE6dR8fT0gY"


class FakeChecker:
    """A checker with canned answers: releases by recipe name, or an error to raise."""

    OPTIONS = frozenset({"package"})

    def __init__(self, answers: Mapping[str, list[Release] | Exception]) -> None:
        self.answers = answers

    def detect(self, url: str) -> dict[str, Any] | None:
        return {"package": url.rsplit("/", 1)[-1]}

    def releases(self, recipe: Recipe, options: Mapping[str, Any], ctx: Any) -> list[Release]:
        answer = self.answers[recipe.name]
        if isinstance(answer, Exception):
            raise answer
        return answer


def recipe(name: str, version: str) -> Recipe:
    return Recipe(
        name, f"{name}/meta.yaml", "conda-v0", version, (Source(f"https://example.org/{name}"),)
    )


def test_one_event_per_recipe_outcome() -> None:
    """Each checked recipe logs recipe_checked with checker, old, new, status and reason."""
    checker = FakeChecker(
        {
            "attrs": [Release("19.1.0"), Release("18.2.0")],
            "six": [Release("1.16.0")],
            "zlib": UpstreamUnavailable("https://zlib.net/: server error 503"),
        }
    )
    entries = [recipe("attrs", "18.2.0"), recipe("six", "1.16.0"), recipe("zlib", "1.3")]
    with Http(HttpSettings(cache=None)) as http, capture_logs() as events:
        sweep(
            entries,
            Config(),
            http,
            {"pypi": checker, "github": checker, "listing": checker},
            now=datetime(2026, 11, 21, tzinfo=UTC),
        )
    checked = {event["recipe"]: event for event in events if event["event"] == "recipe_checked"}
    assert checked["attrs"] | {"log_level": "info"} == {
        "event": "recipe_checked",
        "log_level": "info",
        "recipe": "attrs",
        "checker": "pypi",
        "old": "18.2.0",
        "new": "19.1.0",
        "status": "outdated",
        "reason": None,
        "error": None,
    }
    assert (checked["six"]["status"], checked["six"]["reason"]) == ("up-to-date", "up-to-date")
    assert (checked["zlib"]["status"], checked["zlib"]["reason"]) == (
        "error",
        "upstream-unavailable",
    )


def test_json_lines_when_not_a_terminal() -> None:
    """Off a terminal every event is one JSON object on one line, with level and timestamp."""
    stream = io.StringIO()
    logs.configure(stream=stream, level="INFO")
    structlog.get_logger().info("run_finished", actions={"created": 2}, duration=1.5)
    structlog.get_logger().debug("hidden")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "run_finished" and event["level"] == "info"
    assert event["actions"] == {"created": 2} and "timestamp" in event


def test_console_lines_when_asked() -> None:
    """On a terminal (forced here) events are readable lines, not JSON."""
    stream = io.StringIO()
    logs.configure(stream=stream, json=False)
    structlog.get_logger().warning("rewrite_failed", recipe="attrs")
    text = stream.getvalue()
    assert "rewrite_failed" in text and "recipe=attrs" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_secrets_are_redacted_everywhere() -> None:
    """A configured token never reaches the output: not in values, nested data or tracebacks."""
    stream = io.StringIO()
    logs.configure(stream=stream, secrets=[SECRET])
    log = structlog.get_logger()
    log.error("gitlab_call", url=f"https://gitlab.example/api?private_token={SECRET}")
    log.error("nested", request={"headers": {"PRIVATE-TOKEN": SECRET}, "list": [SECRET]})
    try:
        raise RuntimeError(f"refused token {SECRET}")
    except RuntimeError:
        log.exception("crashed")
    output = stream.getvalue()
    assert SECRET not in output
    assert output.count(logs.REDACTED) >= 4
    assert all(json.loads(line) for line in output.splitlines())


def test_token_shapes_are_redacted_without_configuration() -> None:
    """Strings shaped like GitLab/GitHub tokens or bearer headers are caught even if unknown."""
    redactor = logs.Redactor()
    for text in (
        "glpat-abcdefghijklmnopqrst",
        "ghp_" + "a" * 36,
        "Authorization: Bearer abc.def.ghi-jkl",
        "GET /api/v4/projects?private_token=abcdefgh12345",
        "X-Gitlab-Token: s3cr3tvalue99",
        "glcbt-abcdefghij1234",
    ):
        assert logs.REDACTED in redactor.scrub(text), text
    assert (
        redactor.scrub("attrs 19.1.0 from https://pypi.org") == "attrs 19.1.0 from https://pypi.org"
    )
    for prose in ("JSON Web Token implementation", "set GITHUB_TOKEN authentication up"):
        assert redactor.scrub(prose) == prose  # a diff or a dashboard must not be mangled


def test_a_password_written_in_a_url_is_redacted() -> None:
    """`https://user:secret@mirror/` in an error keeps its user and host, loses its secret;
    ports, mail addresses and git remotes are left alone."""
    redactor = logs.Redactor()
    shown = redactor.scrub("https://robot:t0ken-xyz@mirror.example/pypi/attrs/json: 404 not found")
    assert shown == f"https://robot:{logs.REDACTED}@mirror.example/pypi/attrs/json: 404 not found"
    for text in (
        "http://127.0.0.1:8080/dist/a@1.0/",
        "git@github.com:o/r.git",
        "mail maintainer@example.org",
    ):
        assert redactor.scrub(text) == text


def test_secret_values_come_from_the_named_variables() -> None:
    """The values of the configured token variables (and the usual ones) are what gets redacted."""
    values = logs.secret_values(
        ["MY_GITLAB"], {"MY_GITLAB": "s3cret-value", "GITHUB_TOKEN": "gh-value-1", "HOME": "/root"}
    )
    assert sorted(values) == ["gh-value-1", "s3cret-value"]


@pytest.mark.parametrize("status", [400, 409, 422])
def test_a_token_echoed_by_gitlab_never_reaches_stderr(
    status: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A GitLab that quotes the token back in its error: `run failed: ...` is scrubbed."""
    from support.servers import LocalHttpServer, Reply, Request

    from bot.cli import main

    token = "a-plain-token-" + "Zx9" * 6  # not token-shaped: only its value can catch it

    def echo(request: Request) -> Reply:
        quoted = request.headers.get("private-token", "none")
        body = json.dumps({"message": f"{status} token {quoted} was revoked"})
        return Reply(status, body, headers={"Content-Type": "application/json"})

    server = LocalHttpServer()
    server.routes["/*"] = echo
    server.start()
    monkeypatch.setenv("GITLAB_TOKEN", token)
    config = tmp_path / "recipe-bot.yaml"
    config.write_text(
        f"gitlab: {{url: '{server.base}', project: a/b}}\n"
        f"http: {{cache: {tmp_path / 'cache.sqlite'}}}\n"
    )
    try:
        code = main(["run", "--config", str(config), "--recipes", str(tmp_path)])
    finally:
        server.stop()

    captured = capsys.readouterr()
    assert code == 1
    assert server.paths(), "the run did ask GitLab"
    assert "recipe-bot: run failed:" in captured.err and "revoked" in captured.err
    assert token not in captured.err + captured.out


def test_a_crash_traceback_is_scrubbed_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug's traceback is printed through the scrubbed stderr, with exit 1."""
    from bot import cli

    token = "glpat-" + "Q7" * 10
    monkeypatch.setenv("GITLAB_TOKEN", token)

    def crash(args: object) -> int:
        raise RuntimeError(f"unexpected: {token}")

    monkeypatch.setattr(cli, "cmd_list", crash)

    code = cli.main(["list", "."])

    err = capsys.readouterr().err
    assert code == 1
    assert "RuntimeError" in err and "Traceback" in err
    assert token not in err


def test_a_second_redacted_output_replaces_the_first_instead_of_nesting(capsys) -> None:
    """Each pass costs a scrub of everything printed: the config's redactor takes over."""
    from bot import log as logs

    with logs.redacted_output(logs.Redactor(["first-secret-1"])):
        with logs.redacted_output(logs.Redactor(["first-secret-1", "second-secret-2"])):
            assert not isinstance(sys.stdout._stream, logs.RedactedStream)  # type: ignore[attr-defined]
            print("first-secret-1 and second-secret-2")
        print("after: first-secret-1")
    out = capsys.readouterr().out
    assert "first-secret-1" not in out and "second-secret-2" not in out
    assert out.count(logs.REDACTED) == 3


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: BEARER abcdefghijkl0123",
        "PRIVATE-TOKEN: abcdefgh1234",
        "X-Gitlab-Token=s3cr3t-value-99",
        "use Token 1234567890abcdef here",
    ],
)
def test_case_insensitive_token_shapes_are_scrubbed_in_any_case(text: str) -> None:
    """The quick word check before the slow patterns must not miss an upper-case spelling."""
    from bot import log as logs

    assert logs.REDACTED in logs.Redactor().scrub(text)


def test_text_without_token_shapes_is_left_as_it_is() -> None:
    """Recipe output (names, versions, URLs) goes through untouched."""
    from bot import log as logs

    text = '{"recipe": "attrs", "checker": "github", "url": "https://github.com/o/r"}\n' * 3
    assert logs.Redactor().scrub(text) == text
