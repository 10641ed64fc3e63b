"""PyPI, or any index with PyPI's JSON API (a mirror, devpi-web, a Warehouse instance).

Settings: `checkers: pypi: {url: https://pypi.org}`. The JSON document is
`{url}/pypi/{package}/json`; a `url` containing `{package}` is used as the whole template.
Option: `package`, the project's name on the index (default: the recipe's name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from bot.errors import BadUpstreamResponse
from bot.model import Recipe, Release
from checkers.api import TEXT, URL, CheckContext, Option, Options

PACKAGE = Option("package", TEXT)
OPTIONS = Options(PACKAGE, checker="pypi")
INDEX_URL = Option("url", URL, default="https://pypi.org")
SETTINGS = Options(INDEX_URL, checker="pypi", what="setting")

_HOSTS = {"files.pythonhosted.org", "pypi.io", "pypi.org", "pypi.python.org"}
# /packages/source/a/attrs/attrs-1.0.tar.gz — the canonical sdist redirect path.
_SOURCE_PATH = re.compile(r"^/packages/source/[^/]+/([^/]+)/")
_FILE_NAME = re.compile(r"^(.+?)-v?\d[^/]*\.(?:tar\.gz|tar\.bz2|tar\.xz|tgz|zip|whl)$")
_CHANGELOG_LABELS = re.compile(r"(?i)change|release|history|news|what'?s new")


# The page memo's kind for the releases one project document gives; bump it when the same
# document would give other releases.
MEMO_KIND = "pypi.releases.1"


def detect(url: str) -> dict[str, Any] | None:
    parts = urlsplit(url)
    if parts.hostname not in _HOSTS or not parts.path.startswith("/packages/"):
        return None
    source = _SOURCE_PATH.match(parts.path)
    if source:
        return {"package": source.group(1)}
    name = _FILE_NAME.match(parts.path.rsplit("/", 1)[-1])
    return {"package": name.group(1)} if name else None


def releases(recipe: Recipe, options: Mapping[str, Any], ctx: CheckContext) -> list[Release]:
    package = OPTIONS.read(options).optional(PACKAGE) or recipe.name
    base = SETTINGS.read(ctx.settings)[INDEX_URL].rstrip("/")
    if "{package}" in base:
        url = base.replace("{package}", quote(package))
    else:
        url = f"{base}/pypi/{quote(package)}/json"
    page = ctx.http.get(url, headers={"Accept": "application/json"})
    kept = page.memo.get(MEMO_KIND) if page.memo is not None else None
    if isinstance(kept, list):  # a 304: the releases this very body gave last time
        return [_thawed(item) for item in kept if isinstance(item, dict)]
    found = _releases(page.json(), url, base, package)
    if page.memo is not None:
        page.memo.put(MEMO_KIND, [_frozen(release) for release in found])
    return found


def _releases(document: Any, url: str, base: str, package: str) -> list[Release]:
    if not isinstance(document, dict) or not isinstance(document.get("releases"), dict):
        raise BadUpstreamResponse(f"{url}: not a PyPI project document (no 'releases')")
    info: dict[str, Any] = document["info"] if isinstance(document.get("info"), dict) else {}
    changelog = _changelog(info)
    project_page = str(info.get("project_url") or f"{base}/project/{package}/").rstrip("/")
    found = []
    for version, files in document["releases"].items():
        if not isinstance(files, list) or not files:
            continue  # a version with no files has nothing to download
        found.append(
            Release(
                version=str(version),
                url=f"{project_page}/{version}/",
                published=_earliest_upload(files),
                # A release is yanked when every one of its files is.
                yanked=all(isinstance(f, dict) and f.get("yanked") for f in files),
                changelog=changelog,
                hashes=_published_hashes(files),
                locations=_file_locations(files, base),
            )
        )
    return found


def _frozen(release: Release) -> dict[str, Any]:
    """A release as the JSON the page memo keeps."""
    return {
        "version": release.version,
        "url": release.url,
        "published": release.published.isoformat() if release.published else None,
        "yanked": release.yanked,
        "changelog": release.changelog,
        "hashes": dict(release.hashes),
        "locations": sorted(release.locations),
    }


def _thawed(item: dict[str, Any]) -> Release:
    published = item.get("published")
    return Release(
        version=str(item.get("version")),
        url=item.get("url"),
        published=datetime.fromisoformat(published) if isinstance(published, str) else None,
        yanked=bool(item.get("yanked")),
        changelog=item.get("changelog"),
        hashes=dict(item.get("hashes") or {}),
        locations=frozenset(item.get("locations") or ()),
    )


def _published_hashes(files: list[Any]) -> dict[str, str]:
    hashes = {}
    for file in files:
        if not isinstance(file, dict) or file.get("yanked"):
            continue
        digest = (file.get("digests") or {}).get("sha256")
        if isinstance(file.get("filename"), str) and isinstance(digest, str) and len(digest) == 64:
            hashes[file["filename"]] = digest.lower()
    return hashes


# pypi.io/packages/source/... and pypi.org/packages/source/... redirect to the files host.
_PYPI_ALIASES = frozenset({"pypi.org", "pypi.io", "pypi.python.org", "files.pythonhosted.org"})


def _file_locations(files: list[Any], base: str) -> frozenset[str]:
    """Where the release's files are served, as URL prefixes.

    On pypi.org a file name is unique in the whole index, so its hosts (and the pypi.io and
    pypi.org/packages/source redirects recipes use) are location enough. A mirror or an
    Artifactory host may serve other indexes with other files of the same name: there, only
    the folders the files are listed in count.
    """
    locations = set()
    for file in files:
        url = file.get("url") if isinstance(file, dict) else None
        if isinstance(url, str) and "/" in url:
            host = urlsplit(url).hostname or ""
            if host in _PYPI_ALIASES:
                locations |= {f"{scheme}://{alias}/" for alias in _PYPI_ALIASES
                              for scheme in ("https", "http")}  # fmt: skip
            else:
                locations.add(url.rsplit("/", 1)[0] + "/")
    return frozenset(locations)


def _earliest_upload(files: list[Any]) -> datetime | None:
    times = []
    for file in files:
        stamp = file.get("upload_time_iso_8601") if isinstance(file, dict) else None
        if isinstance(stamp, str):
            try:
                times.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
            except ValueError:
                continue
    return min(times) if times else None


def _changelog(info: Mapping[str, Any]) -> str | None:
    urls = info.get("project_urls")
    if not isinstance(urls, dict):
        return None
    for label, link in urls.items():
        if isinstance(link, str) and _CHANGELOG_LABELS.search(str(label)):
            return link
    return None
