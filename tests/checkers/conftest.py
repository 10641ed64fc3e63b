"""Fixtures for the checker tests: local servers, a fresh Http per test, a recipe to check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.servers import LocalFtpServer

from bot.http import Http, HttpSettings
from bot.model import Recipe
from checkers.api import CheckContext


@pytest.fixture
def http(tmp_path: Path) -> Iterator[Http]:
    with Http(
        HttpSettings(cache=str(tmp_path / "c.sqlite"), retries=1, backoff=0, timeout=5)
    ) as client:
        yield client


@pytest.fixture
def ctx(http: Http) -> CheckContext:
    return CheckContext(http=http)


@pytest.fixture
def recipe() -> Recipe:
    return Recipe(name="example", path="example/meta.yaml", format="conda-v0", version="1.0")


@pytest.fixture
def ftp_root(tmp_path: Path) -> Path:
    """A small FTP tree: GNU-style files at the top, release series in sub-directories."""
    root = tmp_path / "ftp"
    (root / "gnu" / "readline").mkdir(parents=True)
    for name in (
        "readline-8.0.tar.gz",
        "readline-8.1.tar.gz",
        "readline-8.2.tar.gz",
        "readline-8.2.tar.gz.sig",
        "readline-doc-8.3.tar.gz",
        "README",
    ):
        (root / "gnu" / "readline" / name).write_bytes(name.encode() * 100)
    for series, version in (("2.78", "2.78.1"), ("2.80", "2.80.0"), ("2.80", "2.80.2")):
        directory = root / "glib" / series
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"glib-{version}.tar.xz").write_bytes(b"x")
    return root


@pytest.fixture
def ftp_server(ftp_root: Path) -> Iterator[Callable[..., LocalFtpServer]]:
    """Start FTP servers over `ftp_root` in any variant; all are stopped after the test."""
    started: list[LocalFtpServer] = []

    def start(variant: str = "standard", *, anonymous: bool = True) -> LocalFtpServer:
        local = LocalFtpServer(ftp_root, variant=variant, anonymous=anonymous).start()
        started.append(local)
        return local

    yield start
    for local in started:
        local.stop()
