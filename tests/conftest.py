"""Suite-wide: no test reaches beyond this machine, and each starts with structlog's defaults.

Name resolution for anything but loopback fails at once, as it would offline, so a test
that would quietly ask the real PyPI or GitHub fails loudly instead. Tests marked `network`
(skipped by default) are exempt.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from support.servers import LocalHttpServer

LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}


class OutsideNetworkError(socket.gaierror):
    pass


@pytest.fixture(autouse=True)
def _no_outside_network(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    if request.node.get_closest_marker("network"):
        yield
        return
    real = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if name not in LOOPBACK and not name.startswith("127."):
            raise OutsideNetworkError(
                socket.EAI_NONAME, f"test tried to reach {name}: no outside network in tests"
            )
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    yield


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """The CLI configures structlog process-wide (a level filter, say); no test inherits that."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    """A local HTTP server answering from its routes (tests/support/servers.py)."""
    local = LocalHttpServer().start()
    yield local
    local.stop()
