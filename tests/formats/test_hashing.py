"""Where the rewrite's hashes come from: the upstream's published digests, else a download."""

from __future__ import annotations

import pytest

from bot.errors import RewriteRefused
from bot.formats.hashing import Hasher, file_name

PUBLISHED = "d" * 64
DOWNLOADED = "e" * 64
PYPI = "https://files.pythonhosted.org/packages/"


class Downloads:
    """A `sha256_of` that records what it was asked for."""

    def __init__(self, answer: str | Exception = DOWNLOADED) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, url: str) -> str:
        self.asked.append(url)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.org/dl/foo-1.0.tar.gz", "foo-1.0.tar.gz"),
        ("https://example.org/dl/foo-1.0.tar.gz?raw=true", "foo-1.0.tar.gz"),
        ("https://example.org/dl/foo-1.0.tar.gz#sha256=abc", "foo-1.0.tar.gz"),
        ("https://example.org/dl/foo-1.0.tar.gz?x=1#frag", "foo-1.0.tar.gz"),
    ],
)
def test_file_name_ignores_query_and_fragment(url: str, name: str) -> None:
    """A URL names its file by the last path segment, whatever query or fragment follows."""
    assert file_name(url) == name


def test_a_published_digest_is_used_for_a_url_with_a_query() -> None:
    """`?download=1` does not hide that the URL names a published file."""
    downloads = Downloads()
    hasher = Hasher(downloads, {"foo-1.0.tar.gz": PUBLISHED.upper()}, None)
    assert hasher.digest("https://example.org/foo-1.0.tar.gz?download=1") == PUBLISHED
    assert downloads.asked == []


def test_a_published_value_that_is_no_sha256_is_not_used() -> None:
    """An upstream's md5 (or any non-sha256 text) under a file name means: download it."""
    downloads = Downloads()
    hasher = Hasher(downloads, {"foo-1.0.tar.gz": "f" * 32}, None)
    assert hasher.published("https://example.org/foo-1.0.tar.gz") is None
    assert hasher.digest("https://example.org/foo-1.0.tar.gz") == DOWNLOADED
    assert downloads.asked == ["https://example.org/foo-1.0.tar.gz"]


def test_published_digests_count_only_under_their_locations() -> None:
    """A file of the published name on another host is another file: it is downloaded."""
    downloads = Downloads()
    hasher = Hasher(downloads, {"foo-1.0.tar.gz": PUBLISHED}, [PYPI])
    assert hasher.published(PYPI + "source/f/foo/foo-1.0.tar.gz") == PUBLISHED
    elsewhere = "https://github.com/o/foo/archive/foo-1.0.tar.gz"
    assert hasher.published(elsewhere) is None
    assert not hasher.may_publish(elsewhere)
    assert hasher.digest(elsewhere) == DOWNLOADED


@pytest.mark.parametrize(
    ("url", "could"),
    [
        (PYPI + "source/f/foo/foo-1.0.tar.gz", True),
        (PYPI + "source/f/foo/foo-1.0.zip", True),  # another archive extension
        (PYPI + "source/f/foo/foo-v1.0.tar.gz", True),  # a `v` before the version
        (PYPI + "source/f/foo/foo-1.1.tar.gz", False),  # another version
        (PYPI + "source/b/bar/bar-1.0.tar.gz", False),  # another project
    ],
)
def test_may_publish_sees_through_extension_and_v_prefix(url: str, could: bool) -> None:
    """A form of the URL could name the published file when only spelling differs."""
    hasher = Hasher(Downloads(), {"foo-1.0.tar.gz": PUBLISHED}, [PYPI])
    assert hasher.may_publish(url) is could


def test_each_url_is_downloaded_once() -> None:
    """Asking twice for one URL's hash downloads it once."""
    downloads = Downloads()
    hasher = Hasher(downloads, {}, None)
    url = "https://example.org/foo-1.0.tar.gz"
    assert hasher.digest(url) == hasher.digest(url) == DOWNLOADED
    assert downloads.asked == [url]


def test_a_missing_file_is_remembered_with_its_reason() -> None:
    """A download that fails gives no hash, and the reason is kept for the refusal message."""
    hasher = Hasher(Downloads(FileNotFoundError("404 Not Found")), {}, None)
    url = "https://example.org/foo-1.0.tar.gz"
    assert hasher.digest(url) is None
    assert hasher.errors == {url: "404 Not Found"}


def test_a_failure_without_a_message_is_remembered_by_its_type() -> None:
    """An exception with no text still leaves a reason: its class name."""
    hasher = Hasher(Downloads(LookupError()), {}, None)
    url = "https://example.org/foo-1.0.tar.gz"
    assert hasher.digest(url) is None
    assert hasher.errors == {url: "LookupError"}


def test_a_download_that_is_no_sha256_is_refused() -> None:
    """A `sha256_of` answering anything but 64 hex digits stops the rewrite."""
    hasher = Hasher(Downloads("not-a-digest"), {}, None)
    with pytest.raises(RewriteRefused, match="is not 64 hex digits"):
        hasher.digest("https://example.org/foo-1.0.tar.gz")
