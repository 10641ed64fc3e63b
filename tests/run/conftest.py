"""Fixtures for `recipe-bot run` scenarios."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from fake_gitlab import start_fake_gitlab
from support.servers import LocalHttpServer
from support.world import PROJECT, SATURDAY, LocalPyPI, World, recipe_text

from bot.config import Config, GitLabConfig, HttpConfig, LimitsConfig


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Build a world with recipes at given versions; PyPI starts with those versions published."""
    stack: list[Callable[[], None]] = []

    def build(recipes: Mapping[str, str], *, limits: LimitsConfig | None = None) -> World:
        server = LocalHttpServer().start()
        stack.append(server.stop)
        pypi = LocalPyPI(server)
        files = {
            f"{name}/meta.yaml": recipe_text(name, version) for name, version in recipes.items()
        }
        files["README.md"] = "# external recipes\n"
        fake = start_fake_gitlab(files=files)
        stack.append(fake.stop)
        fake.clock = lambda: SATURDAY  # replaced by scenarios that move time
        for name, version in recipes.items():
            pypi.publish(name, version)
        config = Config(
            checkers={"pypi": {"url": server.base}},
            http=HttpConfig(cache=str(tmp_path / "cache.sqlite"), timeout=5),
            gitlab=GitLabConfig(url=fake.url, project=PROJECT),
            limits=limits or LimitsConfig(open_merge_requests=10, merge_requests_per_hour=10),
        )
        return World(fake, pypi, config, {"GITLAB_TOKEN": fake.token})

    yield build
    for stop in reversed(stack):
        stop()
