"""What a reviewer needs beyond the diff: how the upstream's metadata moved between the old and
the new version, and which of the recipe's requirements the new version no longer fits (the
"dependency hints" of the conda-forge bot).

    old, new = pypi_metadata(http, base, "attrs", "18.2.0"), pypi_metadata(..., "19.1.0")
    hints = compare(old, new, requirements_of(recipe_text))

PyPI's per-version JSON (`/pypi/<name>/<version>/json`) is parsed at the edge into Metadata;
the comparison is pure. Hints only inform: a failure to fetch them never holds an update back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import structlog
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from bot.config import Config
from bot.errors import RecipeBotError
from bot.http import Http
from bot.model import RecipeChange
from bot.resolve import resolve
from checkers import Checker, pypi

log = structlog.get_logger()
MAX_REQUIREMENTS = 500  # a metadata document listing more is not one to compare line by line


@dataclass(frozen=True)
class Metadata:
    """The parts of a release's core metadata a reviewer compares."""

    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    extras: tuple[str, ...] = ()
    license: str | None = None


@dataclass(frozen=True)
class Hints:
    changes: tuple[str, ...] = ()  # what moved between the two versions' metadata
    warnings: tuple[str, ...] = ()  # recipe requirements the new version no longer fits

    def __bool__(self) -> bool:
        return bool(self.changes or self.warnings)


@dataclass(frozen=True)
class RecipeRequirement:
    name: str  # canonical (PEP 503) form, so conda's `typing_extensions` meets PyPI's
    spec: str = ""  # as the recipe writes it, conda's syntax: `>=1.2,<2`


@dataclass(frozen=True)
class RecipeRequirements:
    run: Mapping[str, RecipeRequirement] = field(default_factory=dict)
    python: str = ""  # the recipe's python spec (host or run), "" when it sets none


def gather(
    change: RecipeChange, http: Http, config: Config, registry: Mapping[str, Checker]
) -> Hints | None:
    """Hints for an update whose release came from PyPI (or a mirror with its JSON API);
    None for other upstreams, or when the metadata cannot be had (logged, never fatal)."""
    update = change.update
    try:
        resolved = resolve(update.recipe, config, registry)
        if resolved.checker_name != "pypi":
            return None
        package = str(resolved.options.get("package") or update.recipe.name)
        # The checker's own setting, default included: the index its releases came from.
        base = pypi.SETTINGS.read(config.checkers.get("pypi", {}))[pypi.INDEX_URL]
        urls = [pypi_metadata_url(base, package, v) for v in (update.old, update.new)]
        if None in urls:
            return None
        old, new = (pypi_metadata(http, url) for url in urls if url is not None)
    except RecipeBotError as exc:
        log.warning("hints_unavailable", recipe=update.recipe.name, error=exc.message)
        return None
    recipe_text = next(
        (edit.before for edit in change.edits if edit.path == update.recipe.path), ""
    )
    return compare(old, new, requirements_of(recipe_text))


# --- fetching (the edge) -----------------------------------------------------------------------


def pypi_metadata_url(base: str, package: str, version: str) -> str | None:
    """`{base}/pypi/{package}/{version}/json`; a base that is a whole `{package}` template
    (a mirror) works when it ends in `/json`."""
    base = base.rstrip("/")
    if "{package}" in base:
        if not base.endswith("/json"):
            return None
        project = base[: -len("/json")].replace("{package}", quote(package))
        return f"{project}/{quote(version)}/json"
    return f"{base}/pypi/{quote(package)}/{quote(version)}/json"


def pypi_metadata(http: Http, url: str) -> Metadata:
    """One version's metadata. Raises what `Http.json` raises (RecipeBotError subclasses)."""
    return parse_pypi(http.json(url))


def parse_pypi(document: Any) -> Metadata:
    info = document.get("info") if isinstance(document, dict) else None
    if not isinstance(info, dict):
        return Metadata()
    requires = info.get("requires_dist")
    requires_dist = (
        tuple(str(item) for item in requires[:MAX_REQUIREMENTS] if isinstance(item, str))
        if isinstance(requires, list)
        else ()
    )
    extras = info.get("provides_extra")
    license_text = info.get("license_expression") or info.get("license")
    return Metadata(
        requires_dist=requires_dist,
        requires_python=_text(info.get("requires_python")) or None,
        extras=tuple(sorted(str(e) for e in extras if isinstance(e, str)))
        if isinstance(extras, list)
        else (),
        license=_text(license_text)[:200] if _text(license_text) else None,
    )


# --- the recipe's requirements -----------------------------------------------------------------

_LIST_ITEM = re.compile(r"^\s*-\s+(?P<body>[^#]*?)\s*(?:#.*)?$")
_SECTION = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z_]+):\s*(?:#.*)?$")
_NAME = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<spec>.*)$")


def requirements_of(text: str) -> RecipeRequirements:
    """The run requirements a recipe lists (meta.yaml or recipe.yaml), read line by line:
    templated entries (`{{ pin_compatible(...) }}`) are skipped, selectors ignored. Advisory
    only, so a recipe it cannot read simply gives no hints."""
    run: dict[str, RecipeRequirement] = {}
    python = ""
    section: list[tuple[int, str]] = []  # the keys we are under, with their indent
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        header = _SECTION.match(line)
        if header:
            section = [(i, key) for i, key in section if i < indent]
            section.append((indent, header.group("key")))
            continue
        item = _LIST_ITEM.match(line)
        keys = [key for _, key in section]
        if item is None or "requirements" not in keys or keys[-1] not in ("run", "host"):
            continue
        body = item.group("body").strip().strip("'\"")
        named = _NAME.match(body) if "{" not in body and "$" not in body else None
        if named is None:
            continue
        name, spec = canonicalize_name(named.group("name")), named.group("spec").strip()
        if name == "python":
            python = python or spec
        elif keys[-1] == "run":
            run.setdefault(name, RecipeRequirement(name, spec))
    return RecipeRequirements(run, python)


# --- comparing (pure) --------------------------------------------------------------------------


def compare(old: Metadata, new: Metadata, recipe: RecipeRequirements) -> Hints:
    changes: list[str] = []
    warnings: list[str] = []
    if old.requires_python != new.requires_python:
        changes.append(
            f"Requires-Python: {old.requires_python or 'none'} → {new.requires_python or 'none'}"
        )
    before, after = _base_requirements(old.requires_dist), _base_requirements(new.requires_dist)
    for name in sorted(after.keys() - before.keys()):
        changes.append(f"new dependency: {after[name]}")
    for name in sorted(before.keys() - after.keys()):
        changes.append(f"dependency dropped: {before[name]}")
    for name in sorted(before.keys() & after.keys()):
        if str(before[name].specifier) != str(after[name].specifier):
            changes.append(f"dependency changed: {before[name]} → {after[name]}")
    extras_added = sorted(set(new.extras) - set(old.extras))
    extras_dropped = sorted(set(old.extras) - set(new.extras))
    if extras_added:
        changes.append(f"extras added: {', '.join(extras_added)}")
    if extras_dropped:
        changes.append(f"extras dropped: {', '.join(extras_dropped)}")
    if old.license != new.license and (old.license or new.license):
        changes.append(f"license: {old.license or 'none'} → {new.license or 'none'}")
    if recipe.run:  # a recipe whose requirements could not be read gets no warnings
        warnings += _against_recipe(after, recipe)
    python_floor = _floor(new.requires_python or "")
    recipe_floor = _floor(_pep440(recipe.python))
    read = bool(recipe.python or recipe.run)
    if read and python_floor is not None and (recipe_floor is None or recipe_floor < python_floor):
        allowed = f"python {recipe.python}" if recipe.python else "any python"
        warnings.append(f"the recipe allows {allowed}; {new.requires_python} is required now")
    return Hints(tuple(changes), tuple(warnings))


def _against_recipe(after: Mapping[str, Requirement], recipe: RecipeRequirements) -> list[str]:
    warnings = []
    for name, requirement in sorted(after.items()):
        listed = recipe.run.get(name)
        if listed is None:
            warnings.append(f"{requirement} is not among the recipe's run requirements")
            continue
        needed = _floor(str(requirement.specifier))
        allowed = _floor(_pep440(listed.spec))
        if needed is not None and (allowed is None or allowed < needed):
            spec = listed.spec or "(any version)"
            warnings.append(f"the recipe allows {name} {spec}; {requirement} is required now")
    return warnings


def _base_requirements(lines: Iterable[str]) -> dict[str, Requirement]:
    """Requirements without an extra marker (those of the plain install), by canonical name."""
    found: dict[str, Requirement] = {}
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        found.setdefault(canonicalize_name(requirement.name), requirement)
    return found


def _pep440(conda_spec: str) -> str:
    """A conda version spec in PEP 440 terms, as far as a floor is concerned (`>=1.2,<2`,
    `1.2.*`, a bare version meaning `==`)."""
    spec = conda_spec.replace(" ", "")
    if spec and spec[0].isdigit():
        spec = "==" + spec
    return spec.split("|")[0]


def _floor(spec: str) -> Version | None:
    """The lowest version a specifier admits, when it sets one (>=, >, ==, ~=)."""
    try:
        specifiers: Sequence[Any] = list(SpecifierSet(spec))
    except InvalidSpecifier:
        return None
    floors = []
    for specifier in specifiers:
        if specifier.operator in (">=", ">", "==", "~=", "==="):
            try:
                floors.append(Version(specifier.version.rstrip(".*")))
            except InvalidVersion:
                continue
    return max(floors) if floors else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
