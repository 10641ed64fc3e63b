"""Merge requests as reviewers live with them: conflicts, pipelines, auto-merge, hints and
re-uploaded files, against the fake GitLab's line-level three-way merges."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fake_gitlab import start_fake_gitlab
from ruamel.yaml import YAML
from support.servers import LocalHttpServer
from support.world import PROJECT, SATURDAY, LocalPyPI, World, recipe_text

from bot.config import (
    Config,
    ConstraintsFile,
    GitLabConfig,
    HttpConfig,
    LimitsConfig,
    MergeRequestsConfig,
)

NAMES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")
PINS = "# pipeline pins, one per line\n" + "".join(f"{name}==1.0\n" for name in NAMES)


@pytest.fixture
def make_pins(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """A repository whose constraints.txt holds six adjacent pins (and its YAML copy), each of
    which has a new release upstream; plus a conda recipe, `demo`, at its latest version."""
    stops: list[Callable[[], None]] = []

    def build(**merge_requests: object) -> World:
        server = LocalHttpServer().start()
        stops.append(server.stop)
        pypi = LocalPyPI(server)
        files = {
            "constraints.txt": PINS,
            "pipeline/constraints.yml": "{}\n",
            "demo/meta.yaml": recipe_text("demo", "1.0"),
        }
        fake = start_fake_gitlab(files=files)
        stops.append(fake.stop)
        fake.clock = lambda: SATURDAY
        for name in NAMES:
            pypi.publish(name, "1.0", "2.0")
        pypi.publish("demo", "1.0")
        config = Config(
            checkers={"pypi": {"url": server.base}},
            http=HttpConfig(cache=str(tmp_path / "cache.sqlite"), timeout=5),
            gitlab=GitLabConfig(url=fake.url, project=PROJECT),
            limits=LimitsConfig(open_merge_requests=10, merge_requests_per_hour=10),
            constraints=(ConstraintsFile("constraints.txt", "pipeline/constraints.yml"),),
            merge_requests=replace(MergeRequestsConfig(), **merge_requests),  # type: ignore[arg-type]
        )
        return World(fake, pypi, config, {"GITLAB_TOKEN": fake.token})

    yield build
    for stop in reversed(stops):
        stop()


def open_by_recipe(world: World) -> dict[str, object]:
    """The open merge requests by recipe; fails on a duplicate."""
    found: dict[str, object] = {}
    for mr in world.merge_requests("opened"):
        recipe = mr.source_branch.removeprefix("recipe-bot/")
        assert recipe not in found, f"two open merge requests for {recipe}"
        found[recipe] = mr
    return found


def conflicted(world: World) -> list[str]:
    return sorted(
        mr.source_branch for mr in world.merge_requests("opened") if world.project.conflicts(mr)
    )


def pins_on_main(world: World) -> dict[str, str]:
    text = world.project.file("constraints.txt")
    assert text is not None
    return dict(line.split("==") for line in text.splitlines() if "==" in line)


def yaml_copy_on_main(world: World) -> object:
    return YAML(typ="safe").load(world.project.file("pipeline/constraints.yml"))


def test_six_adjacent_pins_merged_one_an_hour_all_land(make_pins) -> None:
    """Each merge conflicts the neighbours; each run regenerates them; all six reach main."""
    world = make_pins()
    clock = SATURDAY
    world.run(clock)
    assert sorted(open_by_recipe(world)) == sorted(NAMES)
    merged = 0
    while open_by_recipe(world):
        assert conflicted(world) == [], "a merge request stayed conflicted past a run"
        first = min(world.merge_requests("opened"), key=lambda mr: mr.iid)
        world.gitlab.merge_merge_request(first.iid)
        merged += 1
        if merged < len(NAMES):
            assert conflicted(world), "adjacent pins should conflict after a merge"
        clock += timedelta(hours=1)
        world.gitlab.clock = lambda moment=clock: moment
        world.run(clock)
        open_by_recipe(world)  # no duplicates
    assert merged == len(NAMES)
    assert pins_on_main(world) == {name: "2.0" for name in NAMES}
    copy = yaml_copy_on_main(world)
    assert "2.0" in str(copy) and "1.0" not in str(copy)
    body = world.dashboard().description
    assert "conflicted" not in body


def test_a_human_edit_on_the_target_is_kept_by_the_regeneration(make_pins) -> None:
    """Someone changes a neighbouring line on main: the bot's branch is rebuilt on top of it."""
    world = make_pins()
    world.run(SATURDAY)
    edited = PINS.replace("charlie==1.0\n", "charlie==1.0\nhuman-added==3.1  # by hand\n")
    world.gitlab.push_to_branch("main", {"constraints.txt": edited})
    before = {recipe: mr.iid for recipe, mr in open_by_recipe(world).items()}
    stuck = conflicted(world)
    assert stuck == ["recipe-bot/charlie", "recipe-bot/delta"]
    world.run(SATURDAY + timedelta(hours=1))
    assert conflicted(world) == []
    after = {recipe: mr.iid for recipe, mr in open_by_recipe(world).items()}
    assert after == before  # regenerated in place, not reopened
    for branch in stuck:
        head = world.project.repo.head(branch)
        assert "human-added==3.1  # by hand" in head.files["constraints.txt"]
    for recipe in NAMES:  # and merging them all keeps the hand edit
        world.gitlab.merge_merge_request(open_by_recipe(world)[recipe].iid)
        world.run(SATURDAY + timedelta(hours=2))
    assert "human-added==3.1  # by hand" in (world.project.file("constraints.txt") or "")
    assert pins_on_main(world) == {
        **{name: "2.0" for name in NAMES},
        "human-added": "3.1  # by hand",
    }


def test_rebase_never_leaves_conflicts_for_the_reviewer(make_pins) -> None:
    """With `rebase: never` the bot does not touch a conflicted merge request."""
    world = make_pins(rebase="never")
    world.run(SATURDAY)
    first = min(world.merge_requests("opened"), key=lambda mr: mr.iid)
    world.gitlab.merge_merge_request(first.iid)
    stuck = conflicted(world)
    world.run(SATURDAY + timedelta(hours=1))
    assert conflicted(world) == stuck != []


def test_a_human_push_is_not_regenerated_away(make_pins) -> None:
    """A conflicted merge request someone else pushed to stays theirs, listed as edited."""
    world = make_pins()
    world.run(SATURDAY)
    mrs = open_by_recipe(world)
    bravo = mrs["bravo"]
    world.gitlab.push_to_branch(bravo.source_branch, {"NOTES.md": "reviewer was here\n"})
    world.gitlab.merge_merge_request(mrs["alpha"].iid)
    world.run(SATURDAY + timedelta(hours=1))
    head = world.project.repo.head(bravo.source_branch)
    assert head.files.get("NOTES.md") == "reviewer was here\n"
    assert "## Edited by someone else" in world.dashboard().description


def test_failed_pipelines_are_shown_with_their_links(make_pins) -> None:
    """The dashboard lists failed pipelines in their own section; open lines show the status."""
    world = make_pins()
    world.run(SATURDAY)
    mrs = open_by_recipe(world)
    world.gitlab.set_pipeline(mrs["alpha"].source_branch, "failed")
    world.gitlab.set_pipeline(mrs["bravo"].source_branch, "running")
    world.run(SATURDAY + timedelta(hours=1))
    body = world.dashboard().description
    failed_section = body.split("## Failed pipelines", 1)[1].split("##", 1)[0]
    assert "**alpha**" in failed_section and "**bravo**" not in failed_section
    assert "/pipelines/" in failed_section
    assert "(pipeline running)" in body or "(pipeline [running](" in body


def test_automerge_off_sets_nothing(make_pins) -> None:
    """By default the bot never asks GitLab to merge."""
    world = make_pins()
    world.project.auto_pipelines = True
    world.run(SATURDAY)
    assert not any(mr.auto_merge_by is not None for mr in world.merge_requests("opened"))


def test_automerge_moves_a_test_gated_constraints_file_without_a_human(make_pins) -> None:
    """Pipelines pass one by one; GitLab merges, the bot regenerates the conflicted rest."""
    world = make_pins(automerge=True)
    world.project.auto_pipelines = True
    clock = SATURDAY
    world.run(clock)
    for _ in range(len(NAMES) * 2):
        mrs = world.merge_requests("opened")
        if not mrs:
            break
        armed = [mr for mr in mrs if mr.auto_merge_by is not None]
        assert armed, "auto-merge should be set on the bot's merge requests"
        first = min(armed, key=lambda mr: mr.iid)
        world.gitlab.set_pipeline(world.project.current_sha(first), "success")
        assert first.state == "merged"
        clock += timedelta(hours=1)
        world.gitlab.clock = lambda moment=clock: moment
        world.run(clock)
        assert conflicted(world) == []
    assert world.merge_requests("opened") == []
    assert pins_on_main(world) == {name: "2.0" for name in NAMES}


def test_a_refused_automerge_is_a_line_and_is_asked_again(make_pins) -> None:
    """A draft cannot be set to merge: the dashboard says so, and the next run asks again."""
    world = make_pins(automerge=True)
    world.project.auto_pipelines = True
    world.run(SATURDAY)
    alpha = open_by_recipe(world)["alpha"]
    world.project.disarm_auto_merge(alpha)
    alpha.title = "Draft: " + alpha.title
    world.run(SATURDAY + timedelta(hours=1))
    assert "auto-merge not set yet: 405" in world.dashboard().description
    alpha.title = alpha.title.removeprefix("Draft: ")
    world.run(SATURDAY + timedelta(hours=2))
    assert alpha.auto_merge_by is not None
    assert "auto-merge not set yet" not in world.dashboard().description


def test_the_description_hints_at_changed_requirements(make_pins) -> None:
    """PyPI's per-version metadata: a new dependency and a higher floor reach the description."""
    world = make_pins()
    world.pypi.publish("alpha", requires={"1.0": ["six"], "2.0": ["six>=1.16", "click>=8"]})
    world.run(SATURDAY)
    alpha = open_by_recipe(world)["alpha"]
    assert "### What changed upstream" in alpha.description
    assert "new dependency: click&#62;=8" in alpha.description
    assert "dependency changed: six &#8594; six&#62;=1.16" in alpha.description


def test_a_reuploaded_file_is_reported_never_rewritten(make_pins) -> None:
    """The upstream replaces demo 1.0's archive: both hashes on the dashboard, no change."""
    world = make_pins()
    new_hash = world.pypi.replace_file("demo", "1.0")
    world.run(SATURDAY)
    body = world.dashboard().description
    section = body.split("## Upstream file changed", 1)[1].split("##", 1)[0]
    assert "**demo**" in section and new_hash in section
    assert "demo" not in open_by_recipe(world)
    assert world.project.file("demo/meta.yaml") == recipe_text("demo", "1.0")
