"""Sources that do not follow the version: the rewrite names each one it refuses for.

A recipe may keep an extra source pinned (a patch set, a test-data tarball), but only when
nothing ties it to the old release: a git branch, a mirror still on the old version or a
Jinja commit variable in its URL would ship the old files under the new version.
"""

from __future__ import annotations

from support.rewriting import refusal, sha256_of

from bot.formats import rewrite

HEAD = '{% set version = "1.2.3" %}\npackage:\n  name: foo\n  version: {{ version }}\n'
H1, H2 = "1" * 64, "2" * 64
MAIN = f"  - url: https://example.org/foo-{{{{ version }}}}.tar.gz\n    sha256: {H1}\n"


def test_an_extra_source_on_a_commit_variable_is_refused_by_name() -> None:
    """A second source whose URL hangs on `{{ commit }}` is named, with the variable."""
    extra = f"  - url: https://example.org/extras-{{{{ commit }}}}.tar.gz\n    sha256: {H2}\n"
    text = '{% set commit = "abc123" %}\n' + HEAD + "source:\n" + MAIN + extra
    reason = refusal(text)
    assert "https://example.org/extras-abc123.tar.gz" in reason
    assert "{{ commit }}" in reason


def test_an_extra_git_source_on_a_branch_is_refused_with_the_branch() -> None:
    """A git source pinned to a branch beside a moving download is named with its branch."""
    extra = "  - git_url: https://github.com/o/extras.git\n    git_rev: main\n"
    text = HEAD + "source:\n" + MAIN + extra
    reason = refusal(text)
    assert "https://github.com/o/extras.git" in reason
    assert "pinned to main" in reason


def test_an_extra_git_source_without_a_rev_is_refused_as_on_its_default_branch() -> None:
    """A git source with no rev follows its default branch, never the version: refused."""
    text = HEAD + "source:\n" + MAIN + "  - git_url: https://github.com/o/extras.git\n"
    reason = refusal(text)
    assert "https://github.com/o/extras.git" in reason
    assert "default branch" in reason


def test_a_mirror_left_on_the_old_version_is_named() -> None:
    """A mirror list whose second URL names no version is refused, naming that mirror."""
    text = HEAD + (
        "source:\n  url:\n    - https://a.org/foo-{{ version }}.tar.gz\n"
        f"    - https://b.org/foo-latest.tar.gz\n  sha256: {H1}\n"
    )
    reason = refusal(text)
    assert "https://b.org/foo-latest.tar.gz" in reason


def test_an_extra_source_with_no_version_stays_as_it_is() -> None:
    """A pinned extra download that names no version and no commit is kept, hash and all."""
    extra = f"  - url: https://example.org/testdata.tar.gz\n    sha256: {H2}\n"
    result = rewrite(HEAD + "source:\n" + MAIN + extra, "1.3.0", sha256_of)
    assert extra in result
    assert sha256_of("https://example.org/foo-1.3.0.tar.gz") in result


def test_a_skipped_platform_may_keep_its_source() -> None:
    """`skip: true  # [win]`: the Windows download need not move, nor is it touched."""
    text = HEAD + (
        "source:\n"
        "  url: https://example.org/foo-{{ version }}.tar.gz  # [unix]\n"
        f"  sha256: {H1}  # [unix]\n"
        "  url: https://example.org/foo-latest-win.zip  # [win]\n"
        f"  sha256: {H2}  # [win]\n"
        "build:\n  skip: true  # [win]\n"
    )
    result = rewrite(text, "1.3.0", sha256_of)
    assert f"  sha256: {sha256_of('https://example.org/foo-1.3.0.tar.gz')}  # [unix]\n" in result
    assert f"  url: https://example.org/foo-latest-win.zip  # [win]\n  sha256: {H2}  # [win]\n" in (
        result
    )


def test_one_hash_line_for_a_moving_and_a_pinned_source_is_refused() -> None:
    """A sha256 shared by a source that moves and one that does not cannot be rewritten."""
    text = HEAD + (
        "source:\n"
        "  url: https://example.org/foo-{{ version }}.tar.gz  # [unix]\n"
        "  url: https://example.org/foo-latest-win.zip  # [win]\n"
        f"  sha256: {H1}\n"
        "build:\n  skip: true  # [win]\n"
    )
    reason = refusal(text)
    assert H1 in reason and "moves" in reason
