"""The dashboard issue: render it, and read the boxes a maintainer ticked.

Checkbox lines carry hidden markers, one per recipe (design.md):

    - [ ] <!-- create=<recipe> -->   awaiting schedule or limits: tick to open it now
    - [ ] <!-- rebase=<recipe> -->   open (or edited) merge request: tick to regenerate it
    - [ ] <!-- retry=<recipe> -->    rejected version: tick to propose it again

Everything that comes from upstream (versions, URLs, error messages) goes through
bot.markdown's `escape` or `link`, so it cannot forge a marker, a tick, a mention, a reference
or a quick action. Actionable sections come first and the text stays under
GitLab's description limit: what does not fit is counted, not cut mid-line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.markdown import escape, link
from bot.model import Reupload
from bot.reasons import Reason

TickKind = Literal["create", "rebase", "retry"]
Tick = tuple[TickKind, str]
SectionKey = Literal["awaiting", "open", "edited", "rejected"]


@dataclass(frozen=True)
class Section:
    """A section of recipes with a box each; the box's tick asks for one kind of action."""

    key: SectionKey
    heading: str
    hint: str
    tick: TickKind


# The sections with boxes, in the order they are shown. The tick kinds the dashboard reads
# back are exactly those of this table.
SECTIONS: tuple[Section, ...] = (
    Section(
        "awaiting",
        "## Awaiting schedule or limits",
        "Tick a box to open the merge request now.",
        "create",
    ),
    Section(
        "open", "## Open merge requests", "Tick a box to regenerate the merge request.", "rebase"
    ),
    Section(
        "edited",
        "## Edited by someone else",
        "recipe-bot no longer rewrites these branches. Tick a box to "
        "regenerate the merge request (discarding the other commits).",
        "rebase",
    ),
    Section(
        "rejected",
        "## Rejected versions",
        "Closed without merging: not proposed again. Tick a box to propose it again.",
        "retry",
    ),
)
TICK_KINDS: tuple[TickKind, ...] = tuple(dict.fromkeys(section.tick for section in SECTIONS))

# GitLab refuses descriptions over 1,048,576 characters; leave room for the footer.
MAX_CHARS = 1_000_000
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
_TICKED = re.compile(
    rf"^\s*[-*] \[[xX]\] <!-- ({'|'.join(TICK_KINDS)})=([A-Za-z0-9._+-]+) -->", re.MULTILINE
)


@dataclass(frozen=True)
class Item:
    """One recipe's line. `mr_iid`/`mr_url` point at its merge request, when it has one."""

    recipe: str
    version: str | None = None
    current: str | None = None
    detail: str = ""  # already-safe text written by the bot (not upstream)
    mr_iid: int | None = None
    mr_url: str | None = None
    pipeline: str | None = None  # the merge request's head pipeline status, when it has one
    pipeline_url: str | None = None
    notice: str = ""  # the forge's words on something the bot asked for (auto-merge refused)


@dataclass(frozen=True)
class Failure:
    recipe: str
    checker: str | None
    reason: Reason
    message: str


@dataclass(frozen=True)
class DashboardView:
    items: Mapping[SectionKey, Sequence[Item]] = field(default_factory=dict)  # by SECTIONS' key
    errors: Sequence[Failure] = ()
    skipped: Sequence[Failure] = ()
    failed_pipelines: Sequence[Item] = ()
    reuploads: Sequence[tuple[str, Reupload]] = ()  # (recipe, file)
    up_to_date: int = 0
    last_run: datetime | None = None
    # Ticks made while the run was in progress: kept ticked, acted on by the next run.
    carried: frozenset[Tick] = field(default_factory=frozenset)


def parse_ticks(body: str | None) -> set[Tick]:
    """The boxes ticked in a dashboard description."""
    return {(kind, name) for kind, name in _TICKED.findall(body or "")}


def render(view: DashboardView, *, title_line: str = "") -> str:
    """The whole description: actionable boxes first, then information, under MAX_CHARS."""
    out = _Budget(MAX_CHARS - 2_000)
    out.add(
        title_line
        or "This issue lists what recipe-bot is doing. Tick a box to ask for an action; "
        "it is acted on at the next run."
    )
    carried = set(view.carried)

    def box(kind: TickKind, item: Item, text: str) -> str:
        ticked = (kind, item.recipe) in carried
        carried.discard((kind, item.recipe))
        return f"- [{'x' if ticked else ' '}] <!-- {kind}={item.recipe} -->{text}"

    for section in SECTIONS:
        safe = _safe(view.items.get(section.key, ()))
        if safe:
            out.section(section.heading, section.hint)
        for item in safe:
            out.add(box(section.tick, item, _line(section.tick, item)))
    leftover = sorted(carried)
    if leftover:
        out.section("## Pending requests", "Ticked during the last run; acted on at the next one.")
        for kind, recipe in leftover:
            out.add(f"- [x] <!-- {kind}={recipe} -->{recipe}")
    failed = _safe(view.failed_pipelines)
    if failed:
        out.section(
            "## Failed pipelines", "A reviewer's turn: the merge request's pipeline failed."
        )
    for item in failed:
        out.add(f"- {_mr(item)} **{item.recipe}** {escape(item.version or '')}: {_pipeline(item)}")
    if view.reuploads:
        out.section(
            "## Upstream file changed",
            "The upstream now publishes another hash for a released file the recipe pins. "
            "recipe-bot does not rewrite it: check the file before you change the hash.",
        )
    for recipe, changed in sorted(view.reuploads, key=lambda entry: entry[0]):
        out.add(
            f"- **{escape(recipe)}**: {link(_file_name(changed.url), changed.url)}: recipe "
            f"{escape(changed.recorded)}, upstream {escape(changed.published)}"
        )
    for heading, failures in (("## Errors", view.errors), ("## Skipped", view.skipped)):
        if failures:
            out.section(heading, "")
        for failure in failures:
            out.add(_failure(failure))
    out.section("## Summary", "")
    out.add(f"- Up to date: {view.up_to_date}")
    if view.last_run is not None:
        out.add(f"- Last run finished: {view.last_run.strftime('%Y-%m-%d %H:%M %Z').strip()}")
    return out.text()


def _line(kind: TickKind, item: Item) -> str:
    if kind == "create":
        return f"**{item.recipe}** {_move(item)}{_detail(item)}"
    if kind == "retry":
        return f"**{item.recipe}** {escape(item.version or '')} (closed {_mr(item)})"
    pipeline = f" (pipeline {_pipeline(item)})" if item.pipeline else ""
    notice = f" ({escape(item.notice)})" if item.notice else ""
    return f"{_mr(item)} **{item.recipe}** {_move(item)}{_detail(item)}{pipeline}{notice}"


def _pipeline(item: Item) -> str:
    return link(item.pipeline or "", item.pipeline_url)


def _file_name(url: str) -> str:
    return url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or url


def _safe(items: Iterable[Item]) -> list[Item]:
    # A recipe name outside this alphabet could break out of a marker; such recipes are not
    # given a box (bot.run reports them as errors instead).
    return sorted((item for item in items if SAFE_NAME.match(item.recipe)), key=lambda i: i.recipe)


def _move(item: Item) -> str:
    if item.current:
        return f"{escape(item.current)} → {escape(item.version or '?')}"
    return f"→ {escape(item.version or '?')}"


def _detail(item: Item) -> str:
    return f" ({item.detail})" if item.detail else ""


def _mr(item: Item) -> str:
    if item.mr_iid is None:
        return ""
    return link(f"!{item.mr_iid}", item.mr_url) if item.mr_url else f"&#33;{item.mr_iid}"


def _failure(failure: Failure) -> str:
    name = failure.recipe if SAFE_NAME.match(failure.recipe) else escape(failure.recipe)
    checker = f" ({escape(failure.checker)})" if failure.checker else ""
    return f"- **{name}**{checker}: {escape(failure.reason)}: {escape(failure.message)}"


class _Budget:
    """Collects lines until the size budget is spent; counts what did not fit."""

    def __init__(self, limit: int) -> None:
        self._lines: list[str] = []
        self._size = 0
        self._limit = limit
        self._dropped = 0

    def add(self, line: str) -> None:
        if self._size + len(line) + 1 > self._limit:
            self._dropped += 1
            return
        self._lines.append(line)
        self._size += len(line) + 1

    def section(self, heading: str, hint: str) -> None:
        self.add("")
        self.add(heading)
        if hint:
            self.add("")
            self.add(f"_{hint}_")
        self.add("")

    def text(self) -> str:
        lines = list(self._lines)
        if self._dropped:
            lines.append(f"\n_{self._dropped} more lines did not fit in the issue._")
        return "\n".join(lines).strip() + "\n"
