"""Edges of the rewrite found by review: each once gave a wrong or stale hash, or a crash.

Every test rewrites with a recording hasher and checks the hash of each new URL is the one
written, or that the rewrite refuses with a reason.
"""

from __future__ import annotations

import hashlib

import pytest

from bot.errors import RewriteRefused, UpstreamUnavailable
from bot.formats import rewrite


def H(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


class Recorder:
    def __init__(self, missing: tuple[str, ...] = ()) -> None:
        self.asked: list[str] = []
        self.missing = missing

    def __call__(self, url: str) -> str:
        self.asked.append(url)
        if any(part in url for part in self.missing):
            raise OSError(f"404 Not Found: {url}")
        return H(f"new {url}")


META = '{% set version = "1.0" %}\npackage:\n  name: foo\n  version: {{ version }}\n'


def test_recipe_yaml_branches_are_read_with_their_own_platform() -> None:
    """An `if: linux and aarch64` branch reads `arch` as aarch64 sees it, not as linux-64 does."""
    text = (
        'context:\n  version: "1.0"\n  arch: ${{ "arm64" if aarch64 else "amd64" }}\n'
        "package:\n  name: foo\n  version: ${{ version }}\nsource:\n"
        "  - if: linux and x86_64\n    then:\n"
        "      url: https://x.org/v${{ version }}/foo-linux-${{ arch }}.tar.gz\n"
        f"      sha256: {H('a')}\n"
        "  - if: linux and aarch64\n    then:\n"
        "      url: https://x.org/v${{ version }}/foo-linux-${{ arch }}.tar.gz\n"
        f"      sha256: {H('b')}\n"
    )
    hasher = Recorder()

    result = rewrite(text, "1.1", hasher, filename="recipe.yaml")

    assert H("new https://x.org/v1.1/foo-linux-amd64.tar.gz") in result
    assert H("new https://x.org/v1.1/foo-linux-arm64.tar.gz") in result
    assert H("a") not in result and H("b") not in result


def test_recipe_yaml_variant_branches_each_get_their_hash() -> None:
    """`if: cuda_version == "11.8"` and its `else:` are read with each variant value."""
    text = (
        'context:\n  version: "1.0"\npackage:\n  name: foo\n  version: ${{ version }}\nsource:\n'
        '  - if: cuda_version == "11.8"\n    then:\n'
        "      url: https://x.org/foo-${{ version }}-cu${{ cuda_version }}.tar.gz\n"
        f"      sha256: {H('a')}\n"
        "    else:\n"
        "      url: https://x.org/foo-${{ version }}-cu${{ cuda_version }}.tar.gz\n"
        f"      sha256: {H('b')}\n"
    )

    result = rewrite(text, "1.1", Recorder(), filename="recipe.yaml",
                     variants={"cuda_version": ["11.8", "12.4"]})  # fmt: skip

    assert H("new https://x.org/foo-1.1-cu11.8.tar.gz") in result
    assert H("new https://x.org/foo-1.1-cu12.4.tar.gz") in result


def test_a_published_name_on_another_host_is_another_file() -> None:
    """With the publisher's hosts known, a same-named file elsewhere is downloaded, not trusted."""
    text = META + (
        "source:\n  - url: https://github.com/o/foo/releases/download/v{{ version }}/"
        f"foo-{{{{ version }}}}.tar.gz\n    sha256: {H('a')}\n"
        f"  - url: https://example.org/data/foo-{{{{ version }}}}.tar.gz\n    sha256: {H('b')}\n"
    )
    hasher = Recorder()

    result = rewrite(text, "1.1", hasher, published={"foo-1.1.tar.gz": H("published")},
                     published_at={"https://github.com/o/foo/releases/download/v1.1/"})  # fmt: skip

    assert hasher.asked == ["https://example.org/data/foo-1.1.tar.gz"]
    assert H("published") in result and H("new https://example.org/data/foo-1.1.tar.gz") in result


def test_a_hash_in_a_dict_indexed_by_python_is_never_left_stale() -> None:
    """A digest outside any checksum line, in a configuration not read, is a refusal."""
    digests = '{% set digests = {"311": "' + H("a") + '", "312": "' + H("b") + '"} %}\n'
    text = (
        META.replace("package:", digests + "package:")
        + "source:\n  url: https://x.org/foo-{{ version }}.tar.gz\n"
        "  sha256: {{ digests[py|string] }}\n"
    )

    with pytest.raises(RewriteRefused, match="applies in no configuration"):
        rewrite(text, "1.1", Recorder())


def test_a_platform_named_only_by_target_platform_is_read() -> None:
    """`# [target_platform == "linux-armv7l"]` reads the recipe on linux-armv7l too."""
    text = META + (
        "source:\n  url: https://x.org/foo-{{ version }}-{{ target_platform }}.tar.gz\n"
        f'  sha256: {H("arm")}  # [target_platform == "linux-armv7l"]\n'
        f'  sha256: {H("rest")}  # [target_platform != "linux-armv7l"]\n'
        "build:\n  skip: true  # [not (linux64 or target_platform == 'linux-armv7l')]\n"
    )

    result = rewrite(text, "1.1", Recorder())

    assert H("new https://x.org/foo-1.1-linux-armv7l.tar.gz") in result
    assert H("new https://x.org/foo-1.1-linux-64.tar.gz") in result


@pytest.mark.parametrize(
    "extra",
    [
        "  url:\n    - https://a.org/foo-{{ version }}.tar.gz\n"
        "    - https://b.org/foo-{{ version }}.tar.gz\n",
        "  url: https://a.org/foo-{{ version }}.tar.gz\n  fn: foo-{{ version }}.tar.gz\n",
    ],
    ids=["mirrors", "fn"],
)
def test_another_form_is_refused_where_mirrors_or_a_file_name_would_not_follow(
    extra: str,
) -> None:
    """When only `.tar.xz` downloads, mirrors and `fn:` still saying `.tar.gz` make a refusal."""
    text = META + "source:\n" + extra + f"  sha256: {H('a')}\n"

    with pytest.raises(RewriteRefused, match="would need the same change"):
        rewrite(text, "1.1", Recorder(missing=(".tar.gz",)))


def test_a_git_source_with_a_checksum_is_refused() -> None:
    """No download gives a git checkout's hash: the repository page must not be hashed."""
    text = META + (
        "source:\n  git_url: https://github.com/o/foo\n  git_rev: v{{ version }}\n"
        f"  sha256: {H('a')}\n"
    )
    hasher = Recorder()

    with pytest.raises(RewriteRefused, match=r"git source .* has a checksum"):
        rewrite(text, "1.1", hasher)
    assert hasher.asked == []


def test_a_moved_file_with_the_same_content_keeps_its_digest() -> None:
    """A per-version LICENSE that did not change gets the same digest back: that is fine."""
    text = META + (
        "source:\n  - url: https://x.org/foo-{{ version }}.tar.gz\n"
        f"    sha256: {H('a')}\n"
        "  - url: https://raw.githubusercontent.com/o/foo/v{{ version }}/LICENSE\n"
        f"    sha256: {H('license')}\n"
    )

    def same_license(url: str) -> str:
        return H("license") if url.endswith("/LICENSE") else H(f"new {url}")

    result = rewrite(text, "1.1", same_license)

    assert H("license") in result and H("a") not in result


def test_a_variable_set_from_itself_still_takes_the_variant_values() -> None:
    """`{% set mpi = mpi or "nompi" %}` is read with each of the variant file's values."""
    text = (
        '{% set version = "1.0" %}\n{% set mpi = mpi or "nompi" %}\n'
        "package:\n  name: foo\n  version: {{ version }}\n"
        "source:\n  url: https://x.org/foo-{{ mpi }}-{{ version }}.tar.gz\n"
        f'  sha256: {H("o")}  # [mpi == "openmpi"]\n'
        f'  sha256: {H("m")}  # [mpi == "mpich"]\n'
    )

    result = rewrite(text, "1.1", Recorder(), variants={"mpi": ["openmpi", "mpich"]})

    assert H("new https://x.org/foo-openmpi-1.1.tar.gz") in result
    assert H("new https://x.org/foo-mpich-1.1.tar.gz") in result


def test_an_unavailable_upstream_is_a_refusal_not_another_form() -> None:
    """A 503 on the right URL must not make the bot switch the recipe to `.tar.xz`."""
    asked: list[str] = []

    def overloaded(url: str) -> str:
        asked.append(url)
        raise UpstreamUnavailable(f"{url}: 503 Service Unavailable")

    text = (
        META + f"source:\n  url: https://x.org/foo-{{{{ version }}}}.tar.gz\n  sha256: {H('a')}\n"
    )

    with pytest.raises(RewriteRefused, match="not trying other forms"):
        rewrite(text, "1.1", overloaded)
    assert asked == ["https://x.org/foo-1.1.tar.gz"]


def test_an_empty_variant_list_is_no_crash() -> None:
    """`mpi: []` in a variant file gives no value; the recipe is read as without it."""
    text = META + (
        "source:\n  url: https://x.org/foo-{{ version }}.tar.gz\n"
        f'  sha256: {H("a")}  # [mpi == "openmpi" or not mpi]\n'
    )

    result = rewrite(text, "1.1", Recorder(), variants={"mpi": []})

    assert H("new https://x.org/foo-1.1.tar.gz") in result


def test_published_hashes_are_recorded_only_for_what_is_written() -> None:
    """`record` hears of each published hash the result holds, once the result is certain."""
    text = META.replace("name: foo", "name: foo-bar").replace(
        "package:", '{% set name = "foo-bar" %}\npackage:'
    ) + (
        "source:\n  url: https://pypi.io/packages/source/f/foo-bar/"
        "{{ name }}-{{ version }}.tar.gz\n"
        f"  sha256: {H('a')}\n"
    )
    heard: list[tuple[str, str]] = []

    result = rewrite(text, "1.1", Recorder(), published={"foo_bar-1.1.tar.gz": H("p")},
                     record=lambda url, digest: heard.append((url, digest)))  # fmt: skip

    assert heard == [("https://pypi.io/packages/source/f/foo-bar/foo_bar-1.1.tar.gz", H("p"))]
    assert H("p") in result


def test_a_release_asset_hash_is_not_a_tag_archive_hash() -> None:
    """A GitHub asset named like the tag archive is another file: the archive is downloaded."""
    text = META + (
        "source:\n  url: https://github.com/o/libfoo/archive/refs/tags/"
        f"libfoo-{{{{ version }}}}.tar.gz\n  sha256: {H('a')}\n"
    )
    hasher = Recorder()
    folder = "https://github.com/o/libfoo/releases/download/libfoo-1.1/"

    result = rewrite(text, "1.1", hasher, published={"libfoo-1.1.tar.gz": H("asset")},
                     published_at={folder})  # fmt: skip

    assert hasher.asked == ["https://github.com/o/libfoo/archive/refs/tags/libfoo-1.1.tar.gz"]
    assert H("asset") not in result


def test_a_403_for_a_missing_key_lets_other_forms_be_tried() -> None:
    """S3 answers 403 for a key that is not there: like a 404, another form is tried."""
    from bot.errors import UpstreamError

    def s3(url: str) -> str:
        if url.endswith(".tar.gz"):
            raise UpstreamError(f"{url}: HTTP 403")
        return H(f"new {url}")

    url = "https://b.s3.amazonaws.com/foo-{{ version }}.tar.gz"
    text = META + f"source:\n  url: {url}\n  sha256: {H('a')}\n"

    result = rewrite(text, "1.1", s3)

    assert "foo-{{ version }}.tar.xz" in result
    assert H("new https://b.s3.amazonaws.com/foo-1.1.tar.xz") in result
