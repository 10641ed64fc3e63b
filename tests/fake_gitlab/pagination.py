"""GitLab's offset pagination: ``page``/``per_page`` in, ``X-*`` headers and an RFC 8288
``Link`` header out. python-gitlab follows ``Link: rel="next"`` for ``get_all``/``iterator``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from .wire import Call, Reply, json_reply

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def paginated(call: Call, items: Sequence[T], view: Callable[[T], Any]) -> Reply:
    """Reply with one page of ``items`` rendered by ``view``, with GitLab's headers."""
    page, per_page = _page_args(call)
    total_pages = max(1, -(-len(items) // per_page))  # GitLab reports one page even when empty
    chunk = items[(page - 1) * per_page : page * per_page]
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(len(items)),
        "X-Total-Pages": str(total_pages),
        "X-Next-Page": str(page + 1) if page < total_pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "Link": _links(call, page, per_page, total_pages),
    }
    return json_reply([view(item) for item in chunk], headers=headers)


def _page_args(call: Call) -> tuple[int, int]:
    page = call.number("page") or 1
    per_page = call.number("per_page") or DEFAULT_PER_PAGE
    # GitLab silently clamps rather than rejecting out-of-range values.
    return max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)


def _links(call: Call, page: int, per_page: int, total_pages: int) -> str:
    wanted = []
    if page > 1:
        wanted.append(("prev", page - 1))
    if page < total_pages:
        wanted.append(("next", page + 1))
    wanted += [("first", 1), ("last", total_pages)]
    return ", ".join(
        f'<{_page_url(call, number, per_page)}>; rel="{rel}"' for rel, number in wanted
    )


def _page_url(call: Call, page: int, per_page: int) -> str:
    pairs = [
        (key, value)
        for key, values in call.query.items()
        for value in values
        if key not in ("page", "per_page")
    ]
    pairs += [("page", str(page)), ("per_page", str(per_page))]
    return f"{call.base_url}{call.raw_path}?{urlencode(pairs)}"
