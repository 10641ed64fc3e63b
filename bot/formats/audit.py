"""The rewrite's last check, on the text: no old checksum of a moved source survives.

It reads the text, not the configurations, so a checksum that no configuration the bot read
reaches (a variant value it did not think of, a hash in a dict indexed by platform) is caught.
Every md5, sha1 and sha256-long hex string standing alone counts (not one in a file name:
patches are often named by commit), except on the lines that pin a git revision or a commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A digest standing alone (a value, a list item, a dict entry), not part of a file name such as
# `0374b55942e5...8d05d6c8f729.patch` or a path.
_LONE_HEX = re.compile(
    r"(?<![\w./-])(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})(?![\w./-])"
)
# `git_rev: <commit>`, `{% set commit = "..." %}`, `lze_rev: ...`: a pinned revision, no hash.
_PINS_A_REVISION = re.compile(
    r"^\s*(?:-\s+)?(?:git_rev|rev|git_tag|tag|commit)\s*:"
    r"|\{%-?\s*set\s+\w*(?:commit|rev)\w*\s*="
    r"|^\s*\w*(?:commit|_rev|rev_)\w*\s*:",
    re.IGNORECASE,
)


def stale_checksum(
    before: Iterable[str], after: Iterable[str], allowed: set[str]
) -> tuple[int, str] | None:
    """(line number, digest) of the first old checksum still in `after` and not `allowed`.

    `allowed` (lower case): the checksums of sources that did not move, and the digests the
    rewrite wrote (a per-version LICENSE that did not change gets the same one back).
    """
    written = "\n".join(_code(content) for content in after).lower()
    for number, content in enumerate(before, start=1):
        code = _code(content)
        if _PINS_A_REVISION.search(code):
            continue
        for digest in _LONE_HEX.findall(code):
            if digest.lower() in written and digest.lower() not in allowed:
                return number, digest
    return None


def _code(content: str) -> str:
    """A line without its comment and URLs (a commit in a URL is no checksum of the line)."""
    match = re.search(r"(?:^|\s)#", content)
    code = content[: match.start()] if match else content
    return re.sub(r"\w+://\S+", "", code)
