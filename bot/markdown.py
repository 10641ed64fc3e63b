"""Making upstream text inert in GitLab Markdown (dashboard, merge request descriptions).

A forged marker needs `<!--`, a forged tick `[x]`, a mention `@`, a reference `#1` / `!1` /
`~label` / `%milestone` / `$1` / `&1`, a quick action a `/` at a line start. `escape` keeps one
line and writes every character outside a small plain alphabet as an HTML entity, which GitLab
renders as the character and never interprets; `link` percent-encodes URLs.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from bot.log import scrub_shapes

_PLAIN = re.compile(r"[A-Za-z0-9 .,:;=()+\-]")


def escape(text: object, *, limit: int = 500) -> str:
    """Text from upstream, made inert: one line, at most `limit` characters of it. Token
    shapes and URL passwords are scrubbed first: once escaped, no redactor would know them."""
    flat = " ".join(scrub_shapes(str(text)).split())[:limit]
    return "".join(ch if _PLAIN.fullmatch(ch) else f"&#{ord(ch)};" for ch in flat)


def link(label: str, url: str | None) -> str:
    """A Markdown link to an http(s) URL from upstream, or the escaped label alone."""
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return escape(label)
    # Everything outside this set is percent-encoded: no `<`, `>`, `[`, `]`, `(`, `)`, `!`,
    # quotes, backticks or white space can reach the link target.
    safe_url = quote(scrub_shapes(url), safe=":/?=&%#+,;.-_~")
    return f"[{escape(label)}]({safe_url})"
