"""Structured logs: JSON lines when stderr is not a terminal, readable lines when it is.

Secrets never reach a log line: `redact` replaces the values of the token environment
variables the config names, and anything shaped like a GitLab or GitHub token or an
Authorization header, in every string of every event.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[REDACTED]"
# Token shapes worth catching even when they did not come from a configured variable. Two
# patterns: the case-sensitive shapes start with a literal, which `re` finds fast; the
# case-insensitive ones are slow to scan for (a quarter of a second over `list --json` at
# 10,000 recipes), and all contain "token" or "bearer", so they run only on text that does.
_CASED_TOKENS = re.compile(
    r"gl(?:pat|cbt|dt|rt|ptt|ft|imt|agent|oas|soat)-[A-Za-z0-9_\-]{10,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
)
_UNCASED_TOKENS = re.compile(
    r"(?i:private_token|access_token|x-gitlab-token)[\"':= ]+[A-Za-z0-9._\-]{8,}"
    r"|\b(?i:bearer)\s+[A-Za-z0-9._\-]{12,}"
    # `token <value>`, where the value has a digit: not "Token implementation", not prose.
    r"|\b(?i:token)\s+(?=[A-Za-z0-9._\-]*\d)[A-Za-z0-9._\-]{12,}"
    r"|\b(?i:private-token)[\"':= ]+[A-Za-z0-9._\-]{8,}"
)
# A password written in a URL (`https://user:secret@mirror/`): the user stays, to say which.
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]+):[^/\s@]+@")


def scrub_shapes(text: str) -> str:
    """`text` with every token-shaped string and URL password replaced (no configuration)."""
    text = _CASED_TOKENS.sub(REDACTED, text)
    if "@" in text:
        text = _URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)
    lowered = text.lower()
    if "token" in lowered or "bearer" in lowered:  # every _UNCASED_TOKENS shape has one
        text = _UNCASED_TOKENS.sub(REDACTED, text)
    return text


MIN_SECRET = 6  # characters: a configured secret shorter than this is not redacted

# Environment variables that hold secrets whatever the config says.
DEFAULT_SECRET_ENV = ("GITLAB_TOKEN", "GITHUB_TOKEN", "RECIPE_BOT_WEBHOOK_SECRET", "CI_JOB_TOKEN")


class Redactor:
    """A structlog processor that scrubs known secret values and token-shaped strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values would redact ordinary words; real tokens are long.
        self._secrets = sorted(
            {s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True
        )

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return scrub_shapes(text)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            # Shorter than any secret kept and any shape scrubbed (`a:b@` needs `://` before
            # it): most of a log line's values (versions, statuses), scrubbed for nothing.
            return value if len(value) < MIN_SECRET else self.scrub(value)
        if value is None or isinstance(value, int | float):  # most of the rest, and cheap
            return value
        if isinstance(value, Mapping):
            return {key: self._walk(inner) for key, inner in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._walk(inner) for inner in value)
        if isinstance(value, BaseException):
            return self.scrub(repr(value))
        return value

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        # The time stamp and the level are the processors' own, never a caller's text.
        return {
            key: value if key in _OWN_KEYS else self._walk(value) for key, value in event.items()
        }


_OWN_KEYS = frozenset({"timestamp", "level"})


def secret_values(env_names: Iterable[str], environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    names = set(env_names) | set(DEFAULT_SECRET_ENV)
    return [env[name] for name in names if env.get(name)]


class _Stderr:
    """sys.stderr looked up at each write, so a replaced stderr (pytest's capture, a daemon's
    redirect) is honoured and a closed old one is never written to."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure(
    *,
    level: str = "INFO",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    json: bool | None = None,
) -> Redactor:
    """Set up structlog for the process. `json=None` picks JSON unless the stream is a terminal."""
    output: Any = stream or _Stderr()
    as_json = not output.isatty() if json is None else json
    redactor = Redactor(secrets)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=output.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor,  # last before rendering, so it also sees formatted tracebacks
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(output),
        cache_logger_on_first_use=False,
    )
    return redactor


class RedactedStream:
    """A text stream that scrubs secrets from everything written through it.

    The JSON log is redacted by its processor; the plain lines the commands print (`run
    failed: <GitLab's message>`, a diff, a dashboard) are not log events, and a server can
    echo a token back in an error message. Every output path goes through one of these.
    """

    def __init__(self, stream: TextIO, redactor: Redactor) -> None:
        self._stream = stream
        self._redactor = redactor

    def write(self, text: str) -> int:
        self._stream.write(self._redactor.scrub(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8")


def _unwrapped(stream: TextIO) -> TextIO:
    return stream._stream if isinstance(stream, RedactedStream) else stream


@contextlib.contextmanager
def redacted_output(redactor: Redactor) -> Iterator[None]:
    """sys.stdout and sys.stderr scrubbed by `redactor` until the block ends. A stream that is
    scrubbed already is re-wrapped, not nested: the new redactor is meant to know at least
    the secrets the old one did, and each pass over the text costs as much as the first."""
    saved = sys.stdout, sys.stderr
    sys.stdout = RedactedStream(_unwrapped(saved[0]), redactor)
    sys.stderr = RedactedStream(_unwrapped(saved[1]), redactor)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
