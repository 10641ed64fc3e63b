"""FTP for the HTTP layer: directory listings and streamed sha256, over stdlib ftplib.

Listings ask for MLSD (machine-readable, RFC 3659) and fall back to LIST, whose output is
whatever the server's `ls` prints: the unix and DOS/IIS styles are parsed. When LIST gives
nothing parseable, NLST (bare names) is the last resort. Every connection is passive, anonymous
unless the URL carries `user:password@`, and closed on every path out. Failures are typed
(bot.errors) and name the URL, never the password.
"""

from __future__ import annotations

import ftplib
import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit, urlunsplit

from bot.errors import (
    BadUpstreamResponse,
    ResponseTooLarge,
    UpstreamError,
    UpstreamNotFound,
    UpstreamUnavailable,
)

# A whole listing must arrive within this many per-operation timeouts: a server dribbling one
# line a second must not hold a check for an hour.
LISTING_BUDGET = 4
CHUNK = 64 * 1024
# Replies meaning "this server does not know the command": try the next listing command.
_UNSUPPORTED = ("500", "501", "502", "504")


@dataclass(frozen=True)
class FtpEntry:
    """One name in an FTP directory."""

    name: str
    is_dir: bool
    size: int | None = None
    modified: datetime | None = None  # UTC when the server says so (MLSD), else naive-local


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    user: str
    password: str
    path: str  # relative to the login directory, unquoted, no leading slash
    safe_url: str  # the URL without credentials, for messages


class _TooMany(Exception):
    pass


class _Overdue(Exception):
    pass


def listdir(url: str, *, timeout: float, max_entries: int) -> list[FtpEntry]:
    """The entries of the FTP directory at `url` ("." and ".." left out)."""
    target = _target(url)
    with _session(target, timeout) as ftp:
        _cwd(ftp, target.path, target)
        deadline = time.monotonic() + timeout * LISTING_BUDGET
        for command, parse in (("MLSD", _parse_mlsd), ("LIST", _parse_list)):
            lines = _lines(ftp, command, target, deadline, max_entries)
            if lines is None:
                continue
            entries = [entry for entry in map(parse, lines) if entry is not None]
            if entries or not _meaningful(lines):
                return _without_dots(entries)
        lines = _lines(ftp, "NLST", target, deadline, max_entries)
        if lines is None:
            raise BadUpstreamResponse(f"{target.safe_url}: the server lists no directories")
        # NLST gives bare names (some servers: paths); whether a name is a directory is unknown.
        names = (line.rstrip("/").rsplit("/", 1)[-1] for line in lines)
        return _without_dots([FtpEntry(name, is_dir=False) for name in names if name])


def sha256(url: str, *, timeout: float, max_bytes: int) -> str:
    """The sha256 of the file at `url`, streamed through hashlib in constant memory."""
    target = _target(url)
    directory, _, name = target.path.rpartition("/")
    if not name:
        raise BadUpstreamResponse(f"{target.safe_url}: not a file URL")
    digest = hashlib.sha256()
    received = 0
    with _session(target, timeout) as ftp:
        _cwd(ftp, directory, target)
        with _replies(target, f"RETR {name}"):
            ftp.voidcmd("TYPE I")
            with ftp.transfercmd(f"RETR {name}") as conn:
                while chunk := conn.recv(CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise ResponseTooLarge(f"{target.safe_url}: more than {max_bytes} bytes")
                    digest.update(chunk)
            ftp.voidresp()
    return digest.hexdigest()


# --- connection ---------------------------------------------------------------------------


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme != "ftp" or not parts.hostname:
        raise BadUpstreamResponse(f"{url}: not an ftp:// URL")
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    safe_url = urlunsplit(("ftp", netloc, parts.path, "", ""))
    try:
        port = parts.port or 21
    except ValueError:
        raise BadUpstreamResponse(f"{safe_url}: invalid port") from None
    # RFC 1738: the path is relative to the login directory; `;type=d` suffixes are ignored.
    path = unquote(parts.path.split(";", 1)[0]).lstrip("/")
    return _Target(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username) if parts.username else "anonymous",
        password=unquote(parts.password) if parts.password else "anonymous@",
        path=path,
        safe_url=safe_url,
    )


@contextmanager
def _session(target: _Target, timeout: float) -> Iterator[ftplib.FTP]:
    ftp = ftplib.FTP(timeout=timeout)
    try:
        with _replies(target, "connect"):
            ftp.connect(target.host, target.port)
        with _replies(target, "login"):
            try:
                ftp.login(target.user, target.password)
            except ftplib.error_perm as exc:
                raise UpstreamError(
                    f"{target.safe_url}: login refused ({_first_line(exc)})"
                ) from None
        ftp.set_pasv(True)
        yield ftp
    finally:
        # close(), not quit(): after an aborted transfer the control channel may be out of
        # step, and QUIT would wait for a reply that never comes.
        ftp.close()


def _cwd(ftp: ftplib.FTP, path: str, target: _Target) -> None:
    if path.strip("/"):
        with _replies(target, f"CWD {path}"):
            ftp.cwd(path)


@contextmanager
def _replies(target: _Target, what: str) -> Iterator[None]:
    """Translate ftplib and socket failures into the typed errors, naming the URL."""
    try:
        yield
    except ftplib.error_perm as exc:
        message = f"{target.safe_url}: {what}: {_first_line(exc)}"
        if str(exc).startswith("550"):
            raise UpstreamNotFound(message) from None
        raise UpstreamError(message) from None
    except ftplib.error_temp as exc:  # 4xx: try again later
        raise UpstreamUnavailable(f"{target.safe_url}: {what}: {_first_line(exc)}") from None
    except (ftplib.error_proto, ftplib.error_reply, UnicodeDecodeError) as exc:
        raise BadUpstreamResponse(f"{target.safe_url}: {what}: {_first_line(exc)}") from None
    except ftplib.Error as exc:  # e.g. "got more than 8192 bytes" on one line
        raise BadUpstreamResponse(f"{target.safe_url}: {what}: {_first_line(exc)}") from None
    except TimeoutError:
        raise UpstreamUnavailable(f"{target.safe_url}: {what}: timed out") from None
    except (OSError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "connection lost"
        raise UpstreamUnavailable(f"{target.safe_url}: {what}: {reason}") from None


def _lines(
    ftp: ftplib.FTP, command: str, target: _Target, deadline: float, max_entries: int
) -> list[str] | None:
    """The lines a listing command returns, or None when the server does not support it."""
    lines: list[str] = []

    def collect(line: str) -> None:
        if len(lines) >= max_entries:
            raise _TooMany
        if time.monotonic() > deadline:
            raise _Overdue
        lines.append(line)

    try:
        with _replies(target, command):
            try:
                ftp.retrlines(command, collect)
            except ftplib.error_perm as exc:
                if str(exc)[:3] in _UNSUPPORTED:
                    return None
                raise
    except _TooMany:
        raise ResponseTooLarge(f"{target.safe_url}: more than {max_entries} entries") from None
    except _Overdue:
        raise UpstreamUnavailable(f"{target.safe_url}: {command} not complete in time") from None
    return lines


# --- parsing --------------------------------------------------------------------------------


def _parse_mlsd(line: str) -> FtpEntry | None:
    """`type=file;size=123;modify=20240101120000; name` (facts are case-insensitive)."""
    facts_text, sep, name = line.partition(" ")
    if not sep or not name:
        return None
    facts = {}
    for fact in facts_text.split(";"):
        key, _, value = fact.partition("=")
        if key:
            facts[key.lower()] = value
    kind = facts.get("type", "").lower()
    if kind in ("cdir", "pdir"):
        return None
    size = facts.get("size", "")
    return FtpEntry(
        name=name,
        is_dir=kind == "dir",
        size=int(size) if size.isdigit() else None,
        modified=_mlsd_time(facts.get("modify", "")),
    )


def _mlsd_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


# drwxr-xr-x    2 ftp  ftp   4096 Mar 14  2019 readline-8.0
# -rw-r--r--    1 0    0  2975937 Jan  7 10:30 readline-8.0.tar.gz
# Some servers leave out the group, or the link count; the date is the anchor.
_UNIX = re.compile(
    r"^(?P<type>[-dlbcps])[-rwxsStTl+.@]{9,10}\s+(?:\d+\s+)?(?:\S+\s+){0,2}?"
    r"(?P<size>\d+)\s+(?P<month>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+"
    r"(?P<time>\d{1,2}:\d{2}|\d{4})\s(?P<name>.+)$"
)
# 03-14-19  10:30AM       <DIR>          readline-8.0   (IIS, and Windows servers generally)
_DOS = re.compile(
    r"^(?P<date>\d{2}-\d{2}-\d{2,4})\s+(?P<time>\d{1,2}:\d{2}\s*(?:[AaPp][Mm])?)\s+"
    r"(?P<size><DIR>|\d+)\s+(?P<name>.+)$"
)


def _parse_list(line: str) -> FtpEntry | None:
    if match := _UNIX.match(line):
        name = match["name"].strip()
        kind = match["type"]
        if kind == "l":  # "latest -> readline-8.2": the link's own name is what can be fetched
            name, _, target = name.partition(" -> ")
            is_dir = target.endswith("/")
        else:
            is_dir = kind == "d"
        return FtpEntry(
            name=name, is_dir=is_dir, size=int(match["size"]), modified=_unix_time(match)
        )
    if match := _DOS.match(line):
        is_dir = match["size"] == "<DIR>"
        return FtpEntry(
            name=match["name"].strip(),
            is_dir=is_dir,
            size=None if is_dir else int(match["size"]),
            modified=_dos_time(match["date"], match["time"]),
        )
    return None


def _unix_time(match: re.Match[str]) -> datetime | None:
    # `ls` prints "HH:MM" instead of the year for the last six months, so the year is guessed.
    stamp = f"{match['month']} {match['day']} {match['time']}"
    try:
        if ":" not in match["time"]:
            return datetime.strptime(stamp, "%b %d %Y")
        now = datetime.now()
        when = datetime.strptime(f"{now.year} {stamp}", "%Y %b %d %H:%M")
        return when.replace(year=now.year - 1) if when > now else when
    except ValueError:
        return None


def _dos_time(date: str, clock: str) -> datetime | None:
    clock = clock.replace(" ", "").upper()
    year_format = "%Y" if len(date) == 10 else "%y"
    time_format = "%I:%M%p" if clock.endswith("M") else "%H:%M"
    try:
        return datetime.strptime(f"{date} {clock}", f"%m-%d-{year_format} {time_format}")
    except ValueError:
        return None


def _meaningful(lines: list[str]) -> bool:
    """Whether a listing has lines other than blanks and `ls`'s "total 123" header."""
    return any(line.strip() and not line.startswith("total ") for line in lines)


def _without_dots(entries: list[FtpEntry]) -> list[FtpEntry]:
    return [entry for entry in entries if entry.name not in (".", "..")]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
