"""GitLab's failures in the bot's words, in one place: every GitLab call maps through here,
so a refused token, a missing project and an outage read the same wherever they happen. The
token never appears in a message."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import gitlab.exceptions
import requests

from bot.errors import ForgeError
from bot.forge.api import ForgeConflict
from bot.transport import HostRateLimited

T = TypeVar("T")


class Errors:
    """Maps exceptions of python-gitlab and requests to ForgeError, naming the action."""

    def __init__(self, project: str, token_env: str) -> None:
        self.project = project
        self.token_env = token_env

    def call(self, action: str, function: Callable[[], T], *, conflict: int | None = None) -> T:
        """`function()`, its failures as ForgeError; status `conflict` as ForgeConflict."""
        try:
            return function()
        except ForgeError:
            raise
        except Exception as exc:
            raise self.error(action, exc, conflict=conflict) from None

    def error(self, action: str, exc: Exception, *, conflict: int | None = None) -> ForgeError:
        if isinstance(exc, gitlab.exceptions.GitlabAuthenticationError):
            return ForgeError(
                f"GitLab refused the token while trying to {action} (401): check {self.token_env}"
            )
        if isinstance(exc, gitlab.exceptions.GitlabError):
            code = exc.response_code
            message = f"GitLab could not {action}: {code}: {short(exc.error_message)}"
            if code is not None and code == conflict:
                return ForgeConflict(message)
            if code == 404 and action == "find the project":
                return ForgeError(
                    f"GitLab project {self.project!r} not found (or the token cannot see it)"
                )
            if code == 403:
                return ForgeError(
                    f"GitLab forbade the bot to {action} (403): "
                    "the token needs the api scope and the Developer role"
                )
            return ForgeError(message)
        if isinstance(exc, requests.exceptions.RetryError | HostRateLimited):
            return ForgeError(f"GitLab is not answering ({action}): rate-limited or overloaded")
        if isinstance(exc, requests.RequestException):
            return ForgeError(f"GitLab is unreachable ({action}): {type(exc).__name__}")
        return ForgeError(f"GitLab call failed ({action}): {type(exc).__name__}: {short(exc)}")


def short(value: object) -> str:
    return " ".join(str(value).split())[:300]
