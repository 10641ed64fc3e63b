"""What every format parser returns: more than `Recipe`, because the rewrite needs it.

A parser maps recipe text to `Parsed`; `bot.formats.read_recipe` turns that into the public
`Recipe`, and `bot.formats.rewrite` compares the `Parsed` of the text before and after an edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class FormatError(Exception):
    """The text cannot be read as a recipe. The message is for a human; callers add the path."""


@dataclass(frozen=True)
class SourceSite:
    """One source entry as the rewrite sees it: rendered values plus where its URL is written."""

    url: str  # rendered; the first mirror when `url` is a list; the repository for git sources
    selector: str | None = None
    # Rendered checksums in file order, e.g. (("sha256", "ab12..."),); md5/sha1 are kept so the
    # rewrite can replace them by a sha256.
    checksums: tuple[tuple[str, str], ...] = ()
    # 0-based index of the text line holding the (first) URL, when it could be located.
    url_line: int | None = None
    git: bool = False
    rev: str | None = None  # rendered git_rev / git_tag / tag / rev of a git source
    mirrors: tuple[str, ...] = ()  # every URL of a `url:` list, the first included
    file_name: str | None = None  # `fn:` / `file_name:`, the name the download is saved as

    @property
    def sha256(self) -> str | None:
        return next((value for kind, value in self.checksums if kind == "sha256"), None)


Configuration = Mapping[str, Any]  # the variables one render of a recipe sees (platform, py, ...)


@dataclass(frozen=True)
class Rendered:
    """The sources of one configuration, in the order the recipe lists them."""

    index: int  # the configuration's position among those the recipe was read in
    configuration: Configuration
    sources: tuple[SourceSite, ...]
    skipped: bool = False  # `build: skip: true` in this configuration


@dataclass(frozen=True)
class Parsed:
    """A recipe file, read: identity, version and every source across all selectors.

    `version` is the version the recipe sets (`{% set version = "1.0-15" %}`), which is what
    upstream publishes, even where the package version derives from it (`1.0_15`).
    `sources` merges every configuration's; `renders` keeps them per configuration, which is
    what a rewrite pairs old and new sources by.
    """

    name: str
    version: str
    sources: tuple[SourceSite, ...]
    update_check: Mapping[str, Any] = field(default_factory=dict)
    renders: tuple[Rendered, ...] = ()
    # Every configuration the text was read in (`Rendered.index` counts in it), those that did
    # not render included: read the edited text in the same ones to pair sources.
    configurations: tuple[Configuration, ...] = ()
