"""Which checker claims a source URL, with which options; and the registry kept honest."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import checkers
from checkers import BUILTIN, DETECTION_ORDER, listing
from checkers._tags import VERSION
from checkers.api import COMMON_OPTIONS, Options

HERE = Path(__file__).parent


def files(head: str, tail: str) -> str:
    """The pattern listing makes for `<head><version><tail>`."""
    return f"{re.escape(head)}(?P<version>{VERSION}){re.escape(tail)}"


GNU = "https://ftp.gnu.org/gnu"
CASES: list[tuple[str, str | None, dict[str, Any] | None]] = [
    # PyPI first: its hosts are never claimed by the others.
    ("https://pypi.io/packages/source/a/attrs/attrs-18.2.0.tar.gz", "pypi", {"package": "attrs"}),
    # GitHub archives and release assets.
    (
        "https://github.com/python-attrs/attrs/archive/18.2.0.tar.gz",
        "github",
        {"repo": "python-attrs/attrs"},
    ),
    (
        "https://github.com/jqlang/jq/archive/refs/tags/jq-1.7.1.tar.gz",
        "github",
        {"repo": "jqlang/jq"},
    ),
    (
        "https://github.com/BurntSushi/ripgrep/releases/download/14.1.0/ripgrep-14.1.0.tar.gz",
        "github",
        {"repo": "BurntSushi/ripgrep"},
    ),
    ("https://www.github.com/o/r.js/archive/v1.0.zip", "github", {"repo": "o/r.js"}),
    # Other GitHub addresses are no directory listing either.
    ("https://github.com/o/r/blob/main/foo-1.0.tar.gz", None, None),
    ("https://raw.githubusercontent.com/o/r/v1.0/foo-1.0.tar.gz", None, None),
    # Directory listings: the parent directory, the file name with its version as a group.
    (
        f"{GNU}/readline/readline-8.0.tar.gz",
        "listing",
        {"url": f"{GNU}/readline/", "pattern": files("readline-", ".tar.gz")},
    ),
    (
        "ftp://ftp.gnu.org/gnu/bash/bash-5.2.tar.gz",
        "listing",
        {"url": "ftp://ftp.gnu.org/gnu/bash/", "pattern": files("bash-", ".tar.gz")},
    ),
    (
        "https://sourceware.org/pub/bzip2/bzip2-1.0.8.tar.gz",
        "listing",
        {"url": "https://sourceware.org/pub/bzip2/", "pattern": files("bzip2-", ".tar.gz")},
    ),
    (
        "https://prdownloads.sourceforge.net/tcl/tcl8.6.13-src.tar.gz",
        "listing",
        {"url": "https://prdownloads.sourceforge.net/tcl/", "pattern": files("tcl", "-src.tar.gz")},
    ),
    (
        "https://nodejs.org/dist/v20.10.0/node-v20.10.0-linux-x64.tar.xz",
        "listing",
        {"url": "https://nodejs.org/dist/", "pattern": files("node-v", "-linux-x64.tar.xz")},
    ),
    (
        "https://example.org/dl/v1.2.3.zip",
        "listing",
        {"url": "https://example.org/dl/", "pattern": files("v", ".zip")},
    ),
    # A directory per release series: list the one above it.
    (
        "https://download.gnome.org/sources/glib/2.80/glib-2.80.0.tar.xz",
        "listing",
        {"url": "https://download.gnome.org/sources/glib/", "pattern": files("glib-", ".tar.xz")},
    ),
    (
        "https://www.python.org/ftp/python/3.12.1/Python-3.12.1.tar.xz",
        "listing",
        {"url": "https://www.python.org/ftp/python/", "pattern": files("Python-", ".tar.xz")},
    ),
    (
        "https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.7.tar.xz",
        "listing",
        {"url": "https://cdn.kernel.org/pub/linux/kernel/", "pattern": files("linux-", ".tar.xz")},
    ),
    # Nothing to make a pattern from.
    ("https://example.org/downloads/", None, None),
    ("https://example.org/download.php?file=foo-1.0.tar.gz", None, None),
    ("https://example.org/dl/foo-latest.tar.gz", None, None),
    ("https://example.org/docs/guide-1.0.html", None, None),
    ("git+https://example.org/foo-1.0.tar.gz", None, None),
]


def detect(url: str) -> tuple[str | None, dict[str, Any] | None]:
    """What the core does: the first checker in DETECTION_ORDER to claim the URL wins."""
    for name in DETECTION_ORDER:
        options = BUILTIN[name].detect(url)
        if options is not None:
            return name, options
    return None, None


@pytest.mark.parametrize(("url", "checker", "options"), CASES, ids=[case[0] for case in CASES])
def test_detection(url: str, checker: str | None, options: dict[str, Any] | None) -> None:
    """Each source URL is claimed by the expected checker with the expected options (or none)."""
    assert detect(url) == (checker, options)


@pytest.mark.parametrize(
    ("source", "matches", "misses"),
    [
        (
            "readline-8.0.tar.gz",
            ["readline-8.2.tar.gz", "readline-8.3-rc1.tar.gz", "readline-10.0.tar.gz"],
            [
                "readline-doc-8.2.tar.gz",
                "readline-8.2-patches.tar.gz",
                "readline-8.2.tar.gz.sig",
                "readline-8.2.tar.xz",
                "libreadline-8.2.tar.gz",
            ],
        ),
        (
            "openssl-1.1.1w.tar.gz",
            ["openssl-3.2.0.tar.gz", "openssl-1.1.1x.tar.gz", "openssl-3.0.0-beta2.tar.gz"],
            ["openssl-fips-2.0.16.tar.gz", "openssl-3.2.0.tar.gz.sha256"],
        ),
        ("openssh-9.6p1.tar.gz", ["openssh-9.7p1.tar.gz"], ["openssh-9.7p1.tar.gz.asc"]),
        (
            "Python-3.12.1.tar.xz",
            ["Python-3.13.0a2.tar.xz", "Python-3.12.2.tar.xz"],
            ["python-3.12.2.tar.xz"],
        ),
        (
            "boost_1_84_0.tar.bz2",
            ["boost_1_85_0.tar.bz2"],
            ["boost_1_85_0.tar.bz2.json", "boost-build_1_85_0.tar.bz2"],
        ),
        (  # CRAN: the `-16` is part of the version
            "gamsel_1.8-5.tar.gz",
            ["gamsel_1.8-6.tar.gz", "gamsel_1.10-1.tar.gz", "gamsel_2.0.tar.gz"],
            ["gamsel_1.8-6.tar.gz.asc", "gamsel2_1.8-6.tar.gz"],
        ),
    ],
)
def test_detected_patterns_do_not_over_match(
    source: str, matches: list[str], misses: list[str]
) -> None:
    """A pattern made from one file name matches its siblings' releases, not other packages."""
    options = listing.detect(f"https://example.org/dl/{source}")
    assert options is not None
    pattern = re.compile(options["pattern"])
    assert [name for name in matches if not pattern.fullmatch(name)] == []
    assert [name for name in misses if pattern.fullmatch(name)] == []


@pytest.mark.parametrize(
    ("name", "version"),
    [("foo_1.0-15.tar.gz", "1.0-15"), ("x-1.2.3-4.5.tar.gz", "1.2.3"), ("tool-2-1.tar.gz", "2")],
)
def test_a_cran_number_is_part_of_the_version(name: str, version: str) -> None:
    """`1.0-15` is one version (CRAN); a `-4.5` after a version, or `-1` after a number, is not."""
    made = listing.pattern_for(name)
    assert made is not None and made[1] == version


def test_every_checker_has_a_test_module() -> None:
    """Each built-in checker has its tests/checkers/test_<name>.py (bioconda's honesty test)."""
    assert [name for name in BUILTIN if not (HERE / f"test_{name}.py").is_file()] == []


def test_registry_matches_the_modules_on_disk() -> None:
    """Every public module in checkers/ (but the protocol) is registered, and nothing else."""
    package = Path(checkers.__file__).parent
    modules = {path.stem for path in package.glob("*.py") if not path.stem.startswith("_")}
    assert modules - {"api"} == set(BUILTIN)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_checkers_follow_the_protocol(name: str) -> None:
    """OPTIONS and SETTINGS are typed declarations under the checker's name, options disjoint
    from the common ones, every default valid for its own kind; detect and releases exist."""
    checker = BUILTIN[name]
    assert isinstance(checker.OPTIONS, Options) and checker.OPTIONS.typed
    assert isinstance(checker.SETTINGS, Options) and checker.SETTINGS.typed
    assert not checker.OPTIONS & COMMON_OPTIONS
    for declared in (checker.OPTIONS, checker.SETTINGS):
        assert declared.checker == name
        for option in declared.by_name.values():
            assert option.default is None or not option.required
            if option.default is not None:
                assert option.kind.parse(option.default) == option.default
            assert option.token_for is None or option.token_for in checker.SETTINGS
    assert callable(checker.detect) and callable(checker.releases)


def test_crawl_is_never_detected() -> None:
    """Crawling is explicit only: it is not in the detection order."""
    assert "crawl" not in DETECTION_ORDER and set(DETECTION_ORDER) <= set(BUILTIN)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_readme_lists_every_declared_option(name: str) -> None:
    """README's checker table names each option the checker declares, and no other."""
    readme = (Path(checkers.__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in readme.splitlines() if line.startswith(f"| `{name}` |")]
    documented = set(re.findall(r"`(\w+)` \(|`(\w+)`[,|]", row.split("|")[2]))
    names = {first or second for first, second in documented}
    assert names == set(BUILTIN[name].OPTIONS)
