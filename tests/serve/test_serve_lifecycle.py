"""Starting and stopping: signals, the bounded wait for a run, and `serve` as a command."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
from serve.helpers import SECRET, FakeCycle, Running, payload
from structlog.testing import capture_logs

from bot import cli
from bot.config import Config, GitLabConfig, ServeConfig
from bot.serve import main, service_for

GITLAB = GitLabConfig(url="https://gitlab.example.com", project="packaging/external-recipes")


def refuses_connections(running: Running) -> bool:
    try:
        socket.create_connection((running.host, running.port), timeout=1).close()
    except OSError:
        return True
    return False


def eventually(condition: Callable[[], bool], timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- SIGTERM and SIGINT --------------------------------------------------------------------------


def test_sigterm_stops_webhooks_lets_the_run_finish_and_exits_0(
    running: Running, cycle: FakeCycle
) -> None:
    """On SIGTERM the port closes at once, the current run completes, then shutdown returns 0."""
    cycle.block = True
    service = running.service
    run = threading.Thread(target=service.runner.run, args=("schedule",))
    run.start()
    assert cycle.started.wait(1)
    service.handle_signal(signal.SIGTERM, None)
    service.wait()  # returns at once: a stop was requested
    codes: list[int] = []
    stopping = threading.Thread(target=lambda: codes.append(service.shutdown()))
    stopping.start()
    assert eventually(lambda: refuses_connections(running))
    assert stopping.is_alive()  # still waiting for the run
    cycle.release.set()
    stopping.join(1)
    run.join(1)
    assert codes == [0]
    assert service.runner.last is not None and service.runner.last.exit_code == 0
    assert cycle.calls == 1


def test_no_run_starts_after_sigterm(running: Running, cycle: FakeCycle) -> None:
    """A scheduled or queued run that comes due during shutdown does not start."""
    running.service.handle_signal(signal.SIGTERM, None)
    assert running.service.shutdown() == 0
    running.service.runner.run("schedule")
    assert cycle.calls == 0


def test_the_wait_for_a_stuck_run_is_bounded(
    start_service: Callable[..., Running], cycle: FakeCycle
) -> None:
    """A run that does not finish within shutdown_wait is abandoned; the service still exits 0."""
    running = start_service(shutdown_wait=0.05)
    cycle.block = True
    run = threading.Thread(target=running.service.runner.run, args=("schedule",), daemon=True)
    run.start()
    assert cycle.started.wait(1)
    started = time.monotonic()
    with capture_logs() as logs:
        assert running.service.shutdown() == 0
    assert time.monotonic() - started < 0.5
    assert "shutdown_abandoned_run" in [entry["event"] for entry in logs]
    cycle.release.set()
    run.join(1)


def test_a_second_signal_stops_waiting(running: Running, cycle: FakeCycle) -> None:
    """SIGINT twice (an impatient operator) ends the wait for the run at once."""
    cycle.block = True
    run = threading.Thread(target=running.service.runner.run, args=("schedule",), daemon=True)
    run.start()
    assert cycle.started.wait(1)
    running.service.handle_signal(signal.SIGINT, None)
    codes: list[int] = []
    stopping = threading.Thread(target=lambda: codes.append(running.service.shutdown()))
    stopping.start()
    running.service.handle_signal(signal.SIGINT, None)
    stopping.join(1)
    assert codes == [0]
    assert running.service.runner.running  # abandoned, not finished
    cycle.release.set()
    run.join(1)


def test_webhooks_are_refused_while_stopping(running: Running) -> None:
    """A relevant webhook that slips in during shutdown is answered 503, not scheduled."""
    running.service.runner.close()
    running.service._stopping = True  # the state shutdown() enters before closing the port
    try:
        reply = running.webhook(payload("issue_hook"))
    finally:
        # Let the fixture's shutdown() run for real, or the server thread would outlive the test.
        running.service._stopping = False
    assert reply.status == 503


# --- the command ---------------------------------------------------------------------------------


def test_main_serves_until_sigint_and_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    """`recipe-bot serve` answers /healthz; SIGINT makes it exit 0 with the handlers restored."""
    import http.client

    port = free_port()
    config = Config(
        gitlab=GITLAB, serve=ServeConfig(schedule="0 0 1 1 *", listen=f"127.0.0.1:{port}")
    )
    monkeypatch.setenv("RECIPE_BOT_WEBHOOK_SECRET", SECRET)
    before = signal.getsignal(signal.SIGINT)
    statuses: list[int] = []

    def probe_then_interrupt() -> None:
        def healthy() -> bool:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                connection.request("GET", "/healthz")
                statuses.append(connection.getresponse().status)
                connection.close()
            except OSError:
                return False
            return True

        eventually(healthy, timeout=3)
        os.kill(os.getpid(), signal.SIGINT)

    prober = threading.Thread(target=probe_then_interrupt)
    prober.start()
    try:
        assert main(config) == 0
    finally:
        prober.join(3)
    assert statuses == [200]
    assert signal.getsignal(signal.SIGINT) is before


def test_main_exits_1_when_the_port_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    """A port already in use is a clear message and exit 1, not a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = Config(gitlab=GITLAB, serve=ServeConfig(listen=f"127.0.0.1:{port}"))
        assert main(config) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_a_missing_gitlab_token_fails_the_run_and_health_says_so(
    start_service: Callable[..., Running],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With the real cycle and no GITLAB_TOKEN, the run exits 1 naming it; /healthz is 503."""
    from functools import partial

    from bot.run import main as run_main

    monkeypatch.delenv("GITLAB_TOKEN", raising=False)
    config = Config(
        gitlab=GitLabConfig(url="https://gitlab.invalid", project="packaging/external-recipes")
    )
    job = partial(run_main, config, recipes=None, dry_run=False, now=None)
    running = start_service(job=job, config=config)
    running.service.runner.run("schedule")
    reply = running.request("GET", "/healthz")
    assert reply.status == 503
    assert reply.json["last_run"]["exit_code"] == 1
    assert "GITLAB_TOKEN" in capsys.readouterr().err


def test_an_invalid_serve_config_stops_the_command_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad `serve:` section is a configuration error (exit 2) naming the key; nothing listens."""
    saved = structlog.get_config()
    path = tmp_path / "recipe-bot.yaml"
    try:
        for text, key in [
            ("serve: {listen: nonsense}\n", "serve.listen"),
            ("serve: {schedule: '0 * * *'}\n", "serve.schedule"),
            ("serve: {webhook_secret: x}\n", "serve.webhook_secret"),
        ]:
            path.write_text(text)
            assert cli.main(["serve", "--config", str(path)]) == 2
            assert key in capsys.readouterr().err
    finally:
        structlog.configure(**saved)


def test_serve_without_a_gitlab_project_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Serving with no GitLab to run against stops at once (exit 2) instead of failing hourly."""
    path = tmp_path / "recipe-bot.yaml"
    path.write_text("gitlab: {url: https://gitlab.example.com}\n")
    saved = structlog.get_config()
    try:
        assert cli.main(["serve", "--config", str(path)]) == 2
    finally:
        structlog.configure(**saved)
    assert "gitlab.url and gitlab.project are needed to serve" in capsys.readouterr().err


def test_the_secret_is_read_from_the_configured_variable() -> None:
    """`serve.webhook_secret_env` names the variable whose value X-Gitlab-Token must carry."""
    config = Config(serve=ServeConfig(webhook_secret_env="HOOK_SECRET"))
    service = service_for(
        config, {"HOOK_SECRET": "from-the-env", "RECIPE_BOT_WEBHOOK_SECRET": SECRET}
    )
    service.scheduler.start(paused=True)
    host, port = service.start("127.0.0.1", 0)
    try:
        running = Running(service, host, port)
        assert running.webhook(payload("issue_hook"), token=SECRET).status == 401
        assert running.webhook(payload("issue_hook"), token="from-the-env").status == 202
    finally:
        service.shutdown()


def test_an_empty_secret_counts_as_none() -> None:
    """A variable set to the empty string does not make an empty token acceptable."""
    config = Config(serve=ServeConfig(webhook_secret_env="HOOK_SECRET"))
    service = service_for(config, {"HOOK_SECRET": ""})
    service.scheduler.start(paused=True)
    host, port = service.start("127.0.0.1", 0)
    try:
        assert Running(service, host, port).webhook(payload("issue_hook"), token="").status == 403
    finally:
        service.shutdown()
