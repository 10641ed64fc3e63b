"""The configurations a meta.yaml is read in: platforms x Python versions x variant values.

conda-build renders a recipe once per variant: per platform, per Python, per value of every key
of `conda_build_config.yaml` the recipe uses. A hash line guarded by `# [py<310]`, by
`# [mpi == "openmpi"]` or by `{% if polars_variant == "lts" %}` only counts in some of those
renders, and a rewrite that never renders it leaves its old hash in place. So a recipe is read in
every configuration that can make a difference:

- every platform of `selectors.PLATFORMS`, plus the rarer ones the recipe names (`s390x`, `win32`);
- the Python versions its comparisons tell apart (`py<38` gives 37 and 38, `py2k` gives 27),
  Python 3.11 alone when it compares none;
- for each variable that the recipe compares but never sets, the values of the variant files
  (`conda_build_config.yaml`) when they give it, else the values it is compared with, and
  "not set" too.

Names the recipe sets itself (`{% set mpi = "openmpi" %}`) are left to the recipe. When the
product of all that is larger than `MAX_CONFIGURATIONS`, each variable is varied on its own over
the platforms: a line guarded by two variant values at once may then go unread, and the
rewrite's final check of the text (no old hash left behind) still refuses such a recipe.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jinja2 import nodes

from bot.formats import jinja, selectors, yamlio
from bot.formats.base import FormatError

MAX_CONFIGURATIONS = 192
MAX_VALUES = 32  # values read per variable: a hostile variant file may list thousands

# Platforms read only when a recipe names them (in a selector or a comparison).
RARE_PLATFORMS = {
    "s390x": "linux-s390x",
    "linux32": "linux-32",
    "win32": "win-32",
    "armv7l": "linux-armv7l",
    "linux-s390x": "linux-s390x",
    "win-arm64": "win-arm64",
}

_KNOWN_PLATFORMS = (*selectors.PLATFORMS, *dict.fromkeys(RARE_PLATFORMS.values()))
# A rare platform's name as a word of its own (`s390x`, not `linux-s390x`'s tail): each match
# is a whole run of word characters and dashes, so one pass finds every name a search would.
_RARE_PLATFORM_NAME = re.compile(
    rf"(?<![\w-])({'|'.join(map(re.escape, RARE_PLATFORMS))})(?![\w-])"
)

# What a variant file cannot give: the platform is chosen by `PLATFORMS`.
_PLATFORM_NAMES = frozenset(selectors.namespace("linux-64")) - {"py", "np", "vc"}
_PYTHON_NAMES = re.compile(r"\b(py[23]k|py\d{2,3}|py|python|PY_VER)\b")
_CONDITION = re.compile(r"\{%-?\s*(?:el)?if\s+(?P<expression>.+?)\s*-?%\}")
_VALUE = re.compile(r"\{\{-?\s*(?P<expression>.+?)\s*-?\}\}")
_SET = re.compile(r"\{%-?\s*set\s+(?P<name>\w+)\s*=")
_NOT_SET = object()  # a variant variable the configuration leaves undefined

Variants = Mapping[str, Sequence[str]]


def read_variant_file(text: str, *, path: str = "conda_build_config.yaml") -> dict[str, list[str]]:
    """The values of each key of a conda_build_config.yaml, across all its selectors.

    Selectors are YAML comments, so every value of every platform is read: more configurations
    than conda-build would make for one platform, never fewer. Keys whose values are not a list
    of scalars (`zip_keys`, `pin_run_as_build`) say nothing about values and are skipped.
    """
    try:
        data = yamlio.load(text)
    except FormatError as error:
        raise FormatError(f"{path}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FormatError(f"{path}: a variant file must be a mapping of lists")
    found: dict[str, list[str]] = {}
    for key, values in data.items():
        if isinstance(values, list) and values and all(_scalar(value) for value in values):
            found[str(key)] = _unique(str(value) for value in values)
        elif _scalar(values) and values is not None:
            found[str(key)] = [str(values)]
    return found


def merge(*variant_sets: Variants | None) -> dict[str, list[str]]:
    """Variant files read in order: a key's values are the union, first seen first."""
    merged: dict[str, list[str]] = {}
    for variants in variant_sets:
        for key, values in (variants or {}).items():
            if values:  # `key: []` gives no value to read the recipe with
                merged[key] = _unique([*merged.get(key, []), *values])
    return merged


def configurations(
    text_lines: Sequence[str], selector_texts: Iterable[str], variants: Variants | None = None
) -> list[dict[str, Any]]:
    """The variables of every configuration `text_lines` should be read in (see the module doc)."""
    expressions = [*selector_texts, *_template_conditions(text_lines)]
    compared = _comparisons(expressions)
    # Names the recipe sets itself, unless from themselves (`{% set mpi = mpi or "nompi" %}`
    # still takes the variant's value).
    set_here = {
        match.group("name")
        for line in text_lines
        if "{%" in line
        for match in _SET.finditer(line)
        if not re.search(rf"\b{match.group('name')}\b", line[match.end() :])
    }
    # Only what Jinja and the selectors read can tell configurations apart: `- python` or
    # `- zlib` in a requirements list is text, and must not multiply the renders.
    code = "\n".join([*selector_texts, *_jinja_of(text_lines)])
    platforms = [*selectors.PLATFORMS]
    rare = set(_RARE_PLATFORM_NAME.findall(code))
    for name, platform in RARE_PLATFORMS.items():
        if platform not in platforms and name in rare:
            platforms.append(platform)
    # `target_platform == "linux-armv7l"`, `subdir.startswith("linux-ppc")`: platforms too.
    for name in ("target_platform", "subdir", "host_platform", "build_platform"):
        for operator, value in compared.get(name, []):
            if not isinstance(value, str) or operator not in ("eq", "ne", "in", "startswith"):
                continue
            for platform in _KNOWN_PLATFORMS:
                named = (
                    platform.startswith(value) if operator == "startswith" else platform == value
                )
                if named and platform not in platforms:
                    platforms.append(platform)
    dimensions: list[tuple[str, list[Any]]] = []
    pythons = _pythons(compared.get("py", []), code, variants or {})
    if len(pythons) > 1:
        dimensions.append(("py", pythons))
    for name in ("np", "vc"):
        numbers = _numbers(compared.get(name, []))
        if numbers:
            dimensions.append((name, numbers))
    given = {
        name: list(values)
        for name, values in (variants or {}).items()
        if values and name != "python" and re.search(rf"\b{re.escape(name)}\b", code)
    }
    for name in _unique([*compared, *given]):
        if name in _PLATFORM_NAMES or name in ("py", "np", "vc") or name in set_here:
            continue
        values = compared.get(name, [])
        if name in given:
            dimensions.append((name, given[name]))
        elif values:
            dimensions.append((name, [*_unique(value for _, value in values), _NOT_SET]))
    base = [selectors.namespace(platform) for platform in platforms]
    if len(pythons) == 1:
        base = [{**names, **_python(pythons[0])} for names in base]
    dimensions = [(name, values[:MAX_VALUES]) for name, values in dimensions]
    combined = _combine(base, dimensions)[: MAX_CONFIGURATIONS * 4]
    if not any(_NOT_SET in values for _, values in dimensions):
        return combined  # new dicts already, none with an unset name to drop
    return [_without_unset(names) for names in combined]


def _combine(
    base: list[dict[str, Any]], dimensions: list[tuple[str, list[Any]]]
) -> list[dict[str, Any]]:
    total = len(base)
    for _, values in dimensions:
        total *= len(values)
    if total <= MAX_CONFIGURATIONS:
        combos = list(itertools.product(*(values for _, values in dimensions)))
        return [_with(names, dimensions, combo) for names in base for combo in combos]
    # Too many: every value of each dimension on its own, the others at their first value.
    first = tuple(values[0] for _, values in dimensions)
    result = [_with(names, dimensions, first) for names in base]
    for position, (_, values) in enumerate(dimensions):
        for value in values[1:]:
            combo = (*first[:position], value, *first[position + 1 :])
            result.extend(_with(names, dimensions, combo) for names in base)
    return result


def _with(
    names: dict[str, Any], dimensions: list[tuple[str, list[Any]]], combo: tuple[Any, ...]
) -> dict[str, Any]:
    result = dict(names)
    for (name, _), value in zip(dimensions, combo, strict=True):
        result.update(_python(value) if name == "py" else {name: value})
    return result


def _without_unset(names: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in names.items() if value is not _NOT_SET}


def _python(py: int) -> dict[str, Any]:
    """conda-build's Python names for `py` (311 is Python 3.11), in a new dict."""
    return dict(_python_names(py))


@functools.lru_cache(maxsize=64)
def _python_names(py: int) -> dict[str, Any]:
    names: dict[str, Any] = {
        "py": py,
        "py3k": py >= 30,
        "py2k": 20 <= py < 30,
        "python": f"{py // 100}.{py % 100}" if py >= 100 else f"{py // 10}.{py % 10}",
    }
    names.update({f"py{number}": number == py for number in (26, 27, 33, 34, 35, 36, 37, 38, 39)})
    names.update({f"py{number}": number == py for number in range(310, 316)})
    names["PY_VER"] = names["python"]
    return names


def _pythons(compared: list[tuple[str, Any]], text: str, variants: Variants) -> list[int]:
    """The Python versions (as conda-build's `py`) worth reading the recipe for."""
    pythons = [_py(value) for value in variants.get("python", [])]
    chosen = [py for py in pythons if py is not None] or [selectors.PYTHON]
    if not _PYTHON_NAMES.search(text):
        return chosen[:1]  # nothing reads the Python version: one is as good as another
    for operator, value in compared:
        if not isinstance(value, int) or value < 20:
            continue
        chosen.append(value)
        if operator in ("lt", "gteq"):
            chosen.append(value - 1)  # py<38: 37 is below, 38 is not
        elif operator in ("gt", "lteq"):
            chosen.append(value + 1)
    for match in re.finditer(r"\bpy(2k|\d{2,3})\b", text):
        chosen.append(27 if match.group(1) == "2k" else int(match.group(1)))
    return sorted(_unique(chosen))


def _py(version: str) -> int | None:
    match = re.match(r"^(\d)\.(\d+)", version.strip())
    return int(match.group(1) + match.group(2)) if match else None


def _numbers(compared: list[tuple[str, Any]]) -> list[int]:
    values: list[int] = []
    for operator, value in compared:
        if isinstance(value, int):
            values.append(value)
            if operator in ("lt", "gteq"):
                values.append(value - 1)
            elif operator in ("gt", "lteq"):
                values.append(value + 1)
    return sorted(_unique(values))


_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")


def _jinja_of(text_lines: Sequence[str]) -> list[str]:
    """Every `{{ }}` and `{% %}` of a text."""
    return [match.group() for line in text_lines if "{" in line for match in _JINJA.finditer(line)]


def _template_conditions(text_lines: Sequence[str]) -> list[str]:
    """`{% if x == 'a' %}` conditions and `{{ 'a' if x == 'b' else 'c' }}` values of a text."""
    found: list[str] = []
    for line in text_lines:
        if "{%" in line:
            found.extend(match.group("expression") for match in _CONDITION.finditer(line))
        if "{{" in line and any(token in line for token in ("==", "!=", " in ", "<", ">")):
            found.extend(match.group("expression") for match in _VALUE.finditer(line))
    return found


def _comparisons(expressions: Iterable[str]) -> dict[str, list[tuple[str, Any]]]:
    """Each variable compared with a constant, and how: {"py": [("lt", 38)], "mpi": [("eq", "a")]}.

    Only `name <op> constant` (either way round) and `name in [constants]` count.
    """
    compared: dict[str, list[tuple[str, Any]]] = {}
    # In the recipe's order, each once: a set's order changes from run to run (hash seeds),
    # and with it the order of the configurations and of the sources they find.
    for expression in dict.fromkeys(expressions):
        for name, operator, value in _compared_in(expression):
            compared.setdefault(name, []).append((operator, value))
    return compared


@functools.lru_cache(maxsize=4096)
def _compared_in(expression: str) -> tuple[tuple[str, str, Any], ...]:
    """(name, operator, constant) of each comparison in one expression; recipes share many."""
    try:
        tree = jinja.sandbox("conda-v0").environment.parse("{{ " + expression + " }}")
    except Exception:  # not an expression on its own: it says nothing about variants
        return ()
    found: list[tuple[str, str, Any]] = []
    # `(cuda_compiler_version or "").startswith("13")`: a value that starts with "13" is one.
    for call in tree.find_all(nodes.Call):
        method = call.node
        if (
            isinstance(method, nodes.Getattr)
            and method.attr in ("startswith", "endswith")
            and call.args
            and isinstance(call.args[0], nodes.Const)
            and isinstance(call.args[0].value, str)
        ):
            found.extend(
                (name.name, "startswith", call.args[0].value)
                for name in method.node.find_all(nodes.Name)
            )
    for node in tree.find_all(nodes.Compare):
        operands = [node.expr, *(operand.expr for operand in node.ops)]
        for position, operand in enumerate(node.ops):
            left, right = operands[position], operands[position + 1]
            for name, other, operator in (
                (left, right, operand.op),
                (right, left, _mirrored(operand.op)),
            ):
                if isinstance(name, nodes.Name):
                    found.extend((name.name, operator, value) for value in _constants(other))
    return tuple(found)


def _constants(node: nodes.Node) -> list[Any]:
    if isinstance(node, nodes.Const) and _scalar(node.value):
        return [node.value]
    if isinstance(node, nodes.List | nodes.Tuple):
        return [item.value for item in node.items if isinstance(item, nodes.Const)]
    return []


def _mirrored(operator: str) -> str:
    return {"lt": "gt", "gt": "lt", "lteq": "gteq", "gteq": "lteq"}.get(operator, operator)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _unique(values: Iterable[Any]) -> list[Any]:
    # Values are scalars (str, numbers, None, _NOT_SET), all hashable. 1 and True are equal
    # keys for a dict; that is fine here: a selector cannot tell them apart either.
    return list(dict.fromkeys(values))
