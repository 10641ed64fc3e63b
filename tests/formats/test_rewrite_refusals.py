"""The rewrite refuses, with a named reason, whenever it cannot edit a recipe safely."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import RewriteRefused
from bot.formats import rewrite

H1 = "1" * 64
H2 = "2" * 64


def _meta(source: str, head: str = '{% set version = "1.2.3" %}\n') -> str:
    return head + "package:\n  name: foo\n  version: {{ version }}\n" + source


def _never(url: str) -> str:
    raise AssertionError(f"nothing should be downloaded, yet {url} was")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            _meta(f"source:\n  url: https://example.org/foo-latest.tar.gz\n  sha256: {H1}\n"),
            "URL has no version in it: https://example.org/foo-latest.tar.gz",
        ),
        (
            '{% set version = "1.2.3" %}\npackage:\n  name: foo\n  version: 1.2.3\n'
            "source:\n  url: https://example.org/foo-{{ version }}.tar.gz\n",
            "version is set in 2 places (lines 1, 4)",
        ),
        (
            '{% set version = "1.2.3" %}  # [unix]\n{% set version = "1.2.3" %}  # [win]\n'
            "package:\n  name: foo\n  version: {{ version }}\n"
            "source:\n  url: https://example.org/foo-{{ version }}.tar.gz\n",
            "version is set in 2 places",
        ),
        (
            _meta(
                "source:\n  url: https://example.org/foo-{{ version }}.tar.gz\n",
                "{% set data = {'v': '1.2.3'} %}{% set version = data['v'] %}\n",
            ),
            "version is computed by an expression on line 1",
        ),
        (
            "package:\n  name: foo\n  version: 1.2.3\nsource:\n  url: https://example.org/foo.tar.gz\n",
            "URL has no version in it",
        ),
        (
            "package: {name: foo, version: 1.2.3}\nsource: {url: 'https://example.org/foo-1.2.3.tar.gz'}\n",
            "cannot find where the version is set",
        ),
        (
            _meta(
                "source:\n  url: {{ url }}\n",
                '{% set version = "1.2.3" %}\n'
                '{% set url = "https://example.org/foo-1.2.3.tar.gz" %}\n',
            ),
            "source URL did not change: https://example.org/foo-1.2.3.tar.gz",
        ),
        (
            _meta("source:\n  git_url: https://github.com/example/foo.git\n  git_rev: main\n"),
            "git source https://github.com/example/foo.git has no version in its tag or rev",
        ),
        (_meta("source: [\n"), "cannot read the recipe: malformed YAML"),
        (
            _meta("source:\n  url: https://example.org/foo-{{ version }}.tar.gz\n"),
            "already at 1.2.3",
        ),
    ],
)
def test_refusals(text: str, reason: str, fake_hashes: Any) -> None:
    """Each unsafe recipe is refused with a reason that names what is wrong."""
    version = "1.2.3" if reason.startswith("already") else "1.3.0"
    with pytest.raises(RewriteRefused) as refused:
        rewrite(text, version, fake_hashes({}))

    assert reason in str(refused.value)


def test_gives_up_when_no_form_of_the_url_downloads() -> None:
    """When every extension and v-prefix form fails, the refusal names the URL and the error."""
    tried: list[str] = []

    def missing(url: str) -> str:
        tried.append(url)
        raise OSError("404 Not Found")

    text = _meta(
        "source:\n  url: https://github.com/o/foo/archive/v{{ version }}.tar.gz\n"
        f"  sha256: {H1}\n"
    )

    with pytest.raises(RewriteRefused) as refused:
        rewrite(text, "1.3.0", missing)

    assert str(refused.value) == (
        "cannot download any form of https://github.com/o/foo/archive/v1.3.0.tar.gz: 404 Not Found"
    )
    assert tried[:5] == [
        "https://github.com/o/foo/archive/v1.3.0.tar.gz",
        "https://github.com/o/foo/archive/v1.3.0.tar.xz",
        "https://github.com/o/foo/archive/v1.3.0.tar.bz2",
        "https://github.com/o/foo/archive/v1.3.0.tgz",
        "https://github.com/o/foo/archive/v1.3.0.zip",
    ]
    assert "https://github.com/o/foo/archive/1.3.0.tar.gz" in tried
    assert "https://github.com/o/foo/archive/refs/tags/v1.3.0.tar.gz" in tried
    assert len(tried) == len(set(tried)) == 20


def test_per_platform_line_needs_every_platform_to_download(fake_hashes: Any) -> None:
    """One URL line rendered per platform moves to a new form only if all platforms have it."""
    text = (
        '{% set version = "1.0.0" %}\n'
        '{% set os = "linux" %}  # [linux]\n{% set os = "darwin" %}  # [osx]\n'
        '{% set sha256 = "' + H1 + '" %}  # [linux]\n{% set sha256 = "' + H2 + '" %}  # [osx]\n'
        "package:\n  name: tool\n  version: {{ version }}\n"
        "source:\n  url: https://example.org/tool-{{ version }}-{{ os }}.tar.gz  # [not win]\n"
        "  sha256: {{ sha256 }}  # [not win]\n"
    )
    sha256_of = fake_hashes(
        {"https://example.org/tool-1.1.0-linux.tar.gz": "a" * 64},
        {"https://example.org/tool-1.1.0-darwin.tar.gz": "gone"},
    )

    with pytest.raises(RewriteRefused, match=r"cannot download any form of .*darwin.tar.gz: gone"):
        rewrite(text, "1.1.0", sha256_of)


def test_md5_set_through_a_variable_is_refused(fake_hashes: Any) -> None:
    """An md5 that lives in a `{% set %}` cannot become a sha256 line without guessing."""
    text = _meta(
        "source:\n  url: https://example.org/foo-{{ version }}.tar.gz\n  md5: {{ md5 }}\n",
        '{% set version = "1.2.3" %}\n{% set md5 = "' + "a" * 32 + '" %}\n',
    )
    sha256_of = fake_hashes({"https://example.org/foo-1.3.0.tar.gz": H2})

    with pytest.raises(RewriteRefused, match=r"md5 of .* is set on line 2 in a way the bot cannot"):
        rewrite(text, "1.3.0", sha256_of)


def test_a_bad_digest_from_sha256_of_is_refused() -> None:
    """sha256_of must return 64 hex digits; anything else is not written into a recipe."""
    text = _meta(
        f"source:\n  url: https://example.org/foo-{{{{ version }}}}.tar.gz\n  sha256: {H1}\n"
    )

    with pytest.raises(RewriteRefused, match=r"not 64 hex digits"):
        rewrite(text, "1.3.0", lambda url: "<html>")


@pytest.mark.parametrize("version", ["", "1.3 ", "1.3\n", "{{ evil }}", "1'3", "v1/../2"])
def test_versions_that_cannot_be_written_are_refused(version: str) -> None:
    """A version is only written if it is a plain version string (no quotes, Jinja, newlines)."""
    text = _meta(
        f"source:\n  url: https://example.org/foo-{{{{ version }}}}.tar.gz\n  sha256: {H1}\n"
    )

    with pytest.raises(RewriteRefused, match=r"not a version"):
        rewrite(text, version, _never)


def test_unknown_file_names_are_refused() -> None:
    """The file name picks the format; an unknown one is refused, not guessed."""
    with pytest.raises(RewriteRefused, match=r"unknown recipe file name"):
        rewrite("x", "1.0", _never, filename="setup.cfg")
