"""conda-build `meta.yaml`: Jinja over YAML, with `# [selector]` lines.

Reading, per configuration (platform, Python, variant values: see `variants`): blank the lines
whose selector is false (as conda-build does before Jinja), render in the sandbox (line by line
when no Jinja statement spans lines, see `linewise`; else as a whole), parse the YAML, collect
the top-level sources. The configurations' sources are merged (and kept per configuration, for
the rewrite); each remembers its selector (the one on its URL line, else
the one on the line that sets its hash) and the line its URL is written on, found by rendering
the `source:` block's lines one by one with the template's variables. Configurations that
keep the same lines (those of blocks never read aside, `_unread_lines`) and give the names the
Jinja reads the same values share one reading (`_reading_key`), sources included, unless a
line that differs between them holds a source's hash: then its sources are located again in
its own lines.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, NamedTuple

from bot.formats import jinja, lines, linewise, selectors, yamlio
from bot.formats import variants as variants_
from bot.formats.base import Configuration, FormatError, Parsed, Rendered, SourceSite

CHECKSUMS = ("sha256", "md5", "sha1")

# `{% set name = value %}`, `{%- set name = value -%}`
SET_STATEMENT = re.compile(r"\{%-?\s*set\s+(?P<name>\w+)\s*=\s*(?P<expr>.*?)\s*-?%\}")


def parse(
    text: str,
    variants: variants_.Variants | None = None,
    *,
    configurations: Sequence[Configuration] | None = None,
) -> Parsed:
    """Read a meta.yaml's name, version, sources (all configurations) and `extra: update_check`.

    The configurations are those of `variants.configurations` unless given: a rewrite reads
    the text before and after an edit in the same ones, to pair their sources.
    """
    text_lines = lines.contents(text)
    sandbox = jinja.sandbox("conda-v0")
    recipe_globals = sandbox.recipe_globals()
    selector = selectors.Selector(sandbox, text_lines)
    if configurations is None:
        configurations = variants_.configurations(text_lines, selector.expressions(), variants)
    by_line = linewise.Lines.compile(text_lines)
    source_lines = [index for span in lines.block_ranges(text_lines, "source") for index in span]
    # Configurations often select the same lines and render the same text: parse it once.
    loaded: dict[str, Any] = {}

    def read_in(variables: dict[str, Any], kept: list[str]) -> _Reading:
        if by_line is not None:
            output, exported = by_line.render(kept, variables)
        else:
            template = sandbox.text_template("\n".join(kept))
            output, exported = jinja.render_template(template, variables)
        if output not in loaded:
            try:
                loaded[output] = yamlio.load(output)
            except FormatError as error:
                loaded[output] = error  # the same text fails the same way: once is enough
        data = loaded[output]
        if isinstance(data, FormatError):
            raise data
        if not isinstance(data, dict):
            raise FormatError("the recipe is not a YAML mapping")
        sites = locate_sites(variables, kept, data, exported)
        return _Reading(data, exported, _skipped(data), sites, kept, _plain_mapping(output, data))

    def locate_sites(
        variables: dict[str, Any], kept: list[str], data: dict[str, Any], exported: dict[str, Any]
    ) -> tuple[SourceSite, ...]:
        locate = _Locator(sandbox, kept, source_lines, {**variables, **exported}, selector)
        return tuple(
            site
            for entry in _entries(data.get("source"))
            if (site := _site(entry, locate)) is not None
        )

    reads = _reads(by_line, recipe_globals)
    unread = _unread_lines(text_lines)
    # The selectors whose value can change a reading: those of lines it depends on.
    counted = selector.positions(index for index, skip in enumerate(unread) if not skip)
    readings: dict[Hashable, _Reading | FormatError] = {}
    renders: list[Rendered] = []
    found: dict[bool, dict[SourceSite, tuple[int, int, int]]] = {False: {}, True: {}}
    identity: dict[bool, tuple[Any, dict[str, Any]]] = {}
    failure: FormatError | None = None
    for position, configuration in enumerate(configurations):
        variables = {**recipe_globals, **configuration}
        try:
            selection = selector.selection(variables)
            kept = selection.kept
            key = _reading_key(selection.truth, configuration, reads, counted)
            reading = readings.get(key) if key is not None else None
            if isinstance(reading, _Reading) and reading.kept != kept:
                # The same but for lines of blocks never read: the document is right in every
                # block that is read. The sources are too, unless a line that differs holds
                # one of their hashes (see `_Locator.value_selector`): then they are located
                # again in this one's lines.
                if not reading.plain:
                    reading = None  # not a plain mapping: what those lines do is not known
                elif _hashes_in_changed_lines(reading.sites, reading.kept, kept):
                    sites = locate_sites(variables, kept, reading.data, reading.exported)
                    reading = reading._replace(sites=sites, kept=kept)
                else:
                    reading = reading._replace(kept=kept)
            if reading is None:
                try:
                    reading = read_in(variables, kept)
                except FormatError as error:
                    reading = error
                if key is not None:
                    readings[key] = reading
            if isinstance(reading, FormatError):
                raise reading
        except FormatError as error:
            # One configuration that does not render (a variant value a selector cannot
            # compare, a platform the recipe leaves undefined) does not make the others wrong;
            # a rewrite then checks the whole text for hashes it did not reach.
            failure = failure or error
            continue
        data, exported, skipped, sites = reading[:4]
        renders.append(Rendered(position, configuration, sites, skipped))
        # `build: skip: true  # [win]`: conda-build never builds it there; its sources are
        # listed only when the recipe is skipped everywhere (it still has a version and sources).
        identity.setdefault(skipped, (data, exported))
        for number, site in enumerate(sites):
            order = (site.url_line if site.url_line is not None else 1 << 30, position, number)
            found[skipped].setdefault(site, order)
    if not renders:
        raise failure or FormatError("the recipe reads in no configuration")
    built = False in identity
    data, exported = identity[not built]
    name, version = _identity(data, exported)
    # A metapackage (or a `path:` source) has nothing to download: it is still a recipe, with
    # a version, and the rewrite refuses it for want of a source.
    chosen = found[not built]
    return Parsed(
        name=name,
        version=version,
        sources=tuple(sorted(chosen, key=chosen.__getitem__)),
        update_check=_update_check(data),
        renders=tuple(renders),
        configurations=tuple(configurations),
    )


class _Reading(NamedTuple):
    """What one configuration reads: the document, the names it set, skipped or not, sources;
    the lines it kept, and whether its document is a plain block mapping (`_plain_mapping`)."""

    data: dict[str, Any]
    exported: dict[str, Any]
    skipped: bool
    sites: tuple[SourceSite, ...]
    kept: list[str]
    plain: bool


# The top-level blocks the reader reads; a line of any other block (requirements:, test:,
# about:, outputs:) changes nothing it reads, if it is plain text that cannot reach past its
# block (`_unread_lines`).
READ_BLOCKS = frozenset({"package", "source", "build", "extra"})
_TOP_LEVEL_KEY = re.compile(r"[A-Za-z_][\w.-]*(?=[ \t]*:(?:[ \t]|$))")
# What could open or close a construct that runs on past its line, or name a node elsewhere.
_REACHING = re.compile(r"[\[\]{}\"'&*\t]")


def _unread_lines(text_lines: list[str]) -> tuple[bool, ...]:
    """For each line: whether it is one the reading never depends on.

    That is an indented line of a top-level block other than READ_BLOCKS, with no Jinja and
    nothing (quotes, brackets, anchors, tabs) that could reach past its own line; its
    selector does not count. Keeping it or not changes the text of that block only. A
    column-0 line never is one, nor a line under a key that has a selector: dropping
    `requirements:` would join its lines to the block above.
    """
    unread = []
    block: str | None = None
    for content in text_lines:
        stripped = content.strip()
        if content[:1] not in (" ", "\t"):
            if stripped and not stripped.startswith(("#", "{%", "{#")):
                match = _TOP_LEVEL_KEY.match(content)
                # A key with a selector is dropped in some configurations, and its lines then
                # join the block above it, which may be read: nothing under it is unread.
                selected = lines.split_selector(content)[1] is not None
                block = match.group() if match and not selected else None
            unread.append(False)
            continue
        body = lines.split_selector(content)[0]
        unread.append(
            block is not None
            and block not in READ_BLOCKS
            and not jinja.has_markup(content)
            and not _REACHING.search(body)
        )
    return tuple(unread)


def _plain_mapping(output: str, data: dict[str, Any]) -> bool:
    """Whether `output` is a block mapping whose keys are its column-0 `key:` lines, in order,
    each once, with no anchor or alias: then each top-level block reads on its own, and a
    change inside one (see `_unread_lines`) leaves the others as they were."""
    if _ANCHOR_OR_ALIAS.search(output):
        return False
    keys = []
    for line in output.split("\n"):
        first = line[:1]
        if first in ("", " ", "#") or (first == "-" and line[1:2] in ("", " ")):
            continue
        match = _TOP_LEVEL_KEY.match(line)
        if match is None:
            return False  # `---`, `%YAML`, `? key`, a quoted key, a tab, a cut-off scalar
        keys.append(match.group())
    return keys == list(data)


_ANCHOR_OR_ALIAS = re.compile(r"(?:^|[\s\[{,])[&*]", re.MULTILINE)


_ABSENT = object()  # a name the configuration does not define


def _hashes_in_changed_lines(
    sites: Sequence[SourceSite], before: list[str], after: list[str]
) -> bool:
    """Whether a line kept in one of two configurations but not the other holds a hash of
    `sites`: a source without a selector on its URL line takes that of its hash's line, when
    only one line holds the hash."""
    values = [value for site in sites for _, value in site.checksums]
    return any(
        value in line
        for old, new in zip(before, after, strict=True)
        if old != new
        for line in (old, new)
        for value in values
    )


def _reads(
    by_line: linewise.Lines | None, recipe_globals: Mapping[str, Any]
) -> tuple[str, ...] | None:
    """The names whose values decide a render, in order; None when renders cannot be shared.

    They cannot when the text renders as a whole (what it reads is not worked out), or when
    it reads a global a render can change (`{% do environ.update(...) %}`): then the next
    configuration may see what the one before it did.
    """
    if by_line is None:
        return None
    reads = by_line.reads()
    if not reads.isdisjoint(recipe_globals):
        return None
    return tuple(sorted(reads))


def _reading_key(
    truth: tuple[bool, ...],
    configuration: Mapping[str, Any],
    reads: tuple[str, ...] | None,
    counted: Sequence[int],
) -> Hashable | None:
    """Configurations that keep the same lines and give the names read the same values read
    the same: the render, the document and the sources it locates (by rendering those lines
    with those names) are the same. Lines the reading never depends on (`_unread_lines`) do
    not count: only the selectors at `counted` (`Selection.truth` positions) of the others do,
    since a line with a selector is kept exactly when its selector is true. None when no two
    may share."""
    if reads is None:
        return None
    # With each value's type: 1, 1.0 and True are equal, and render as "1", "1.0", "True".
    values = (configuration.get(name, _ABSENT) for name in reads)
    key = (
        tuple(truth[position] for position in counted),
        tuple((type(value), value) for value in values),
    )
    try:
        hash(key)
    except TypeError:  # a variant value that is a list: never shared
        return None
    return key


def _skipped(data: Mapping[str, Any]) -> bool:
    build = data.get("build")
    skip = build.get("skip") if isinstance(build, dict) else None
    if isinstance(skip, str):
        return skip.strip().lower() in ("true", "yes", "1")
    return bool(skip)


def _entries(source: Any) -> list[Mapping[str, Any]]:
    if source is None:
        return []
    items = source if isinstance(source, list) else [source]
    if not all(isinstance(item, dict) for item in items):
        raise FormatError("source: must be a mapping or a list of mappings")
    return items


def _identity(data: Mapping[str, Any], exported: Mapping[str, Any]) -> tuple[str, str]:
    package = data.get("package")
    if not isinstance(package, dict):
        raise FormatError("no package: section")
    name = yamlio.text(package.get("name"))
    version = yamlio.text(package.get("version"))
    if not name:
        raise FormatError("no package name")
    _check_defined("package name", name)
    if not version or not version.strip():
        raise FormatError("no version (package: version: is missing or empty)")
    _check_defined("version", version)
    return name.strip(), upstream_version(version.strip(), exported.get("version"))


def upstream_version(package_version: str, variable: Any) -> str:
    """The version a recipe sets, where the package version is derived from it.

    CRAN recipes set `{% set version = "1.0-15" %}` and package `{{ version|replace("-", "_") }}`
    (conda versions have no `-`): upstream publishes 1.0-15, so that is what is compared. A
    conda-side suffix after the version (`{{ version }}.post0`, `{{ version }}+cuda`) is derived
    too. Anything else (`{{ version }}.3`, a different number) is the package's own version.
    """
    if not isinstance(variable, str) or variable == package_version:
        return package_version
    variable = variable.strip()
    if _SEPARATORS.sub(".", variable) == _SEPARATORS.sub(".", package_version):
        return variable
    suffix = package_version[len(variable) :]
    if variable and package_version.startswith(variable) and _SUFFIX.fullmatch(suffix):
        return variable
    return package_version


_SEPARATORS = re.compile(r"[-_.]")
# A conda-side suffix: a post release or a local label. Never a prerelease (`rc1`, `dev`): a
# recipe at 3.9.4rc1 is not at 3.9.4.
_SUFFIX = re.compile(r"[._-]?post\d*|\+[\w.]+")


def _update_check(data: Mapping[str, Any]) -> dict[str, Any]:
    extra = data.get("extra")
    options = extra.get("update_check") if isinstance(extra, dict) else None
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise FormatError("extra: update_check: must be a mapping")
    result: dict[str, Any] = yamlio.plain(options, yamlio.Budget("extra: update_check:"))
    return result


def _check_defined(what: str, value: str) -> None:
    undefined = jinja.undefined_in(value)
    if undefined is not None:
        raise FormatError(f"{what} uses the undefined Jinja variable {undefined!r}")


class _Locator:
    """Finds the text line a rendered value comes from, among the lines active on a platform."""

    def __init__(
        self,
        sandbox: jinja.Sandbox,
        kept: list[str],
        source_lines: list[int],
        scope: Mapping[str, Any],
        selector: selectors.Selector,
    ) -> None:
        self._sandbox = sandbox
        self._kept = kept
        self._source_lines = source_lines
        self._scope = scope
        self._parent = {**sandbox.environment.globals, **scope}  # what a template sees
        self.selector = selector

    def url_line(self, url: str) -> int | None:
        for index in self._source_lines:
            value = lines.value_of(self._kept, index)
            if value is None or value.key not in (None, "url", "git_url"):
                continue
            rendered = self._render(value.text(self._kept))
            if rendered is not None and rendered.strip() == url:
                return index
        return None

    def _render(self, text: str) -> str | None:
        if not jinja.has_markup(text):
            return text  # what Jinja would render it to, without compiling it
        piece = linewise.line(text)  # mostly shared by every recipe: no compiling
        try:
            if piece is not None:
                return piece.render(self._parent, 0)[0]
            return jinja.render_string(self._sandbox, text, self._scope)
        except FormatError:
            return None  # part of a multi-line Jinja statement: cannot hold the URL alone

    def value_selector(self, value: str) -> str | None:
        """The selector of the only active line that contains `value` (e.g. a hash)."""
        holders = [index for index, content in enumerate(self._kept) if value in content]
        if len(holders) != 1:
            return None
        return self.selector.selector(holders[0])


def _site(entry: Mapping[str, Any], locate: _Locator) -> SourceSite | None:
    git = "url" not in entry and "git_url" in entry
    raw = entry.get("git_url" if git else "url")
    if raw is None:
        return None  # a `path:` or `hg_url:` source: nothing the bot downloads
    mirrors: tuple[str, ...] = ()
    if isinstance(raw, list):
        mirrors = tuple((yamlio.text(item) or "").strip() for item in raw)
        raw = raw[0] if raw else None
    url = yamlio.text(raw)
    if not url:
        raise FormatError("a source url is not a string")
    _check_defined("source url", url)
    checksums = []
    for kind in CHECKSUMS:
        raw_checksum = entry.get(kind)
        if raw_checksum is not None and not isinstance(raw_checksum, str):
            # `sha256: {linux: ..., osx: ...}`: conda-build wants one string; a rewrite that
            # cannot see the hashes would leave them all behind.
            raise FormatError(f"the {kind} of {url.strip()} is not a string")
        value = yamlio.text(raw_checksum)
        if value:
            _check_defined(kind, value)
            checksums.append((kind, value.strip()))
    rev = yamlio.text(entry.get("git_rev") or entry.get("git_tag")) if git else None
    url = url.strip()
    url_line = locate.url_line(url)
    selector = locate.selector.selector(url_line) if url_line is not None else None
    if selector is None and checksums:
        selector = locate.value_selector(checksums[0][1])
    return SourceSite(
        url=url,
        selector=selector,
        checksums=tuple(checksums),
        url_line=url_line,
        git=git,
        rev=rev,
        mirrors=mirrors,
        file_name=yamlio.text(entry.get("fn") or entry.get("file_name")),
    )


def definitions(text_lines: list[str], name: str) -> list[lines.Value]:
    """Where `{% set name = ... %}` is written: the literal (inside quotes) or the expression."""
    found = []
    for index, content in enumerate(text_lines):
        for match in SET_STATEMENT.finditer(content):
            if match.group("name") != name:
                continue
            expr = match.group("expr")
            start, end = match.span("expr")
            quote = expr[0] if expr[:1] in ("'", '"') and expr[-1:] == expr[:1] else ""
            if quote and len(expr) >= 2 and quote not in expr[1:-1]:
                found.append(lines.Value(index, start + 1, end - 1, quote, name))
            else:
                found.append(lines.Value(index, start, end, "", name))
    return found
