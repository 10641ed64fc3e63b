"""A synthetic recipes repository and the upstreams it points at.

    generate(root, count, upstream) -> root/<name>/meta.yaml for each recipe (conda-v0, Jinja),
        every page and file a check or an update of it needs registered on `upstream`,
        and a Planned per recipe: what a correct check must find.

The mix follows a typical conda recipes repository: 40% PyPI, 25% GitHub releases, 25% HTTP
directory listings, 10% crawled project sites (explicit `extra: update_check`). Listings are
HTTP autoindex pages only: FTP costs the same one round trip per recipe and would need a second
server. Upstreams are shaped like the real ones (PyPI's JSON with its per-file fields and a
README, GitHub's release objects with notes, nginx autoindex pages with `.sig` files), because
parsing them is part of what a sweep costs. Everything is seeded: the same arguments make the
same corpus.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.upstream import Upstream

MIX = (("pypi", 40), ("github", 25), ("listing", 25), ("crawl", 10))
GITHUB_ORG = "bench-org"
PYPI_PATH = ""  # checkers.pypi.url is the server's base: /pypi/<name>/json
GITHUB_API_PATH = "/api/v3"  # checkers.github.api_url, as on GitHub Enterprise
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "be", "do", "fu", "gi", "ha", "ju",
              "ke", "pa", "qu", "so", "ti", "wy")  # fmt: skip
_EPOCH = datetime(2024, 6, 1, tzinfo=UTC)
_README = "This project does one thing well. " * 120  # PyPI returns the whole README


@dataclass(frozen=True)
class Planned:
    """One generated recipe and what a correct check of it finds."""

    name: str
    checker: str
    current: str
    latest: str  # the newest stable, not yanked version upstream

    @property
    def outdated(self) -> bool:
        return self.current != self.latest


@dataclass(frozen=True)
class _Project:
    """One upstream project as the generator sees it, before it is rendered for a checker."""

    name: str
    stable: tuple[str, ...]  # oldest first
    extra: str | None  # a newer prerelease (or, on PyPI, a yanked release) the bot must skip
    current: str
    sizes: tuple[int, ...]  # download size per stable version


def generate(
    root: Path,
    count: int,
    upstream: Upstream,
    *,
    seed: int = 2024,
    outdated_share: float = 0.2,
    kinds: tuple[str, ...] = (),
) -> list[Planned]:
    """Write `count` recipes under `root` and register their upstreams; the plan, in name order.

    `kinds` keeps only those checkers of the mix, in their proportions (`("listing",)`: every
    recipe a directory listing).
    """
    rng = random.Random(seed)
    plans = []
    for index, checker in enumerate(_checkers(count, rng, kinds)):
        project = _project(_name(index), rng, outdated_share)
        recipe = RENDERERS[checker](project, upstream)
        folder = root / project.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "meta.yaml").write_text(recipe, encoding="utf-8")
        plans.append(Planned(project.name, checker, project.current, project.stable[-1]))
    return sorted(plans, key=lambda plan: plan.name)


def save_plan(plans: list[Planned], path: Path) -> None:
    path.write_text(json.dumps([plan.__dict__ for plan in plans], indent=1), encoding="utf-8")


def nvchecker_entry(plan: Planned, base: str) -> dict[str, str]:
    """The `regex` source a nvchecker user would write for a listing or crawled recipe.

    nvchecker does not crawl, so for a crawled site it is pointed at the page with the links.
    """
    page = {"listing": f"/dist/{plan.name}/", "crawl": f"/site/{plan.name}/download.html"}
    return {
        "source": "regex",
        "url": base + page[plan.checker],
        "regex": rf"{re.escape(plan.name)}-([0-9][0-9.]*)\.tar\.gz",
    }


# --- the corpus ---------------------------------------------------------------------------


def _checkers(count: int, rng: random.Random, only: tuple[str, ...] = ()) -> list[str]:
    """Exactly the MIX proportions (rounding goes to the first), in a seeded random order."""
    mix = [(kind, share) for kind, share in MIX if not only or kind in only]
    if not mix:
        raise ValueError(f"no checker kind among {only}; known: {[kind for kind, _ in MIX]}")
    total = sum(share for _, share in mix)
    kinds = [kind for kind, share in mix[1:] for _ in range(count * share // total)]
    kinds += [mix[0][0]] * (count - len(kinds))
    rng.shuffle(kinds)
    return kinds


def _name(index: int) -> str:
    """A pronounceable, digit-free name (`kalomine`): digits would read as part of a version.

    Unique up to 20**4 = 160,000 recipes.
    """
    syllables = []
    for _ in range(4):
        index, rest = divmod(index, len(_SYLLABLES))
        syllables.append(_SYLLABLES[rest])
    return "".join(syllables)


def _project(name: str, rng: random.Random, outdated_share: float) -> _Project:
    stable = _history(rng)
    major, minor, _ = (int(part) for part in stable[-1].split("."))
    extra = f"{major}.{minor + 1}.0rc1" if rng.random() < 0.15 else None
    behind = rng.randint(1, min(3, len(stable) - 1)) if rng.random() < outdated_share else 0
    # Source tarballs from 20 KB to 4 MB, log-uniform: most are small, a few are large.
    sizes = tuple(int(20_000 * 200 ** rng.random()) for _ in stable)
    return _Project(name, tuple(stable), extra, stable[-1 - behind], sizes)


def _history(rng: random.Random) -> list[str]:
    """A release history of 4 to 40 versions, mostly patch releases."""
    major, minor, patch = rng.randint(0, 3), rng.randint(0, 9), 0
    versions = [f"{major}.{minor}.{patch}"]
    for _ in range(rng.randint(3, 39)):
        roll = rng.random()
        if roll < 0.05:
            major, minor, patch = major + 1, 0, 0
        elif roll < 0.30:
            minor, patch = minor + 1, 0
        else:
            patch += 1
        versions.append(f"{major}.{minor}.{patch}")
    return versions


def _published(index: int, total: int) -> str:
    """Release dates a month apart, the newest a week before the corpus epoch."""
    moment = _EPOCH - timedelta(days=7 + 30 * (total - 1 - index))
    return moment.isoformat().replace("+00:00", "Z")


def _fake_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- recipes ------------------------------------------------------------------------------

_RECIPE = """\
{{% set name = "{name}" %}}
{{% set version = "{version}" %}}

package:
  name: {{{{ name|lower }}}}
  version: {{{{ version }}}}

source:
  url: {url}
  sha256: {sha256}

build:
  number: {build}
{build_extra}
requirements:
{requirements}
test:
  commands:
    - {name} --version

about:
  home: https://example.org/{name}
  license: MIT
  summary: A synthetic {checker} recipe for the recipe-bot benchmark

extra:
  recipe-maintainers:
    - bench-maintainer
{update_check}"""

_PYTHON_BUILD = "  noarch: python\n  script: python -m pip install . -vv --no-deps\n"
_PYTHON_REQUIREMENTS = "  host:\n    - python >=3.9\n    - pip\n  run:\n    - python >=3.9\n"
_C_REQUIREMENTS = "  build:\n    - {{ compiler('c') }}\n    - make  # [unix]\n  host:\n    - zlib\n"


def _recipe(project: _Project, checker: str, url: str, update_check: str = "") -> str:
    python = checker == "pypi"
    return _RECIPE.format(
        name=project.name,
        version=project.current,
        url=url,
        sha256=_fake_sha256(project.name + project.current),
        build=len(project.name) % 3,
        build_extra=_PYTHON_BUILD if python else "",
        requirements=_PYTHON_REQUIREMENTS if python else _C_REQUIREMENTS,
        checker=checker,
        update_check=update_check,
    )


def _pypi(project: _Project, upstream: Upstream) -> str:
    upstream.add_page(
        f"{PYPI_PATH}/pypi/{project.name}/json", _pypi_document(project), "application/json"
    )
    url = (
        "https://pypi.org/packages/source/{{ name[0] }}/{{ name }}/{{ name }}-{{ version }}.tar.gz"
    )
    return _recipe(project, "pypi", url)


def _github(project: _Project, upstream: Upstream) -> str:
    repo = f"{GITHUB_ORG}/{project.name}"
    upstream.add_page(
        f"{GITHUB_API_PATH}/repos/{repo}/releases", _github_document(project), "application/json"
    )
    archive = f"/github.com/{repo}/archive/refs/tags"
    for version, size in zip(project.stable, project.sizes, strict=True):
        upstream.add_file(f"{archive}/v{version}.tar.gz", size)
    # The archive lives on the local server (so updates can be hashed offline), which no checker
    # detects as GitHub: the recipe names its checker, as recipes with unusual URLs do.
    update_check = f"  update_check:\n    checker: github\n    repo: {repo}\n"
    return _recipe(
        project, "github", upstream.base + archive + "/v{{ version }}.tar.gz", update_check
    )


def _listing(project: _Project, upstream: Upstream) -> str:
    directory = f"/dist/{project.name}/"
    names = []
    for version, size in zip(project.stable, project.sizes, strict=True):
        tarball = f"{project.name}-{version}.tar.gz"
        upstream.add_file(directory + tarball, size)
        names += [tarball, tarball + ".sig"]
    upstream.add_page(directory, _autoindex(directory, names))
    return _recipe(
        project, "listing", upstream.base + directory + "{{ name }}-{{ version }}.tar.gz"
    )


def _crawl(project: _Project, upstream: Upstream) -> str:
    site = f"/site/{project.name}/"
    for version, size in zip(project.stable, project.sizes, strict=True):
        upstream.add_file(f"{site}files/{project.name}-{version}.tar.gz", size)
    for path, page in _site_pages(project).items():
        upstream.add_page(site + path, page)
    upstream.add_page("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    pattern = rf"{re.escape(project.name)}-(?P<version>[0-9.]+)\.tar\.gz"
    update_check = (
        f"  update_check:\n    checker: crawl\n    url: {upstream.base}{site}\n"
        f"    pattern: '{pattern}'\n"
    )
    return _recipe(
        project,
        "crawl",
        upstream.base + site + "files/{{ name }}-{{ version }}.tar.gz",
        update_check,
    )


RENDERERS: dict[str, Callable[[_Project, Upstream], str]] = {
    "pypi": _pypi,
    "github": _github,
    "listing": _listing,
    "crawl": _crawl,
}


# --- upstream documents -------------------------------------------------------------------


def _pypi_document(project: _Project) -> str:
    total = len(project.stable)
    releases = {
        version: _pypi_files(project.name, version, _published(index, total), yanked=False)
        for index, version in enumerate(project.stable)
    }
    if project.extra:
        # On PyPI half the extras are a yanked next patch release, the other half a prerelease.
        yanked = len(releases) % 2 == 0
        major, minor, patch = project.stable[-1].split(".")
        version = f"{major}.{minor}.{int(patch) + 1}" if yanked else project.extra
        releases[version] = _pypi_files(
            project.name, version, _published(total, total), yanked=yanked
        )
    info = {
        "name": project.name,
        "version": project.stable[-1],
        "summary": f"The {project.name} project",
        "description": _README,
        "description_content_type": "text/markdown",
        "license": "MIT",
        "requires_python": ">=3.9",
        "project_url": f"https://pypi.org/project/{project.name}/",
        "project_urls": {
            "Homepage": f"https://example.org/{project.name}",
            "Changelog": f"https://example.org/{project.name}/changes",
        },
        "classifiers": [
            "Programming Language :: Python :: 3",
            "License :: OSI Approved :: MIT License",
        ],
    }
    return json.dumps(
        {"info": info, "last_serial": 1, "releases": releases, "urls": [], "vulnerabilities": []}
    )


def _pypi_files(
    name: str, version: str, published: str, *, yanked: bool
) -> list[dict[str, object]]:
    files = []
    for filename, kind in (
        (f"{name}-{version}.tar.gz", "sdist"),
        (f"{name}-{version}-py3-none-any.whl", "bdist_wheel"),
    ):
        digest = _fake_sha256(filename)
        files.append(
            {
                "comment_text": "",
                "digests": {"blake2b_256": digest, "md5": digest[:32], "sha256": digest},
                "downloads": -1,
                "filename": filename,
                "has_sig": False,
                "md5_digest": digest[:32],
                "packagetype": kind,
                "python_version": "source" if kind == "sdist" else "py3",
                "requires_python": ">=3.9",
                "size": 123_456,
                "upload_time": published[:19],
                "upload_time_iso_8601": published,
                "url": f"https://files.pythonhosted.org/packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/{filename}",
                "yanked": yanked,
                "yanked_reason": "broken build" if yanked else None,
            }
        )
    return files


def _github_document(project: _Project) -> str:
    total = len(project.stable)
    tags = [(version, False) for version in project.stable]
    if project.extra:
        tags.append((project.extra, True))
    # GitHub lists the newest release first; per_page=100 holds these histories in one page.
    releases = [
        _github_release(project.name, tag, index, total, pre)
        for index, (tag, pre) in enumerate(tags)
    ]
    return json.dumps(releases[::-1])


def _github_release(
    name: str, version: str, index: int, total: int, prerelease: bool
) -> dict[str, object]:
    repo = f"{GITHUB_ORG}/{name}"
    api = f"https://api.github.com/repos/{repo}"
    user = {
        "login": "maintainer",
        "id": 1,
        "type": "User",
        "url": "https://api.github.com/users/maintainer",
        "html_url": "https://github.com/maintainer",
    }
    return {
        "url": f"{api}/releases/{index}",
        "html_url": f"https://github.com/{repo}/releases/tag/v{version}",
        "assets_url": f"{api}/releases/{index}/assets",
        "id": index,
        "node_id": f"RE_{name}_{index}",
        "author": user,
        "tag_name": f"v{version}",
        "target_commitish": "main",
        "name": f"{name} {version}",
        "draft": False,
        "prerelease": prerelease,
        "created_at": _published(index, total),
        "published_at": _published(index, total),
        "assets": [],
        "tarball_url": f"{api}/tarball/v{version}",
        "zipball_url": f"{api}/zipball/v{version}",
        "body": f"## What's changed\n\n* Fixes and improvements in {name} {version}.\n" * 8,
    }


def _autoindex(path: str, names: list[str]) -> str:
    """An nginx autoindex page, as ftp.gnu.org-like mirrors serve them."""
    rows = "".join(
        f'<a href="{name}">{name}</a>{" " * max(1, 50 - len(name))}01-Jan-2024 00:00  123456\n'
        for name in names
    )
    return (
        f"<html>\n<head><title>Index of {path}</title></head>\n<body>\n"
        f'<h1>Index of {path}</h1><hr><pre><a href="../">../</a>\n{rows}'
        "</pre><hr></body>\n</html>\n"
    )


def _site_pages(project: _Project) -> dict[str, str]:
    """A small project site: a home page, a news page and the download page with the tarballs."""
    nav = (
        '<nav><a href="./">Home</a> <a href="news.html">News</a> '
        '<a href="download.html">Download</a> <a href="https://example.org/">Sponsor</a> '
        '<a href="#top">Top</a></nav>'
    )
    links = "".join(
        f'<li><a href="files/{project.name}-{v}.tar.gz">{project.name} {v}</a></li>\n'
        for v in reversed(project.stable)
    )
    body = "<p>Lorem ipsum dolor sit amet.</p>\n" * 40
    return {
        "": f"<html><body>{nav}<h1>{project.name}</h1>{body}</body></html>",
        "news.html": f"<html><body>{nav}<h1>News</h1>{body}</body></html>",
        "download.html": f"<html><body>{nav}<h1>Download</h1><ul>{links}</ul></body></html>",
    }
