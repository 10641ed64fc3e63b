"""recipe-bot: keeps package recipes up to date with their upstreams, through GitLab.

The Python API (see design.md):

    import bot
    recipe = bot.read_recipe("python-attrs/meta.yaml")
    text = bot.rewrite(text, "19.1.0", sha256_of, filename="meta.yaml")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Recipe", "Release", "RewriteRefused", "Source", "__version__", "read_recipe", "rewrite"]

# Resolved on first use, so `import bot.http` does not pull in Jinja and YAML parsing.
_LAZY = {
    "read_recipe": "bot.formats",
    "rewrite": "bot.formats",
    "RewriteRefused": "bot.errors",
    "Recipe": "bot.model",
    "Release": "bot.model",
    "Source": "bot.model",
}

if TYPE_CHECKING:
    from bot.errors import RewriteRefused
    from bot.formats import read_recipe, rewrite
    from bot.model import Recipe, Release, Source


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
