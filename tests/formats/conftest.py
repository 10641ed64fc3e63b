"""Shared fakes for the format tests: a `sha256_of` that fails the test when left unused."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping

import pytest


def digest_of(url: str) -> str:
    """A stand-in sha256 for a URL: deterministic, 64 hex digits, different for every URL."""
    return hashlib.sha256(f"new {url}".encode()).hexdigest()


class FakeHashes:
    """`sha256_of` for tests: known URLs hash, `fail` URLs raise, anything else is a failure."""

    def __init__(self, hashes: Mapping[str, str], fail: Mapping[str, str] | None = None) -> None:
        self.hashes = dict(hashes)
        self.fail = dict(fail or {})
        self.requested: list[str] = []

    def __call__(self, url: str) -> str:
        self.requested.append(url)
        if url in self.hashes:
            return self.hashes[url]
        raise OSError(self.fail.get(url, f"404 Not Found (unexpected URL {url})"))

    def unused(self) -> set[str]:
        return (set(self.hashes) | set(self.fail)) - set(self.requested)


@pytest.fixture
def fake_hashes() -> Iterator[type[FakeHashes]]:
    """Make FakeHashes; at teardown, every URL one was prepared for must have been requested."""
    made: list[FakeHashes] = []

    class Tracked(FakeHashes):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    yield Tracked
    unused = set().union(*(fake.unused() for fake in made)) if made else set()
    assert not unused, f"prepared but never requested: {sorted(unused)}"


@pytest.fixture
def hash_everything() -> FakeHashes:
    """A sha256_of that hashes any URL (for property tests over many recipes)."""

    class Everything(FakeHashes):
        def __call__(self, url: str) -> str:
            self.requested.append(url)
            return digest_of(url)

    return Everything({})
