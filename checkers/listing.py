"""Files in a directory listing, over HTTP(S) (any autoindex, any page of links) or FTP.

    list `url` -> every entry whose file name (or whole URL) matches `pattern` is a release
               -> plus the newest few version-like sub-directories (`glib/2.80/`), listed too

Auto-detected from any other http(s)/ftp source URL of an archive: the directory it sits in
(or the one above, when that directory is itself a version: `…/glib/2.80/glib-2.80.0.tar.xz`)
and a pattern made from the file name with the version replaced by a `version` group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from bot.errors import BadUpstreamResponse, UpstreamNotFound
from bot.ftp import FtpEntry
from bot.model import Recipe, Release
from checkers._links import child_directory, file_name, page_links
from checkers._tags import (
    VERSION_GROUP,
    NamePattern,
    dedupe,
    find_version,
    looks_like_version_dir,
    match_version,
    split_archive,
    version_key,
)
from checkers.api import URL, VERSION_REGEX, CheckContext, Option, Options

DIRECTORY = Option("url", URL, required=True)  # the listing, http(s) or ftp
PATTERN = Option("pattern", VERSION_REGEX, required=True)  # a file name, or a whole URL
OPTIONS = Options(DIRECTORY, PATTERN, checker="listing")
SETTINGS = Options(checker="listing", what="setting")

# Release series directories listed besides the top one: the newest may hold only an
# unstable series (GNOME's odd minors) or be created empty before the first tarball.
SUBDIRS_CHECKED = 3
# Hosts with checkers of their own (detection asks those first; never claim them here).
_OTHER_CHECKERS = re.compile(
    r"(?:^|\.)(?:github\.com|githubusercontent\.com|pypi\.org|pypi\.io|pythonhosted\.org)$"
)


@dataclass(frozen=True)
class _Entry:
    name: str  # unquoted file or directory name
    url: str  # absolute
    is_dir: bool | None  # None: the listing does not say (FTP NLST)


def detect(url: str) -> dict[str, Any] | None:
    """The source's directory and a pattern from its file name, or None when no version shows."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https", "ftp") or not host or _OTHER_CHECKERS.search(host):
        return None
    directory, _, raw_name = parts.path.rpartition("/")
    made = pattern_for(unquote(raw_name))
    if made is None or parts.query:
        return None
    pattern, version = made
    parent, _, last = directory.rpartition("/")
    if last and _is_series_of(unquote(last), version):
        directory = parent
    return {
        "url": urlunsplit((parts.scheme, parts.netloc, directory + "/", "", "")),
        "pattern": pattern,
    }


def pattern_for(filename: str) -> tuple[str, str] | None:
    """(`readline-(?P<version>…)\\.tar\\.gz`, `8.0`) from `readline-8.0.tar.gz`, or None."""
    split = split_archive(filename)
    if split is None:
        return None
    stem, extension = split
    match = find_version(stem)
    if match is None:
        return None
    # Keep a `v` before the version literal: `v1.2.3.tar.gz` lists as `v(?P<version>…)`.
    head = stem[: match.start("version")]
    tail = stem[match.end("version") :] + extension
    return f"{re.escape(head)}{VERSION_GROUP}{re.escape(tail)}", match["version"]


def releases(recipe: Recipe, options: Mapping[str, Any], ctx: CheckContext) -> list[Release]:
    given = OPTIONS.read(options)
    url, pattern = given[DIRECTORY], given[PATTERN]
    entries = _list(ctx, url)
    found = list(_matching(entries, pattern))
    series = [e for e in entries if e.is_dir is not False and looks_like_version_dir(e.name)]
    series.sort(key=lambda entry: version_key(entry.name), reverse=True)
    for entry in series[:SUBDIRS_CHECKED]:
        try:
            found.extend(_matching(_list(ctx, entry.url), pattern))
        except UpstreamNotFound:  # a dangling link in the listing
            ctx.log.info("listing_subdirectory_missing", url=entry.url)
    return dedupe(found)


def _matching(entries: Iterable[_Entry], pattern: NamePattern) -> Iterable[Release]:
    for entry in entries:
        if entry.is_dir is not True and (version := match_version(pattern, entry.name, entry.url)):
            yield Release(version=version, url=entry.url)


def _list(ctx: CheckContext, url: str) -> list[_Entry]:
    if urlsplit(url).scheme == "ftp":
        base = url if url.endswith("/") else url + "/"
        return [_ftp_entry(base, entry) for entry in ctx.http.ftp_listdir(url)]
    page = ctx.http.get(url)
    links = page_links(page)
    if not links:  # every listing links at least its parent: this is an error page
        raise BadUpstreamResponse(f"{page.url}: no links at all; not a directory listing")
    return _entries(links, page.url)


def _entries(links: Iterable[str], parent: str) -> list[_Entry]:
    """The files and sub-directories among a listing's links (other links are dropped)."""
    entries = []
    # A plain listing links its files as the page's URL plus a name: nothing to split then.
    simple = parent.endswith("/") and "?" not in parent and "#" not in parent
    for link in links:
        rest = link[len(parent) :] if simple and link.startswith(parent) else ""
        if rest and _SIMPLE_NAME.fullmatch(rest):
            is_dir = rest.endswith("/")
            entries.append(_Entry(rest.rstrip("/") if is_dir else rest, link, is_dir=is_dir))
            continue
        child = child_directory(link, parent)
        if child is not None:
            entries.append(_Entry(child, link, is_dir=True))
        elif not urlsplit(link).path.endswith("/"):
            entries.append(_Entry(file_name(link), link, is_dir=False))
    return entries


# A name directly under the page, spelled so that it needs no unquoting and holds no query,
# fragment or dot segment: what `child_directory` and `file_name` would find, without them.
_SIMPLE_NAME = re.compile(r"[A-Za-z0-9_+~-][A-Za-z0-9._+~-]*/?")


def _ftp_entry(base: str, entry: FtpEntry) -> _Entry:
    url = base + quote(entry.name)
    if entry.is_dir:
        return _Entry(entry.name, url + "/", is_dir=True)
    # NLST gives bare names (no size, no type): a name may be a file or a directory.
    return _Entry(entry.name, url, is_dir=False if entry.size is not None else None)


def _is_series_of(directory: str, version: str) -> bool:
    """`2.80` holds `2.80.0`, `v6.x` holds `6.7`, `3.12.1` holds `3.12.1`."""
    if not looks_like_version_dir(directory):
        return False
    wanted = directory.strip("/").lstrip("vV").split(".")
    have = re.split(r"[._]", version.lstrip("vV"))
    return len(wanted) <= len(have) and all(
        w.lower() == "x" or w == h for w, h in zip(wanted, have, strict=False)
    )
