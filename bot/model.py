"""The small frozen values that cross module borders.

    read (bot.formats)   -> Recipe
    checkers/<name>      -> Release
    choose (bot.versions)-> Update | Skip
    rewrite (bot.formats)-> FileEdit
    plan (bot.plan)      -> MergeRequestPlan

Raw upstream data is parsed into these at the edge; nothing downstream reads JSON or YAML.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot.reasons import Reason

RecipeFormat = Literal["conda-v0", "conda-v1", "constraints"]


@dataclass(frozen=True)
class Source:
    """One source entry of a recipe, its URL rendered with the recipe's own variables."""

    url: str
    sha256: str | None = None
    # The selector the entry is guarded by (`win`, `linux and x86_64`, an `if:` expression),
    # None when the entry applies everywhere.
    selector: str | None = None


@dataclass(frozen=True)
class Recipe:
    """A recipe as read from disk: what it packages, at which version, from where."""

    name: str
    path: str  # relative to the recipes directory, with forward slashes
    format: RecipeFormat
    version: str
    sources: tuple[Source, ...] = ()
    # Options from the recipe itself (`extra: update_check:`); recipe-bot.yaml's `recipes:`
    # entry for the same name is merged over these by bot.config.
    update_check: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Release:
    """One version an upstream offers. Checkers report every release; the core chooses."""

    version: str
    url: str | None = None  # the release page, or the download when there is no page
    published: datetime | None = None  # timezone-aware when known
    prerelease: bool = False  # as flagged by the upstream; the core also parses the version
    yanked: bool = False
    changelog: str | None = None  # URL of the changelog or release notes
    # sha256 digests the upstream publishes, by file name (PyPI does); they save a download
    # when a recipe's new source URL names one of these files under one of `locations`.
    hashes: Mapping[str, str] = field(default_factory=dict, compare=False)
    # URL prefixes those files are served under (PyPI's hosts; a GitHub release's download
    # folder): a file of the same name elsewhere, even a tag archive, is another file.
    locations: frozenset[str] = field(default_factory=frozenset, compare=False)
    notes: str | None = field(default=None, compare=False)  # the release notes' text (GitHub)


# A skip's reason is one of bot.reasons' skips; the name stays for checkers and plugins.
SkipReason = Reason


@dataclass(frozen=True)
class Update:
    """The decision to move a recipe from its version to a release."""

    recipe: Recipe
    release: Release

    @property
    def old(self) -> str:
        return self.recipe.version

    @property
    def new(self) -> str:
        return self.release.version


@dataclass(frozen=True)
class Skip:
    """The decision not to update a recipe, with its named reason."""

    recipe: Recipe
    reason: Reason
    detail: str = ""
    latest: str | None = None  # the newest acceptable upstream version, when one is known


@dataclass(frozen=True)
class Reupload:
    """A released file the upstream now publishes with another hash than the recipe's: the
    archive was replaced (or tampered with). Reported, never rewritten on its own."""

    url: str
    recorded: str  # the recipe's sha256
    published: str  # the upstream's, for the same file name and location


@dataclass(frozen=True)
class HashRecord:
    """Where a new sha256 came from, for the reviewer."""

    url: str
    sha256: str
    origin: Literal["published", "downloaded", "cached"]


@dataclass(frozen=True)
class FileEdit:
    """A whole-file change: the text before and after, for one path in the recipes tree."""

    path: str
    before: str
    after: str
    created: bool = False  # the file does not exist yet (a first YAML copy, say)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """A unified diff, as `git diff` would show it."""
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.path}",
                tofile=f"b/{self.path}",
            )
        )


@dataclass(frozen=True)
class RecipeChange:
    """Everything an update changes: the edited files and where each new hash came from."""

    update: Update
    edits: tuple[FileEdit, ...]
    hashes: tuple[HashRecord, ...] = ()


@dataclass(frozen=True)
class MergeRequestPlan:
    """What the forge should make true for one recipe: this branch, these edits, this MR."""

    recipe: str
    version: str
    branch: str
    title: str
    description: str
    commit_message: str
    edits: tuple[FileEdit, ...]
    labels: tuple[str, ...] = ()
