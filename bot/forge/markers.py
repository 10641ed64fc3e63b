"""How the bot knows its own work on any forge: a hidden marker in a merge request's
description (design.md) and a trailer in its commits. Never the author: a new token loses
nothing. A branch whose head lacks the trailer has been pushed to by someone else."""

from __future__ import annotations

import re

MARKER = re.compile(r"<!-- recipe-bot: recipe=([A-Za-z0-9._+-]+) version=(\S+?) -->")
TRAILER = re.compile(r"^Recipe-Bot: recipe=([A-Za-z0-9._+-]+) version=(\S+)$", re.MULTILINE)


def marker(recipe: str, version: str) -> str:
    return f"<!-- recipe-bot: recipe={recipe} version={version} -->"


def trailer(recipe: str, version: str) -> str:
    return f"Recipe-Bot: recipe={recipe} version={version}"
