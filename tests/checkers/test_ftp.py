"""bot.ftp against a real pyftpdlib server on 127.0.0.1: listings, fallbacks, hashing, failures."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from support.servers import LocalFtpServer

from bot import ftp
from bot.errors import (
    BadUpstreamResponse,
    ResponseTooLarge,
    UpstreamError,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from bot.ftp import FtpEntry
from bot.http import Http

StartFtp = Callable[..., LocalFtpServer]
README_SIZE = len(b"README" * 100)


def names(entries: list[FtpEntry]) -> set[str]:
    return {entry.name for entry in entries}


@pytest.mark.parametrize("variant", ["standard", "no-mlsd", "dos"])
def test_listing_styles(ftp_server: StartFtp, variant: str) -> None:
    """MLSD, and the unix and DOS LIST fallbacks, give the same names, types and sizes."""
    server = ftp_server(variant)
    entries = ftp.listdir(server.url("/gnu/readline/"), timeout=5, max_entries=100)
    assert names(entries) == {
        "readline-8.0.tar.gz",
        "readline-8.1.tar.gz",
        "readline-8.2.tar.gz",
        "readline-8.2.tar.gz.sig",
        "readline-doc-8.3.tar.gz",
        "README",
    }
    readme = next(entry for entry in entries if entry.name == "README")
    assert readme.size == README_SIZE and not readme.is_dir
    assert isinstance(readme.modified, datetime)
    top = ftp.listdir(server.url("/"), timeout=5, max_entries=100)
    assert {(entry.name, entry.is_dir) for entry in top} == {("gnu", True), ("glib", True)}


def test_nlst_is_the_last_resort(ftp_server: StartFtp) -> None:
    """A server that knows neither MLSD nor LIST is listed by bare names through NLST."""
    server = ftp_server("nlst-only")
    entries = ftp.listdir(server.url("/glib/"), timeout=5, max_entries=100)
    assert entries == [FtpEntry("2.78", is_dir=False), FtpEntry("2.80", is_dir=False)]


def test_credentials_in_the_url_are_used(ftp_server: StartFtp) -> None:
    """`ftp://user:password@host/` logs in as that user instead of anonymously."""
    server = ftp_server(anonymous=False)
    entries = ftp.listdir(server.url("/glib/2.80", login=True), timeout=5, max_entries=100)
    assert names(entries) == {"glib-2.80.0.tar.xz", "glib-2.80.2.tar.xz"}


def test_login_refused(ftp_server: StartFtp) -> None:
    """A server that refuses anonymous logins gives an UpstreamError saying so."""
    server = ftp_server(anonymous=False)
    with pytest.raises(UpstreamError, match="login refused") as raised:
        ftp.listdir(server.url("/gnu/"), timeout=5, max_entries=100)
    assert type(raised.value) is UpstreamError


def test_missing_directory(ftp_server: StartFtp) -> None:
    """A directory that does not exist (550) is UpstreamNotFound naming the URL."""
    server = ftp_server()
    url = server.url("/gnu/nothing-here/")
    with pytest.raises(UpstreamNotFound, match="nothing-here"):
        ftp.listdir(url, timeout=5, max_entries=100)


def test_entry_cap(ftp_server: StartFtp) -> None:
    """A listing longer than max_entries is abandoned instead of read to the end."""
    server = ftp_server()
    with pytest.raises(ResponseTooLarge, match="more than 3 entries"):
        ftp.listdir(server.url("/gnu/readline/"), timeout=5, max_entries=3)


def test_sha256_streams_the_file(ftp_server: StartFtp, ftp_root: Path) -> None:
    """The digest of a RETR equals hashlib's digest of the file on disk."""
    server = ftp_server()
    path = ftp_root / "gnu" / "readline" / "readline-8.2.tar.gz"
    url = server.url("/gnu/readline/readline-8.2.tar.gz")
    assert (
        ftp.sha256(url, timeout=5, max_bytes=10_000)
        == hashlib.sha256(path.read_bytes()).hexdigest()
    )


def test_sha256_size_cap_and_missing_file(ftp_server: StartFtp) -> None:
    """A download past max_bytes is abandoned; a missing file is UpstreamNotFound."""
    server = ftp_server()
    with pytest.raises(ResponseTooLarge):
        ftp.sha256(server.url("/gnu/readline/readline-8.2.tar.gz"), timeout=5, max_bytes=10)
    with pytest.raises(UpstreamNotFound):
        ftp.sha256(server.url("/gnu/readline/readline-9.9.tar.gz"), timeout=5, max_bytes=10)


def test_connection_refused() -> None:
    """Nothing listening is UpstreamUnavailable, at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UpstreamUnavailable, match="refused"):
        ftp.listdir(f"ftp://127.0.0.1:{port}/", timeout=2, max_entries=10)


def test_silent_server_times_out() -> None:
    """A server that accepts but never greets is UpstreamUnavailable within the timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable, match="timed out"):
            ftp.listdir(f"ftp://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.3, max_entries=10)
    assert time.monotonic() - started < 2


def test_not_an_ftp_url() -> None:
    """Only ftp:// URLs are accepted."""
    with pytest.raises(BadUpstreamResponse):
        ftp.listdir("http://127.0.0.1/", timeout=1, max_entries=10)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("drwxr-xr-x    2 ftp  ftp   4096 Mar 14  2019 readline-8.0", ("readline-8.0", True, 4096)),
        (
            "-rw-r--r--    1 0    0  2975937 Jan  7 10:30 readline-8.0.tar.gz",
            ("readline-8.0.tar.gz", False, 2975937),
        ),
        ("-rw-r--r--   1 owner  42 Feb 28  2020 no group.zip", ("no group.zip", False, 42)),
        (
            "lrwxrwxrwx    1 ftp  ftp     12 Jan  1  2020 latest -> readline-8.2",
            ("latest", False, 12),
        ),
        ("03-14-19  10:30AM       <DIR>          readline-8.0", ("readline-8.0", True, None)),
        (
            "03-14-2019  22:30              2975937 readline 8.0.tar.gz",
            ("readline 8.0.tar.gz", False, 2975937),
        ),
        ("total 12", None),
        ("garbage", None),
    ],
)
def test_list_line_parsing(line: str, expected: tuple[str, bool, int | None] | None) -> None:
    """LIST lines in the unix and DOS styles parse; headers and garbage are skipped."""
    entry = ftp._parse_list(line)
    assert (entry and (entry.name, entry.is_dir, entry.size)) == expected


def test_http_layer_routes_ftp(ftp_server: StartFtp, ftp_root: Path, http: Http) -> None:
    """Http.ftp_listdir and Http.sha256 reach bot.ftp for ftp:// URLs; the digest is then cached."""
    server = ftp_server()
    assert "readline-8.1.tar.gz" in names(http.ftp_listdir(server.url("/gnu/readline/")))
    url = server.url("/gnu/readline/readline-8.1.tar.gz")
    expected = hashlib.sha256(
        (ftp_root / "gnu/readline/readline-8.1.tar.gz").read_bytes()
    ).hexdigest()
    assert http.sha256(url) == http.sha256(url) == expected
    assert http.stats.hashed_from_cache == 1
