"""conda-build selectors: which lines of a meta.yaml apply on which platform.

conda-build drops the lines whose `# [selector]` is false *before* rendering Jinja (its
FilteredLoader), so `{% set sha256 = "..." %}  # [osx]` only sets the variable on macOS. We
list the sources of every platform, so a meta.yaml is read once per platform below and the
sources are merged; each keeps the selector written on its URL (or hash) line.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

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


class Selection(NamedTuple):
    """A text's lines on one platform: each distinct selector's value, and the lines kept."""

    truth: tuple[bool, ...]  # in the order of `Selector.expressions`
    kept: list[str]  # shared by every selection of the same truth: read it, never change it


class Selector:
    """Evaluates the selectors of one text on any platform, compiling each expression once."""

    def __init__(self, sandbox: jinja.Sandbox, text_lines: list[str]) -> None:
        self._lines = text_lines
        self._selectors = [lines.split_selector(content)[1] for content in text_lines]
        self._compiled: dict[str, Callable[..., Any]] = {}
        self._first_line: dict[str, int] = {}  # each selector's first line, 1-based
        for number, selector in enumerate(self._selectors, start=1):
            if selector is not None and selector not in self._compiled:
                try:
                    self._compiled[selector] = sandbox.expression(selector)
                except FormatError as error:
                    raise FormatError(f"line {number}: selector [{selector}]: {error}") from None
                self._first_line[selector] = number
        position = {selector: index for index, selector in enumerate(self._compiled)}
        self._selected = [
            (index, position[selector])
            for index, selector in enumerate(self._selectors)
            if selector is not None
        ]
        self._kept: dict[tuple[bool, ...], list[str]] = {}

    def expressions(self) -> list[str]:
        """Every distinct selector of the text."""
        return list(self._compiled)

    def selector(self, index: int) -> str | None:
        return self._selectors[index]

    def positions(self, indices: Iterable[int]) -> list[int]:
        """Where the selectors of the lines at `indices` are in `Selection.truth`, each once."""
        order = list(self._compiled)
        found = {self._selectors[index] for index in indices} - {None}
        return [position for position, selector in enumerate(order) if selector in found]

    def select(self, variables: Mapping[str, Any]) -> list[str]:
        """The lines with a false selector blanked (not removed, so line numbers stay put)."""
        return self.selection(variables).kept

    def selection(self, variables: Mapping[str, Any]) -> Selection:
        """`select`, with the truth it was made from. Each selector is evaluated once, in the
        order of the lines it first appears on, so the first to fail is named as before."""
        values = []
        for selector, expression in self._compiled.items():
            try:
                values.append(bool(expression(**variables)))
            except Exception as error:  # a selector is recipe input: see jinja.describe
                message = jinja.describe(error)
                number = self._first_line[selector]
                raise FormatError(f"line {number}: selector [{selector}]: {message}") from None
        truth = tuple(values)
        kept = self._kept.get(truth)
        if kept is None:
            # Configurations mostly agree (every Unix platform on `# [unix]`): one list each.
            kept = self._kept[truth] = list(self._lines)
            for index, position in self._selected:
                if not truth[position]:
                    kept[index] = ""
        return Selection(truth, kept)
