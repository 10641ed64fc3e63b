"""Versions inside URLs: substitute them in literal text, and guess other forms of a URL.

Upstreams write a version into download URLs in a few ways: `foo-1.2.3.tar.gz`,
`foo_1_2_3.tar.gz`, a `1.2/` major.minor directory. When a release is not at the URL the recipe
predicts, it is usually a different archive type (`.tar.xz` instead of `.tar.gz`) or a tag with
or without a `v` (`/v1.2.3/` vs `/1.2.3/`); `alternatives` lists those forms of a URL's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

EXTENSIONS = (".tar.gz", ".tar.xz", ".tar.bz2", ".tgz", ".zip")

# Jinja in a value: `{{ ... }}`, `${{ ... }}` or `{% ... %}`; never substitute inside these.
TEMPLATE = re.compile(r"\$?\{\{.*?\}\}|\{%.*?%\}")


def _forms(version: str) -> list[str]:
    forms = [version]
    if "." in version:
        forms.append(version.replace(".", "_"))
    return forms


def _pattern(text: str) -> str:
    # Not part of a longer version: no digit or separator+digit around it (1.2.3 in 11.2.3,
    # 1.2.30 or 1.2.3.4 is not 1.2.3).
    return rf"(?<![\d.])(?<!\d_){re.escape(text)}(?![\d])(?![._]\d)"


def contains_version(text: str, version: str) -> bool:
    """Whether `text` holds `version` as written or with `_` separators."""
    return any(re.search(_pattern(form), text) for form in _forms(version))


def substitute(value: str, old: str, new: str) -> str:
    """Replace every form of `old` by the same form of `new`, outside Jinja expressions."""
    pairs = dict(zip(_forms(old), _forms(new), strict=False))
    if len(pairs) < len(_forms(old)):
        pairs[old.replace(".", "_")] = new  # new has no dots: `1_2_3` becomes `124`
    old_parts, new_parts = old.split("."), new.split(".")
    if len(old_parts) >= 3 and len(new_parts) >= 2:
        # A major.minor directory: `.../1.2/foo-1.2.3.tar.gz`.
        pairs.setdefault(".".join(old_parts[:2]), ".".join(new_parts[:2]))
    pattern = re.compile("|".join(_pattern(form) for form in sorted(pairs, key=len, reverse=True)))
    return _outside_templates(value, lambda text: pattern.sub(lambda m: pairs[m.group()], text))


def _outside_templates(value: str, change: Callable[[str], str]) -> str:
    pieces = []
    position = 0
    for match in TEMPLATE.finditer(value):
        pieces.append(change(value[position : match.start()]))
        pieces.append(match.group())
        position = match.end()
    pieces.append(change(value[position:]))
    return "".join(pieces)


def alternatives(
    value: str, version: str, reference: re.Pattern[str], *, dialect: str = "conda-v0"
) -> list[str]:
    """Other forms of a URL's text, the ones upstreams use, most likely first.

    - other archive extensions, and the version with or without a `v` (`/v1.2/`, `/1.2/`);
    - the project name in the file name normalized as PEP 625 sdists are named since 2024
      (`{{ name | replace('-', '_') | lower }}-1.0.tar.gz`);
    - GitHub's two spellings of a tag archive (`archive/refs/tags/v1.tar.gz`, `archive/v1...`).

    A GitHub release asset (`releases/download/...`) is never swapped for the tag archive: they
    are different files, and a release without its asset is a reason to refuse, not to guess.
    `reference` matches how the version is referenced in the text (`{{ version }}`); the
    literal `version` is recognised too, for URLs written out in full.
    """
    result: list[str] = []
    for text in (value, *_name_forms(value, dialect), *_archive_forms(value)):
        for candidate in _version_forms(text, version, reference):
            if candidate not in result:
                result.append(candidate)
    if value in result:
        result.remove(value)
    return [value, *result] if value else result


def _version_forms(value: str, version: str, reference: re.Pattern[str]) -> list[str]:
    spots = [
        (match.start(), match.end())
        for match in re.finditer(rf"{reference.pattern}|{_pattern(version)}", value)
    ]
    toggles = [value]
    for start, _ in spots:
        toggles.append(_toggle_v(value, start))
    if len(spots) > 1:
        toggled = value
        for start, _ in reversed(spots):
            toggled = _toggle_v(toggled, start)
        toggles.append(toggled)
    result = []
    for text in toggles:
        for candidate in (text, *_other_extensions(text)):
            if candidate not in result:
                result.append(candidate)
    return result


# PEP 625 file names: the normalized project name, `-`, `.` and `_` runs become `_`, lower case.
_NAME_FILTERS = (
    " | replace('-', '_')",
    " | replace('-', '_') | lower",
    " | lower",
    " | replace('_', '-')",  # older sdists, and projects named with `_`: the other way round
)


def _name_forms(value: str, dialect: str) -> list[str]:
    """The URL with the project name in its file name written as a PEP 625 sdist names it.

    `{{ name }}` gets a normalizing filter; a name written out (`py_entitymatching-{{ version }}`)
    gets its separators swapped and its case lowered.
    """
    opening = r"\$\{\{" if dialect == "conda-v1" else r"(?<!\$)\{\{"
    folder, slash, file_name = value.rpartition("/")
    if not slash:
        return []
    plain = re.compile(rf"{opening}\s*name\s*\}}\}}")
    if plain.search(file_name):
        start = "${{" if dialect == "conda-v1" else "{{"
        return [
            folder + slash + plain.sub(f"{start} name{filters} }}}}", file_name)
            for filters in _NAME_FILTERS
        ]
    literal = _literal_stem(file_name)
    if not literal:
        return []
    rest = file_name[len(literal) :]
    forms = [literal.replace("_", "-"), literal.replace("-", "_"), literal.lower(),
             literal.replace("-", "_").lower()]  # fmt: skip
    return [folder + slash + form + rest for form in dict.fromkeys(forms) if form != literal]


def _literal_stem(file_name: str) -> str:
    """The project name written out at the start of a file name, before `-{{ version }}`."""
    match = re.match(r"([A-Za-z][\w.]*?[A-Za-z0-9])[-_](?=\$?\{\{)", file_name)
    return match.group(1) if match else ""


def normalized_name(file_name: str) -> str:
    """A file name compared as PyPI compares project names: case and `-_.` runs ignored."""
    return re.sub(r"[-_.]+", "-", file_name).lower()


def published_form(value: str, rendered: str, published: str) -> str | None:
    """`value` with its written-out file-name prefix respelled as the upstream publishes it.

    For a file the upstream lists under another spelling of the same name (`AlgoTree-0.7.3`
    for `algotree-0.7.3`): the literal text before the first `{{` of the file name is replaced
    by the published one, if the two differ only in case and separators.
    """
    folder, slash, file_name = value.rpartition("/")
    literal = re.split(r"\$?\{\{", file_name, maxsplit=1)[0]
    if not slash or not literal or not rendered.startswith(literal):
        return None
    respelled = published[: len(literal)]
    if respelled == literal or normalized_name(respelled) != normalized_name(literal):
        return None
    if normalized_name(published) != normalized_name(rendered):
        return None
    return folder + slash + respelled + file_name[len(literal) :]


_TAG_ARCHIVE = re.compile(r"(github\.com/[^/]+/[^/]+/archive/)(refs/tags/)?")


def _archive_forms(value: str) -> list[str]:
    match = _TAG_ARCHIVE.search(value)
    if match is None:
        return []
    other = "" if match.group(2) else "refs/tags/"
    return [value[: match.start()] + match.group(1) + other + value[match.end() :]]


def is_release_asset(url: str) -> bool:
    """A file attached to a GitHub release (not the tag's source archive)."""
    return "github.com/" in url and "/releases/download/" in url


def _toggle_v(value: str, start: int) -> str:
    if start > 0 and value[start - 1] == "v":
        return value[: start - 1] + value[start:]
    if start > 0 and value[start - 1] in "/-_":
        return value[:start] + "v" + value[start:]
    return value


def _other_extensions(value: str) -> list[str]:
    for extension in EXTENSIONS:
        if value.endswith(extension):
            stem = value[: -len(extension)]
            return [stem + other for other in EXTENSIONS if other != extension]
    return []
