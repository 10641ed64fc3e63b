"""`recipe-bot run`, a process of its own, checks in several processes beside its lock's
heartbeat thread and opens exactly the merge requests a one-process run opens.

A process of its own because this one has the fake GitLab's and PyPI's threads, beside which
the sweep rightly refuses to fork (bot.forking).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.world import SATURDAY

RECIPES = {"attrs": "18.2.0", "idna": "2.0", "six": "1.15.0", "toolz": "0.11.0"}


def test_a_run_checking_in_two_processes_opens_each_merge_request_once(
    make_world, tmp_path: Path
) -> None:
    world = make_world(RECIPES)
    world.pypi.publish("attrs", "19.1.0")
    world.pypi.publish("six", "1.16.0")
    config = {
        "checkers": {"pypi": {"url": world.config.checkers["pypi"]["url"]}},
        "http": {"cache": str(tmp_path / "cache.sqlite"), "timeout": 5, "processes": 2},
        "gitlab": {"url": world.config.gitlab.url, "project": world.config.gitlab.project},
        "limits": {"open_merge_requests": 10, "merge_requests_per_hour": 10},
    }
    (tmp_path / "recipe-bot.yaml").write_text(json.dumps(config))
    env = {**os.environ, **world.environ, "RECIPE_BOT_LOG_LEVEL": "INFO"}
    command = [sys.executable, "-m", "bot", "run", "--config", str(tmp_path / "recipe-bot.yaml")]
    for _ in range(2):  # the second run finds both merge requests open: it opens none again
        done = subprocess.run(
            [*command, "--now", SATURDAY.isoformat()],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        forked = [e for e in events if e["event"] == "checking_in_processes"]
        assert forked and forked[0]["processes"] == 2, "the run checked in one process"
        checked = sorted(e["recipe"] for e in events if e["event"] == "recipe_checked")
        assert checked == sorted(RECIPES)
        world.gitlab.check()
    titles = sorted(mr.title for mr in world.merge_requests())
    assert titles == ["Update attrs to 19.1.0", "Update six to 1.16.0"]
