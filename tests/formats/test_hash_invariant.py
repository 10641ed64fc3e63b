"""The rewrite's invariant: a version change never leaves an old hash in place.

After a rewrite, every checksum of a source whose URL moved is the hash of that exact new URL,
in every configuration the recipe is read in, and every pinned source keeps its hash byte for
byte. Checked on every fixture and on generated recipes that mix the patterns real recipes use:
per-platform hashes (as `{% set %}` lines or as selector-guarded `sha256:` lines), variant-only
selectors, `{% if %}` on a variant, per-Python wheels, pinned extra sources, mirror lists, md5s
and skipped platforms. The hasher records what it gave; the checks read the text on their own.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.formats import conda_v0, conda_v1, discover, read_variants, rewrite

FIXTURES = Path(__file__).resolve().parents[2] / "recipes-fixtures"
_HEX = re.compile(r"\b(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})\b")


def digest(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


class Recorder:
    """`sha256_of` that hashes any URL, remembering each answer."""

    def __init__(self) -> None:
        self.given: dict[str, str] = {}

    def __call__(self, url: str) -> str:
        self.given[url] = digest(f"new {url}")
        return self.given[url]


@dataclass
class Generated:
    """A generated meta.yaml and what the invariant needs to know of it."""

    name: str
    text: str
    pinned: set[str] = field(default_factory=set)  # digests that must survive
    variants: dict[str, list[str]] | None = None


def _checksum_digests(text: str) -> set[str]:
    """Hex digests on checksum lines, outside comments."""
    found = set()
    for line in text.splitlines():
        code = re.split(r"(?:^|\s)#", line, maxsplit=1)[0]
        if re.search(r"sha256|md5|sha1|set \w*sha", code):
            found.update(_HEX.findall(code))
    return found


def assert_invariant(
    old_text: str, new_text: str, given: dict[str, str], pinned: set[str], parse: Any, variants: Any
) -> None:
    """The invariant, read off the texts: see the module docstring."""
    old_digests = _checksum_digests(old_text)
    left = {value for value in old_digests if value in new_text}
    assert left <= pinned, f"old checksums left in place: {sorted(left - pinned)}"
    assert pinned <= _checksum_digests(new_text), "a pinned source lost its hash"
    renders = parse(new_text, variants).renders
    assert renders
    for render in renders:
        for site in render.sources:
            if site.sha256 is None or site.sha256 in pinned:
                continue
            assert site.sha256 == given.get(site.url), (
                f"{site.url} reads {site.sha256} on {render.configuration.get('target_platform')}"
            )
            assert not [kind for kind, _ in site.checksums if kind != "sha256"], "md5 kept"


# -- generated recipes ------------------------------------------------------------------------

_HEAD = '{% set name = "widget" %}\n{% set version = "1.4.2" %}\n'
_PACKAGE = "package:\n  name: {{ name }}\n  version: {{ version }}\n\n"
_BUILD = "build:\n  number: 3\n"
_LICENSE = (
    "  - url: https://raw.githubusercontent.com/acme/widget/"
    "3f2c9d1e0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d/LICENSE\n"
    f"    sha256: {digest('license')}\n"
)


def _platform_sets() -> tuple[str, str]:
    head = "".join(
        f'{{% set plat = "{plat}" %}}  # [{sel}]\n'
        f'{{% set sha256 = "{digest("set " + plat)}" %}}  # [{sel}]\n'
        for plat, sel in (("linux", "linux"), ("mac", "osx"), ("windows", "win"))
    )
    source = (
        "  - url: https://example.org/widget/{{ version }}/widget-{{ plat }}-{{ version }}.zip\n"
        "    sha256: {{ sha256 }}\n"
    )
    return head, source


def _selector_lines() -> tuple[str, str]:
    source = "".join(
        f"  - url: https://example.org/widget-{{{{ version }}}}-{plat}.tar.gz  # [{sel}]\n"
        f"    sha256: {digest('line ' + plat)}  # [{sel}]\n"
        for plat, sel in (("linux-x86_64", "linux64"), ("linux-aarch64", "aarch64"),
                          ("osx", "osx"), ("win", "win"))
    )  # fmt: skip
    return "", source


def _single() -> tuple[str, str]:
    source = (
        "  - url: https://example.org/widget-{{ version }}.tar.gz\n"
        f"    sha256: {digest('single')}\n"
    )
    return "", source


def _variant_selector() -> tuple[str, str, dict[str, list[str]] | None]:
    source = "  - url: https://example.org/widget-{{ flavour }}-{{ version }}.tar.gz\n" + "".join(
        f'    sha256: {digest("flavour " + value)}  # [flavour == "{value}"]\n'
        for value in ("lite", "lts", "u64")
    )
    return "", source, None


def _variant_if() -> tuple[str, str, dict[str, list[str]] | None]:
    head = (
        '{% if mpi == "openmpi" %}\n'
        f'{{% set mpi_sha = "{digest("openmpi")}" %}}\n'
        "{% else %}\n"
        f'{{% set mpi_sha = "{digest("mpich")}" %}}\n'
        "{% endif %}\n"
    )
    source = (
        "  - url: https://example.org/widget-{{ mpi }}-{{ version }}.tar.gz\n"
        "    sha256: {{ mpi_sha }}\n"
    )
    return head, source, {"mpi": ["openmpi", "mpich"]}


def _python_wheels() -> tuple[str, str, dict[str, list[str]] | None]:
    source = "".join(
        f"  - url: https://example.org/widget-{{{{ version }}}}-cp{py}-abi3.whl  # [py=={py}]\n"
        f"    sha256: {digest('py' + py)}  # [py=={py}]\n"
        for py in ("310", "311", "312")
    )
    return "", source, None


def _no_variant() -> tuple[str, str, dict[str, list[str]] | None]:
    return "", "", None


PLATFORM_STYLES = {"platform-sets": _platform_sets, "selector-lines": _selector_lines,
                   "single": _single}  # fmt: skip
VARIANT_STYLES = {"none": _no_variant, "variant-selector": _variant_selector,
                  "variant-if": _variant_if, "python-wheels": _python_wheels}  # fmt: skip


def generate() -> list[Generated]:
    cases = []
    for (platform, make_platform), (variant, make_variant), license_, skip_win, md5 in (
        itertools.product(
            PLATFORM_STYLES.items(), VARIANT_STYLES.items(), (False, True), (False, True),
            (False, True),
        )
    ):  # fmt: skip
        head, source = make_platform()
        variant_head, variant_source, variants = make_variant()
        if md5:  # an md5 beside the first sha256, under the same selector
            source = re.sub(
                r"^(    )sha256: .*?(  # \[.*\])?$",
                lambda m: f"{m[1]}md5: {digest('md5')[:32]}{m[2] or ''}\n{m[0]}",
                source,
                count=1,
                flags=re.MULTILINE,
            )
        pinned = set()
        extra = ""
        if license_:
            extra = _LICENSE
            pinned.add(digest("license"))
        build = _BUILD + ("  skip: true  # [win]\n" if skip_win else "")
        text = (
            _HEAD + head + variant_head + _PACKAGE + "source:\n" + source + variant_source
            + extra + "\n" + build
        )  # fmt: skip
        name = f"{platform}+{variant}" + "+license" * license_ + "+skip-win" * skip_win
        cases.append(Generated(name + "+md5" * md5, text, pinned, variants))
    return cases


GENERATED = generate()


@pytest.mark.parametrize("case", GENERATED, ids=lambda case: case.name)
def test_generated_recipes_keep_no_stale_hash(case: Generated) -> None:
    """Each generated recipe is rewritten, and every hash that moved is its new URL's."""
    recorder = Recorder()

    new_text = rewrite(case.text, "1.5.0", recorder, variants=case.variants)

    assert "1.5.0" in new_text and "number: 0" in new_text
    assert_invariant(case.text, new_text, recorder.given, case.pinned, conda_v0.parse,
                     case.variants)  # fmt: skip


def test_generated_recipes_cover_every_pattern() -> None:
    """The generator makes every combination, so no pattern goes untested."""
    assert len(GENERATED) == len(PLATFORM_STYLES) * len(VARIANT_STYLES) * 8
    assert len({case.text for case in GENERATED}) == len(GENERATED)


def test_a_hash_line_no_configuration_reaches_is_a_refusal() -> None:
    """A variant value the bot cannot know of is refused, never left with its old hash."""
    text = (
        _HEAD + _PACKAGE + "source:\n  url: https://example.org/widget-{{ version }}.tar.gz\n"
        f"  sha256: {digest('a')}  # [flavour == 'a']\n"
        f"  sha256: {digest('b')}  # [flavour in known_flavours]\n"
    )
    from bot.errors import RewriteRefused

    with pytest.raises(RewriteRefused, match="applies in no configuration"):
        rewrite(text, "1.5.0", Recorder())


# -- every fixture ----------------------------------------------------------------------------

RECIPES = [path for path in discover(FIXTURES) if path.suffix == ".yaml"]


def _bump(version: str) -> str:
    match = re.search(r"(\d+)(?!.*\d)", version)
    assert match is not None
    return version[: match.start()] + str(int(match.group()) + 1) + version[match.end() :]


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.parent.name)
def test_fixtures_keep_no_stale_hash(path: Path) -> None:
    """Every fixture recipe, rewritten, satisfies the invariant in every configuration."""
    text = path.read_text()
    parse = conda_v1.parse if path.name == "recipe.yaml" else conda_v0.parse
    beside = path.parent / "conda_build_config.yaml"
    variants = read_variants(beside, root=FIXTURES) if beside.is_file() else None
    old = parse(text, variants)
    recorder = Recorder()

    new_text = rewrite(text, _bump(old.version), recorder, filename=path.name, variants=variants)

    assert_invariant(text, new_text, recorder.given, set(), parse, variants)
