"""The three parts of serve on their own: the HTTP server, the scheduler helpers, the package."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from serve.helpers import T0

import bot.serve
from bot.serve import scheduler as scheduling
from bot.serve.scheduler import SCHEDULED_JOB, WEBHOOK_JOB, DaemonThreadExecutor
from bot.serve.server import HttpServer, bind, listen_address
from bot.webhook import Response


class Echo:
    """A responder that answers with what it was asked, or fails when told to."""

    def __init__(self) -> None:
        self.fail = False

    def respond(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        read: Callable[[int], bytes],
        peer: str = "",
    ) -> Response:
        if self.fail:
            raise RuntimeError("a bug in the responder")
        return Response(200, {"method": method, "target": target, "peer": peer})


def _get(server: HttpServer, path: str) -> tuple[int, bytes]:
    host, port = server.address
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


@pytest.fixture
def serving() -> Iterator[Callable[[str], tuple[HttpServer, Echo]]]:
    """Bind and start servers on port 0 for a test; every one is stopped afterwards."""
    started: list[HttpServer] = []

    def start(host: str) -> tuple[HttpServer, Echo]:
        echo = Echo()
        server = bind(host, 0, echo)
        started.append(server)
        server.start(poll_interval=0.005)
        return server, echo

    yield start
    for server in started:
        server.stop()


def test_the_server_hands_each_request_to_its_responder(
    serving: Callable[[str], tuple[HttpServer, Echo]],
) -> None:
    """The server knows no routes: whatever the responder answers is written as JSON."""
    server, _ = serving("127.0.0.1")

    status, body = _get(server, "/anything?x=1")

    assert status == 200
    assert body == b'{"method": "GET", "target": "/anything?x=1", "peer": "127.0.0.1"}\n'


def test_a_failing_responder_is_a_500_and_the_server_goes_on(
    serving: Callable[[str], tuple[HttpServer, Echo]],
) -> None:
    """A bug in the responder gives one 500; the next request is answered normally."""
    server, echo = serving("127.0.0.1")
    echo.fail = True
    assert _get(server, "/") == (500, b'{"status": "error"}\n')
    echo.fail = False
    assert _get(server, "/")[0] == 200


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_an_ipv6_host_binds_an_ipv6_socket(
    serving: Callable[[str], tuple[HttpServer, Echo]],
) -> None:
    """ "[::1]" (brackets and all, as serve.listen writes it) is served over IPv6."""
    server, _ = serving("[::1]")

    assert server.address[0] == "::1"
    assert _get(server, "/")[0] == 200


@pytest.mark.parametrize(
    ("listen", "address"),
    [("0.0.0.0:8080", ("0.0.0.0", 8080)), ("[::]:9000", ("::", 9000)), (":80", ("", 80))],
)
def test_listen_address(listen: str, address: tuple[str, int]) -> None:
    """serve.listen splits at its last colon; IPv6 brackets are dropped."""
    assert listen_address(listen) == address


def test_a_server_never_started_stops_at_once() -> None:
    """stop() on a bound server that never served closes its socket without waiting."""
    server = bind("127.0.0.1", 0, Echo())
    host, port = server.address

    server.stop()

    with pytest.raises(OSError), socket.create_connection((host, port), timeout=1):
        pass


def test_schedule_helpers_add_one_cron_job_and_one_pending_webhook_run() -> None:
    """The cron job is added once; a second one-off is refused while the first is pending."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    try:
        runs: list[str] = []
        scheduling.schedule_runs(scheduler, DaemonThreadExecutor(), runs.append, "0 0 1 1 *", "UTC")
        soon = T0 + timedelta(seconds=5)

        assert scheduling.schedule_once(scheduler, runs.append, soon)
        assert not scheduling.schedule_once(scheduler, runs.append, soon + timedelta(hours=1))
        assert {job.id for job in scheduler.get_jobs()} == {SCHEDULED_JOB, WEBHOOK_JOB}
        assert scheduling.next_run(scheduler) == soon
        assert runs == []
    finally:
        scheduling.stop(scheduler)
    assert not scheduler.running


def test_the_package_keeps_its_public_names() -> None:
    """What the CLI and the tests import from bot.serve is still there, from its new module."""
    assert bot.serve.main.__module__ == "bot.serve.service"
    assert bot.serve.listen_address is listen_address
    assert bot.serve.CroniterTrigger.__module__ == "bot.serve.scheduler"
    assert bot.serve.Runner.__module__ == "bot.serve.runner"
    assert set(bot.serve.__all__) <= set(dir(bot.serve))
