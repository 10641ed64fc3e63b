"""What a merge request says an update changed comes from the recipe's format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_gitlab import start_fake_gitlab
from support.servers import LocalHttpServer
from support.world import PROJECT, SATURDAY, LocalPyPI, World, recipe_text

from bot.config import Config, ConstraintsFile, GitLabConfig, HttpConfig, LimitsConfig

PINS = "# pipeline pins\nattrs==18.2.0\nrequests==2.31.0  # held back\n"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A repository with a constraints file (and its YAML copy) beside a conda recipe."""
    server = LocalHttpServer().start()
    pypi = LocalPyPI(server)
    files = {
        "constraints.txt": PINS,
        "pipeline/constraints.yml": "stale: true\n",
        "demo/meta.yaml": recipe_text("demo", "1.0"),
    }
    fake = start_fake_gitlab(files=files)
    fake.clock = lambda: SATURDAY
    pypi.publish("attrs", "18.2.0", "19.1.0")
    pypi.publish("requests", "2.31.0")
    pypi.publish("demo", "1.0", "2.0")
    config = Config(
        checkers={"pypi": {"url": server.base}},
        http=HttpConfig(cache=str(tmp_path / "cache.sqlite"), timeout=5),
        gitlab=GitLabConfig(url=fake.url, project=PROJECT),
        limits=LimitsConfig(open_merge_requests=10, merge_requests_per_hour=10),
        constraints=(ConstraintsFile("constraints.txt", "pipeline/constraints.yml"),),
    )
    try:
        yield World(fake, pypi, config, {"GITLAB_TOKEN": fake.token})
    finally:
        fake.stop()
        server.stop()


def test_a_pin_update_says_only_the_pin_changed(world: World) -> None:
    """The constraints merge request moves the pin and never claims a build-number reset."""
    world.run(SATURDAY)

    by_title = {mr.title: mr for mr in world.merge_requests()}
    pin = by_title["Update attrs to 19.1.0"]
    assert "Only the pin changed." in pin.description
    assert "build number" not in pin.description
    head = world.project.repo.head(pin.source_branch)
    assert head.files["constraints.txt"] == PINS.replace("attrs==18.2.0", "attrs==19.1.0")
    assert "19.1.0" in head.files["pipeline/constraints.yml"]


def test_a_conda_update_still_says_the_build_number_was_reset(world: World) -> None:
    """The conda merge request keeps its sentence, and its recipe's build number is 0."""
    world.run(SATURDAY)

    by_title = {mr.title: mr for mr in world.merge_requests()}
    conda = by_title["Update demo to 2.0"]
    assert "The build number was reset to 0. Review the upstream changes" in conda.description
    assert "Only the pin changed." not in conda.description
    assert "number: 0" in world.project.repo.head(conda.source_branch).files["demo/meta.yaml"]
