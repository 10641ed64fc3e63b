"""What `list` imports: the config, the recipe readers and the checkers' signatures need no
HTTP client, so a command that sends nothing does not pay for importing requests and urllib3
(bot.pages holds the types they share with bot.http)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("requests", "urllib3", "bot.http", "bot.transport")


def _imported_after(statement: str) -> set[str]:
    code = f"{statement}; import json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


def test_what_list_needs_imports_no_http_client() -> None:
    modules = _imported_after("import bot.cli, bot.resolve, checkers, bot.pages")
    assert "bot.config" in modules and "checkers.listing" in modules  # the statement ran
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_the_http_client_still_brings_its_transport() -> None:
    assert {"requests", "urllib3", "bot.transport"} <= _imported_after("import bot.http")
