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
from bot.markdown import escape, link
from bot.model import MergeRequestPlan, RecipeChange

ORIGINS = {
    "published": "published by the upstream",
    "downloaded": "downloaded and hashed by recipe-bot",
    "cached": "hashed by recipe-bot (cached by URL)",
}


def branch_name(config: Config, recipe: str) -> str:
    return f"{config.merge_requests.branch_prefix}{recipe}"


def merge_request_plan(change: RecipeChange, config: Config) -> MergeRequestPlan:
    update = change.update
    recipe, version = update.recipe.name, update.new
    return MergeRequestPlan(
        recipe=recipe,
        version=version,
        branch=branch_name(config, recipe),
        title=f"Update {recipe} to {version}",
        description=description(change),
        commit_message=(
            f"Update {recipe} to {version}\n\n"
            f"From {update.old} to {version}.\n\n"
            f"{trailer(recipe, version)}\n"
        ),
        edits=change.edits,
        labels=tuple(config.merge_requests.labels),
    )


def description(change: RecipeChange) -> str:
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
    lines += [
        "",
        f"{formats.get_format(update.recipe.format).changes} "
        "Review the upstream changes before merging.",
        "",
        "- [ ] <!-- rebase-check -->Regenerate this merge request",
        "",
        marker(update.recipe.name, update.new),
        "",
    ]
    return "\n".join(lines)
