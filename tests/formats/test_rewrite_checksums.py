"""How the rewrite writes a source's new hash over the checksums the recipe had.

One sha256 per source is what the bot writes: an md5 or sha1 becomes that sha256 line,
extra checksum lines of the same source go, and a digest however it is spelled (upper case,
in a `{% set %}`) is replaced in place.
"""

from __future__ import annotations

import hashlib

import pytest
from support.rewriting import sha256_of

from bot.errors import RewriteRefused
from bot.formats import rewrite

HEAD = '{% set version = "1.2.3" %}\npackage:\n  name: foo\n  version: {{ version }}\n'
URL = "  url: https://example.org/foo-{{ version }}.tar.gz\n"
NEW = hashlib.sha256(b"https://example.org/foo-1.3.0.tar.gz").hexdigest()
MD5, OLD = "a" * 32, "b" * 64


def moved(source: str) -> str:
    return rewrite(HEAD + "source:\n" + source, "1.3.0", sha256_of)


def test_an_md5_beside_the_sha256_is_dropped() -> None:
    """A source with an md5 and a sha256 ends with the one new sha256 line."""
    result = moved(URL + f"  md5: {MD5}\n  sha256: {OLD}\n")
    assert result.endswith("source:\n" + URL + f"  sha256: {NEW}\n")


def test_a_lone_md5_becomes_a_sha256_line() -> None:
    """An md5-only source gets a sha256 where its md5 was written."""
    result = moved(URL + f"  md5: {MD5}\n")
    assert result.endswith("source:\n" + URL + f"  sha256: {NEW}\n")
    assert MD5 not in result


def test_an_upper_case_sha256_is_replaced() -> None:
    """A digest written in capitals is still found and replaced."""
    result = moved(URL + f"  sha256: {OLD.upper()}\n")
    assert result.endswith(f"  sha256: {NEW}\n")
    assert OLD.upper() not in result


def test_an_upper_case_sha256_in_a_set_line_is_replaced() -> None:
    """`{% set sha256 = "ABC..." %}` gets the new digest; `{{ sha256 }}` stays as written."""
    old = "C" * 64
    text = f'{{% set sha256 = "{old}" %}}\n' + HEAD + "source:\n" + URL + "  sha256: {{ sha256 }}\n"
    result = rewrite(text, "1.3.0", sha256_of)
    assert result.startswith(f'{{% set sha256 = "{NEW}" %}}\n')
    assert "  sha256: {{ sha256 }}\n" in result


def test_one_digest_for_two_different_new_files_is_refused() -> None:
    """Two sources sharing a sha256 whose new downloads differ cannot share one line: refused."""
    shared = "d" * 64
    source = (
        "  - url: https://example.org/foo-{{ version }}.tar.gz  # [unix]\n"
        f"    sha256: {shared}  # [unix]\n"
        "  - url: https://example.org/foo-{{ version }}.zip  # [win]\n"
        f"    sha256: {shared}  # [win]\n"
    )
    with pytest.raises(RewriteRefused) as caught:
        moved(source)
    assert shared in str(caught.value) and "differ" in str(caught.value)
