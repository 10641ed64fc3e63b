"""conda-build selectors: which lines of a meta.yaml apply on which platform.

conda-build drops the lines whose `# [selector]` is false *before* rendering Jinja (its
FilteredLoader), so `{% set sha256 = "..." %}  # [osx]` only sets the variable on macOS. We
list the sources of every platform, so a meta.yaml is read once per platform below and the
sources are merged; each keeps the selector written on its URL (or hash) line.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from bot.formats import jinja, lines
from bot.formats.base import FormatError

# The platforms whose sources are listed. A source guarded by a selector that is false on
# all of them (`# [s390x]`, `# [py<38]` with Python 3.11) is not listed.
PLATFORMS = ("linux-64", "linux-aarch64", "linux-ppc64le", "osx-64", "osx-arm64", "win-64")

PYTHON = 311  # conda-build's `py` when a recipe does not tell Python versions apart
_ARCHES = {
    "64": "x86_64",
    "32": "x86",
    "aarch64": "aarch64",
    "ppc64le": "ppc64le",
    "arm64": "arm64",
    "s390x": "s390x",
    "armv7l": "armv7l",
    "armv6l": "armv6l",
}


def namespace(platform: str) -> dict[str, Any]:
    """The variables conda-build gives selectors (and templates) on `platform`.

    conda-build's `ns_cfg`: the platform booleans, Python's `py*` names, `np`, `vc`, `pl`,
    `lua`, `target_platform` & co., and conda-forge's `cran_mirror`. A new dict each time,
    copied from one made once per platform: every recipe asks for the same few.
    """
    return dict(_namespace(platform))


@functools.lru_cache(maxsize=64)
def _namespace(platform: str) -> dict[str, Any]:
    system, arch = platform.split("-")
    machine = _ARCHES[arch]
    names: dict[str, Any] = {
        "linux": system == "linux",
        "osx": system == "osx",
        "win": system == "win",
        "unix": system != "win",
        "emscripten": False,
        "wasi": False,
        "x86": machine in ("x86", "x86_64"),
        "x86_64": machine == "x86_64",
        "aarch64": machine == "aarch64",
        "arm64": machine == "arm64",
        "ppc64le": machine == "ppc64le",
        "s390x": machine == "s390x",
        "armv6l": machine == "armv6l",
        "armv7l": machine == "armv7l",
        "arm": system == "linux" and machine.startswith("arm"),
        "linux32": system == "linux" and machine == "x86",
        "linux64": system == "linux" and machine == "x86_64",
        "win32": system == "win" and machine == "x86",
        "win64": system == "win" and machine in ("x86_64", "arm64"),
        "osx64": system == "osx" and machine == "x86_64",
        "target_platform": platform,
        "build_platform": platform,
        "host_platform": platform,
        "subdir": platform,
        "py": PYTHON,
        "py3k": True,
        "py2k": False,
        "np": 126,
        "vc": 14,
        "pl": 526,
        "lua": "5",
        "luajit": False,
        "nomkl": False,
        "cross_compiling": False,
        "cran_mirror": "https://cran.r-project.org",
    }
    # conda-build's `py27`, `py36`, `py311`, ...: true when `py` equals the number.
    names.update({f"py{py}": py == PYTHON for py in (26, 27, 33, 34, 35, 36, 37, 38, 39)})
    names.update({f"py{py}": py == PYTHON for py in range(310, 316)})
    return names


class Selector:
    """Evaluates the selectors of one text on any platform, compiling each expression once."""

    def __init__(self, sandbox: jinja.Sandbox, text_lines: list[str]) -> None:
        self._lines = text_lines
        self._selectors = [lines.split_selector(content)[1] for content in text_lines]
        self._compiled: dict[str, Callable[..., Any]] = {}
        for number, selector in enumerate(self._selectors, start=1):
            if selector is not None and selector not in self._compiled:
                try:
                    self._compiled[selector] = sandbox.expression(selector)
                except FormatError as error:
                    raise FormatError(f"line {number}: selector [{selector}]: {error}") from None

    def expressions(self) -> list[str]:
        """Every distinct selector of the text."""
        return list(self._compiled)

    def selector(self, index: int) -> str | None:
        return self._selectors[index]

    def select(self, variables: Mapping[str, Any]) -> list[str]:
        """The lines with a false selector blanked (not removed, so line numbers stay put)."""
        truth: dict[str, bool] = {}
        kept = []
        for number, (content, selector) in enumerate(
            zip(self._lines, self._selectors, strict=True), start=1
        ):
            if selector is None:
                kept.append(content)
                continue
            if selector not in truth:
                try:
                    truth[selector] = bool(self._compiled[selector](**variables))
                except Exception as error:  # a selector is recipe input: see jinja.describe
                    message = jinja.describe(error)
                    raise FormatError(f"line {number}: selector [{selector}]: {message}") from None
            kept.append(content if truth[selector] else "")
        return kept
