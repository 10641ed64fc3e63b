"""Fixtures for the serve tests: a service on 127.0.0.1:0 whose scheduler never fires by itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from serve.helpers import SECRET, FakeCycle, Running, StillClock

from bot.config import Config, GitLabConfig
from bot.serve import Service


@pytest.fixture
def config() -> Config:
    return Config(
        gitlab=GitLabConfig(url="https://gitlab.example.com", project="packaging/external-recipes")
    )


@pytest.fixture
def clock() -> StillClock:
    return StillClock()


@pytest.fixture
def cycle() -> FakeCycle:
    return FakeCycle()


@pytest.fixture
def paused_scheduler() -> Iterator[BackgroundScheduler]:
    """A started but paused scheduler: jobs get their next run times, none of them fires."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    yield scheduler
    if scheduler.running:
        scheduler.shutdown(wait=False)


@pytest.fixture
def start_service(
    config: Config, clock: StillClock, cycle: FakeCycle, paused_scheduler: BackgroundScheduler
) -> Iterator[Callable[..., Running]]:
    """Start a service (options override the defaults); every one is shut down afterwards."""
    started: list[Service] = []

    def start(**options: Any) -> Running:
        settings: dict[str, Any] = {
            "job": cycle,
            "secret": SECRET,
            "scheduler": paused_scheduler,
            "clock": clock,
            "shutdown_wait": 1.0,
            "poll_interval": 0.005,
        }
        settings.update(options)
        service = Service(
            options.pop("config", config), **{k: v for k, v in settings.items() if k != "config"}
        )
        started.append(service)
        host, port = service.start("127.0.0.1", 0)
        return Running(service, host, port)

    yield start
    cycle.release.set()
    for service in started:
        service.shutdown()


@pytest.fixture
def running(start_service: Callable[..., Running]) -> Running:
    """The service with the defaults: the webhook secret set, a paused scheduler, a still clock."""
    return start_service()
