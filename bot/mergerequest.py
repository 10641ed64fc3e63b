"""What a merge request says: title, description, commit message (design.md conventions).

The description gives a reviewer what they need: old and new version, changelog and release
notes, every changed file, where each new hash came from, what else the update changed (the
recipe's format says: a build number reset, or only a pin), and the regenerate box. Upstream text
is escaped (bot.markdown); the hidden marker identifies the merge request for later runs.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from bot import formats
from bot.config import Config
from bot.forge.markers import marker, trailer
from bot.hints import Hints
from bot.markdown import escape, link
from bot.model import MergeRequestPlan, RecipeChange, Update

# GitLab refuses descriptions over 1,048,576 characters; release notes give way first.
MAX_DESCRIPTION = 1_000_000
MAX_NOTES_LINES = 200
MAX_NOTES_CHARS = 20_000

ORIGINS = {
    "published": "published by the upstream",
    "downloaded": "downloaded and hashed by recipe-bot",
    "cached": "hashed by recipe-bot (cached by URL)",
}


def branch_name(config: Config, recipe: str) -> str:
    return f"{config.merge_requests.branch_prefix}{recipe}"


def merge_request_plan(
    change: RecipeChange, config: Config, hints: Hints | None = None
) -> MergeRequestPlan:
    update = change.update
    recipe, version = update.recipe.name, update.new
    return MergeRequestPlan(
        recipe=recipe,
        version=version,
        branch=branch_name(config, recipe),
        title=f"Update {recipe} to {version}",
        description=description(change, hints),
        commit_message=(
            f"Update {recipe} to {version}\n\n"
            f"From {update.old} to {version}.\n\n"
            f"{trailer(recipe, version)}\n"
        ),
        edits=change.edits,
        labels=tuple(config.merge_requests.labels),
    )


def description(change: RecipeChange, hints: Hints | None = None) -> str:
    update = change.update
    release = update.release
    lines = [
        f"This merge request updates **{update.recipe.name}** from "
        f"{escape(update.old)} to **{escape(update.new)}**.",
        "",
        "| | |",
        "|---|---|",
        f"| Recipe | {escape(update.recipe.path)} |",
        f"| Old version | {escape(update.old)} |",
        f"| New version | {escape(update.new)} |",
    ]
    if release.changelog:
        lines.append(f"| Changelog | {link('changelog', release.changelog)} |")
    if release.url and release.url != release.changelog:
        lines.append(f"| Release | {link('release page', release.url)} |")
    if release.published:
        lines.append(f"| Published | {release.published.strftime('%Y-%m-%d %H:%M UTC')} |")
    lines += ["", "### Files", ""]
    lines += [f"- {escape(edit.path)}" for edit in change.edits if edit.changed]
    if change.hashes:
        lines += ["", "### Source hashes", ""]
        for record in change.hashes:
            name = PurePosixPath(record.url.split("?")[0]).name or record.url
            lines.append(
                f"- {link(name, record.url)}: {escape(record.sha256)}, {ORIGINS[record.origin]}"
            )
    if hints and hints.changes:
        lines += ["", "### What changed upstream", ""]
        lines += [f"- {escape(change_line)}" for change_line in hints.changes]
    if hints and hints.warnings:
        lines += ["", "### Dependency hints", ""]
        lines += ["_Check the recipe's requirements against these:_", ""]
        lines += [f"- {escape(warning)}" for warning in hints.warnings]
    compare = compare_link(update)
    if compare:
        lines += ["", f"Compare: {link(compare.rsplit('/', 1)[-1], compare)}"]
    end = [
        "",
        f"{formats.get_format(update.recipe.format).changes} "
        "Review the upstream changes before merging.",
        "",
        "- [ ] <!-- rebase-check -->Regenerate this merge request",
        "",
        marker(update.recipe.name, update.new),
        "",
    ]
    budget = MAX_DESCRIPTION - sum(len(line) + 1 for line in lines + end)
    return "\n".join(lines + _notes(release.notes, budget) + end)


def _notes(text: str | None, budget: int) -> list[str]:
    """The release notes, escaped line by line (they cannot format, link or forge a box),
    quoted, and cut to a few hundred lines and the description's size budget."""
    if not text or budget < 1_000:
        return []
    limit = min(MAX_NOTES_CHARS, budget - 200)
    out = ["", "### Release notes", ""]
    used = 0
    lines = text.splitlines()
    for index, line in enumerate(lines):
        quoted = f"> {escape(line)}" if line.strip() else ">"
        if index >= MAX_NOTES_LINES or used + len(quoted) > limit:
            out.append(f"> _(cut: {len(lines) - index} more lines in the release notes)_")
            break
        out.append(quoted)
        used += len(quoted) + 1
    return out


def compare_link(update: Update) -> str | None:
    """GitHub's compare page between the two versions' tags, from the new release's page."""
    url = update.release.url or ""
    prefix, found, new_tag = url.partition("/releases/tag/")
    if not found or not prefix.startswith("https://github.com/") or update.new not in new_tag:
        return None
    old_tag = new_tag.replace(update.new, update.old, 1)
    return f"{prefix}/compare/{old_tag}...{new_tag}"
