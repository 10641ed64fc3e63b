"""rattler-build `recipe.yaml`: plain YAML with `${{ }}` expressions and `if/then/else` items.

Unlike meta.yaml, the file is YAML before any templating, so it is parsed once and each value
that matters is rendered on its own: the `context:` variables in order (later ones may use
earlier ones), then name, version, source URLs and hashes. Sources are listed for every branch
of every `if:`; a `then:` item carries the `if` expression as its selector, an `else:` item its
negation. Line numbers come from ruamel's round-trip positions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bot.formats import conda_v0, jinja, lines, yamlio
from bot.formats import variants as variants_
from bot.formats.base import Configuration, FormatError, Parsed, Rendered, SourceSite

CHECKSUMS = ("sha256", "md5")


class _Renderer:
    def __init__(self, sandbox: jinja.Sandbox, scope: dict[str, Any]) -> None:
        self.sandbox = sandbox
        self.scope = scope

    def value(self, raw: Any, what: str) -> Any:
        if isinstance(raw, str) and "${{" in raw:
            rendered = jinja.render_string(self.sandbox, raw, self.scope)
            undefined = jinja.undefined_in(rendered)
            if undefined is not None:
                raise FormatError(f"{what} uses the undefined variable {undefined!r}")
            return rendered
        return raw

    def holds(self, condition: str) -> bool:
        """Whether an `if:` condition is true in this configuration."""
        try:
            return bool(self.sandbox.expression(condition)(**self.scope))
        except FormatError as error:
            raise FormatError(f"if: {condition}: {error}") from None
        except Exception as error:  # a condition is recipe input: see jinja.describe
            raise FormatError(f"if: {condition}: {jinja.describe(error)}") from None

    def text(self, raw: Any, what: str) -> str | None:
        value = self.value(raw, what)
        return value.strip() if isinstance(value, str) else None


def parse(
    text: str,
    variants: Mapping[str, Sequence[str]] | None = None,
    *,
    configurations: Sequence[Configuration] | None = None,
) -> Parsed:
    """Read a recipe.yaml's name, version, sources (every configuration) and `extra:`.

    The YAML is parsed once; the context and the sources are rendered per configuration (as
    for meta.yaml: platforms, Python versions and variant values the `if:` conditions and
    `${{ }}` expressions compare), taking the `then:` or `else:` branch each condition picks
    there, so a branch's URL and hash are read with the names that make it apply.
    """
    data = yamlio.load(text, positions=True)
    if not isinstance(data, dict):
        raise FormatError("the recipe is not a YAML mapping")
    context = data.get("context") or {}
    if not isinstance(context, dict):
        raise FormatError("context: must be a mapping")
    sandbox = jinja.sandbox("conda-v1")
    if configurations is None:
        conditions = list(_conditions(data.get("source"), yamlio.Budget("source:", 1000)))
        configurations = variants_.configurations(lines.contents(text), conditions, variants)
    renders: list[Rendered] = []
    first: _Renderer | None = None
    failure: FormatError | None = None
    for index, configuration in enumerate(configurations):
        render = _Renderer(sandbox, dict(configuration))
        for key, values in (variants or {}).items():
            if values:
                render.scope.setdefault(key, values[0])
        try:
            _render_context(context, render)
            sources: list[SourceSite] = []
            _collect(data.get("source"), None, render, sources, yamlio.Budget("source:", 1000))
        except FormatError as error:
            failure = failure or error  # see conda_v0.parse: one configuration is not all
            continue
        renders.append(Rendered(index, configuration, tuple(sources)))
        first = first or render
    if first is None:
        raise failure or FormatError("the recipe reads in no configuration")
    name, version = _identity(data, first)
    version = conda_v0.upstream_version(version, first.scope.get("version"))
    merged = tuple(dict.fromkeys(site for render in renders for site in render.sources))
    return Parsed(
        name,
        version,
        merged,
        _update_check(data, first),
        tuple(renders),
        tuple(configurations),
    )


def _render_context(context: Mapping[str, Any], render: _Renderer) -> None:
    """The context variables in order: later ones may use earlier ones."""
    for key, raw in context.items():
        value = render.value(raw, f"context variable {key!r}")
        # rattler-build keeps `version: 1.10` as written, like conda-build: numbers stay text.
        if isinstance(value, str):
            render.scope[str(key)] = str(value)
        else:
            render.scope[str(key)] = yamlio.plain(value, yamlio.Budget(f"context variable {key!r}"))


def _conditions(node: Any, budget: yamlio.Budget) -> Iterator[str]:
    """Every `if:` condition of the source tree."""
    budget.spend()
    if isinstance(node, list):
        for item in node:
            yield from _conditions(item, budget)
    elif isinstance(node, dict) and "if" in node:
        yield str(node["if"]).strip()
        yield from _conditions(node.get("then"), budget)
        yield from _conditions(node.get("else"), budget)


def _identity(data: Mapping[str, Any], render: _Renderer) -> tuple[str, str]:
    name = version = None
    for section in ("package", "recipe"):
        block = data.get(section)
        if isinstance(block, dict):
            name = name or render.text(block.get("name"), "the package name")
            version = version or render.text(block.get("version"), "the version")
    if not name:
        raise FormatError("no package name (package: name: or recipe: name:)")
    if not version:
        raise FormatError("no version (package: version: or recipe: version:)")
    return name, version


def _update_check(data: Mapping[str, Any], render: _Renderer) -> dict[str, Any]:
    extra = data.get("extra")
    options = extra.get("update_check") if isinstance(extra, dict) else None
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise FormatError("extra: update_check: must be a mapping")
    options = yamlio.plain(options, yamlio.Budget("extra: update_check:"))
    result: dict[str, Any] = _render_all(options, render)
    return result


def _render_all(value: Any, render: _Renderer) -> Any:
    """Options may use context variables too (`url: https://example.org/${{ name }}/`)."""
    if isinstance(value, dict):
        return {key: _render_all(item, render) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_all(item, render) for item in value]
    return render.value(value, "extra: update_check:")


def _collect(
    node: Any, selector: str | None, render: _Renderer, out: list[SourceSite], budget: yamlio.Budget
) -> None:
    budget.spend()
    if node is None:
        return
    if isinstance(node, list):
        for item in node:
            _collect(item, selector, render, out, budget)
        return
    if not isinstance(node, dict):
        raise FormatError("source: must be a mapping or a list of mappings")
    if "if" in node:
        condition = str(node["if"]).strip()
        if render.holds(condition):
            _collect(node.get("then"), _both(selector, condition), render, out, budget)
        else:
            _collect(node.get("else"), _both(selector, f"not ({condition})"), render, out, budget)
        return
    site = _site(node, selector, render)
    if site is not None:
        out.append(site)


def _both(outer: str | None, inner: str) -> str:
    return inner if outer is None else f"({outer}) and ({inner})"


def _line(node: Any, key: str | int) -> int:
    """The 0-based line of a value in ruamel's round-trip containers."""
    position = node.lc.item(key) if isinstance(key, int) else node.lc.value(key)
    return int(position[0])


def _site(entry: Any, selector: str | None, render: _Renderer) -> SourceSite | None:
    git = "url" not in entry and "git" in entry
    key = "git" if git else "url"
    if key not in entry:
        return None  # a `path:` source: nothing the bot downloads
    raw = entry[key]
    line = _line(entry, key)
    mirrors: tuple[str, ...] = ()
    if isinstance(raw, list):
        if not raw:
            raise FormatError("a source url list is empty")
        mirrors = tuple(render.text(item, "a source url") or "" for item in raw)
        line, raw = _line(raw, 0), raw[0]
    url = render.text(raw, "a source url")
    if not url:
        raise FormatError("a source url is not a string")
    checksums = []
    for kind in CHECKSUMS:
        raw_checksum = entry.get(kind)
        if raw_checksum is not None and not isinstance(raw_checksum, str):
            raise FormatError(f"the {kind} of {url} is not a string")
        value = render.text(raw_checksum, kind)
        if value:
            checksums.append((kind, value))
    rev = render.text(entry.get("tag") or entry.get("rev"), "the git tag") if git else None
    file_name = render.text(entry.get("file_name"), "the file name")
    return SourceSite(url, selector, tuple(checksums), line, git, rev, mirrors, file_name)


def definitions(text_lines: list[str], name: str) -> list[lines.Value]:
    """Where the context variable `name` is written (its value on the `context:` block line)."""
    found = []
    for index in lines.block_children(text_lines, "context", name):
        value = lines.value_of(text_lines, index)
        if value is not None:
            found.append(value)
    return found
