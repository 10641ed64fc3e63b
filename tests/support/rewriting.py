"""What the rewrite tests share: a stand-in hash per URL, and the refusal a rewrite raises."""

from __future__ import annotations

import hashlib

import pytest

from bot.errors import RewriteRefused
from bot.formats import rewrite


def sha256_of(url: str) -> str:
    """A hash that differs for every URL, as the real file's would: a kept URL shows up."""
    return hashlib.sha256(url.encode()).hexdigest()


def refusal(text: str, version: str = "1.3.0") -> str:
    """The message of the refusal `text` gets when moved to `version`; fails if it is rewritten."""
    with pytest.raises(RewriteRefused) as caught:
        rewrite(text, version, sha256_of)
    return str(caught.value)
