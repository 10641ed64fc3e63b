"""The sandboxed Jinja that renders recipes: a recipe can never run code in the bot.

Recipes are templates written by anyone who can open a merge request, so they render in
`jinja2.sandbox.SandboxedEnvironment` (no dunder or private attributes, no unsafe callables),
with no loader (so no `import`/`include`), with size caps on the operations that can allocate
without bound, and with stubs for conda-build's globals (`compiler()`, `environ`, ...) so real
recipes render without conda-build.

Undefined variables render as a marker instead of failing at once: real recipes use variables
that only conda-build's variant config defines (`{{ mpi }}`, `{{ blas_impl }}`) in parts we never
read. The callers check the values that matter (name, version, URLs, hashes) for the marker and
report the undefined name, which is StrictUndefined where it counts.

Compiling was half of what reading a recipe cost, so each dialect has one `Sandbox`, shared by
every recipe read in the process, that compiles each distinct text once (bounded LRUs): the
values and selectors recipes share (`{{ compiler('c') }}`, `{{ name[0] }}`, `# [unix]`) compile
once per process. Nothing recipe-specific is kept there: a template is compiled from its text
alone, each render gets a fresh context, and the conda-build globals a recipe could change
(`environ`, `os`, `datetime`: plain dicts) are made fresh for each recipe
(`Sandbox.recipe_globals`) instead of living on the shared environment.
"""

from __future__ import annotations

import datetime
import functools
import keyword
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, TypeVar

from jinja2 import Template, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from bot.formats.base import FormatError

Dialect = Literal["conda-v0", "conda-v1"]

MAX_OUTPUT = 2 * 1024 * 1024  # characters a recipe may render to (twice the file size cap)
TOO_LARGE = "the template renders to more than 2 MiB"
_MAX_SIZE = 100_000  # largest repeat count / exponent / numeric call argument

_MARKER = re.compile(r"UNDEFINED-JINJA-VARIABLE-([\w.]*)-")

# Compiled texts kept per dialect: `{{ }}` values, lines and selectors (a few KB each; a
# recipes repository has some hundreds), and whole recipe texts.
_KEPT = 1024
_TEXTS_KEPT = 64
_T = TypeVar("_T")


class _MarkedUndefined(Undefined):
    """Renders as a marker the callers look for; anything more than printing it still fails."""

    __slots__ = ()

    def __str__(self) -> str:
        if self._undefined_exception is not UndefinedError:
            # The sandbox reports forbidden attribute access through an undefined value that
            # carries SecurityError: printing it must raise, not print a marker.
            self._fail_with_undefined_error()
        name = re.sub(r"[^\w.]", "_", self._undefined_name or "?")
        return f"UNDEFINED-JINJA-VARIABLE-{name}-"


class _RecipeSandbox(SandboxedEnvironment):
    """The stock sandbox, plus caps on the operations that allocate without bound."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 1000:
            raise SecurityError("exponent too large")
        if operator == "*" and (_too_many(left, right) or _too_many(right, left)):
            raise SecurityError("repetition too large")
        if operator == "%" and isinstance(left, str) and _HUGE_WIDTH.search(left):
            raise SecurityError("format width too large")
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # The sandbox hands out `str.format` here, at attribute access, not through `call`.
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _HUGE_WIDTH.search(value.__self__):
            raise SecurityError("format width too large")
        return wrapped

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        if getattr(obj, "__self__", None).__class__ is str and obj.__name__ in _SIZED_METHODS:
            _check_sizes(obj.__self__, args, kwargs)
        return super().call(context, obj, *args, **kwargs)


# `'x'.center(10**9)`, `'{:1000000000}'.format(1)`: str methods whose arguments size the result.
_SIZED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "format"})
_SIZED_FILTERS = frozenset({"center", "indent", "format"})
_HUGE_WIDTH = re.compile(r"[%:][-+ #0<>=^,_.]*\d{6,}")


def _too_many(value: Any, count: Any) -> bool:
    return isinstance(value, str | list | tuple) and isinstance(count, int) and count > _MAX_SIZE


def _check_sizes(subject: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if isinstance(subject, str) and _HUGE_WIDTH.search(subject):
        raise SecurityError("format width too large")
    if any(isinstance(arg, int) and abs(arg) > _MAX_SIZE for arg in (*args, *kwargs.values())):
        raise SecurityError("size argument too large")


def _capped_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    """Filters bypass `call`: cap the ones whose arguments size the result (`center(10**9)`)."""

    @functools.wraps(function)  # keeps jinja's pass_context/pass_environment marks
    def capped(*args: Any, **kwargs: Any) -> Any:
        values = [arg for arg in args if isinstance(arg, str | int)]
        if values:
            _check_sizes(values[0], tuple(values[1:]), kwargs)
        return function(*args, **kwargs)

    return capped


class _NoData(Mapping[str, Any]):
    """What `load_setup_py_data()` & co. return: every key is undefined, named after its origin."""

    def __init__(self, environment: SandboxedEnvironment, origin: str) -> None:
        self._environment = environment
        self._origin = origin

    def __getitem__(self, key: str) -> Any:
        return self._environment.undefined(name=f"{self._origin}.{key}")

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if default is None else default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class _Env:
    """rattler-build's `env` object: `env.get("NAME", default=...)`, `env.exists("NAME")`."""

    def get(self, name: str, default: Any = None) -> Any:
        return "" if default is None else default

    def exists(self, name: str) -> bool:
        return False


def _name_of(kind: str) -> Callable[..., str]:
    def stub(name: Any = "", *args: Any, **kwargs: Any) -> str:
        return f"{kind}_{name}" if kind else str(name)

    return stub


def _split(value: str, sep: str | None = None, maxsplit: int = -1) -> list[str]:
    return value.split(sep, maxsplit)


def _version_to_buildstring(value: Any) -> str:
    return "".join(str(value).split(".")[:2])


class Sandbox:
    """One dialect's sandboxed environment and its compiled templates, shared by all recipes."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.environment = make_environment(dialect)
        # Failures are remembered too (as their message): `_Locator` tries lines that are
        # part of a multi-line statement and cannot compile alone on every read.
        self._templates = functools.lru_cache(maxsize=_KEPT)(self._compile_template)
        self._expressions = functools.lru_cache(maxsize=_KEPT)(self._compile_expression)
        # Whole recipes (those that do not render line by line): a text is seldom read twice,
        # but its platforms often select the same lines.
        self._texts = functools.lru_cache(maxsize=_TEXTS_KEPT)(self._compile_template)

    def template(self, source: str) -> Template:
        """The compiled template of a value or line; FormatError when it does not compile."""
        return _compiled(self._templates(source))

    def text_template(self, source: str) -> Template:
        """The compiled template of a whole recipe text; FormatError when it does not compile."""
        return _compiled(self._texts(source))

    def expression(self, source: str) -> Callable[..., Any]:
        """A compiled selector or `if:` expression, e.g. `linux and py>=38`."""
        return _compiled(self._expressions(source))

    def recipe_globals(self) -> dict[str, Any]:
        """The globals a template can change (`{% do environ.update(...) %}`), fresh per recipe.

        Pass them with the variables of every render and selector of one recipe, so that recipe
        sees its own changes, as it did with an environment of its own, and no other recipe does.
        """
        if self.dialect != "conda-v0":
            return {}
        return {
            "environ": {},
            "os": {
                "environ": {},
                "sep": "/",
                "pathsep": ":",
                "path": {"join": posixpath.join, "basename": posixpath.basename},
            },
            "datetime": {
                "datetime": datetime.datetime,
                "date": datetime.date,
                "timedelta": datetime.timedelta,
            },
        }

    def _compile_template(self, source: str) -> Template | str:
        try:
            return self.environment.from_string(source)
        except Exception as error:
            return describe(error)

    def _compile_expression(self, source: str) -> Callable[..., Any] | str:
        name = source.strip()
        if _NAME.fullmatch(name) and not keyword.iskeyword(name) and name.lower() not in _LITERALS:
            return _Lookup(self.environment, name)  # `# [win]`: most selectors are one name
        try:
            return self.environment.compile_expression(source, undefined_to_none=False)
        except Exception as error:
            return describe(error)


def _compiled(compiled: _T | str) -> _T:
    if isinstance(compiled, str):
        raise FormatError(compiled)
    return compiled


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names Jinja reads as literals, or gives a meaning of its own (`self` is the template).
_LITERALS = frozenset({"true", "false", "none", "self", "loop", "caller", "varargs", "kwargs"})


class _Lookup:
    """A selector that is one name: what Jinja's compiled expression returns, without a context."""

    def __init__(self, environment: SandboxedEnvironment, name: str) -> None:
        self._environment = environment
        self._name = name

    def __call__(self, **variables: Any) -> Any:
        if self._name in variables:
            return variables[self._name]
        if self._name in self._environment.globals:
            return self._environment.globals[self._name]
        return self._environment.undefined(name=self._name)


@functools.cache
def sandbox(dialect: Dialect) -> Sandbox:
    """The process's shared sandbox for `dialect`."""
    return Sandbox(dialect)


def make_environment(dialect: Dialect) -> SandboxedEnvironment:
    """A sandbox for `dialect`: conda-build's `{{ }}`, or rattler-build's `${{ }}`.

    Its globals hold nothing a template can change: see `Sandbox.recipe_globals`.
    """
    if dialect == "conda-v0":
        environment = _RecipeSandbox(
            undefined=_MarkedUndefined,
            keep_trailing_newline=True,
            autoescape=False,
            extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
        )
    else:
        # rattler-build has `${{ }}` expressions only; `{%` and `{#` are ordinary text there.
        environment = _RecipeSandbox(
            undefined=_MarkedUndefined,
            keep_trailing_newline=True,
            autoescape=False,
            variable_start_string="${{",
            variable_end_string="}}",
            block_start_string="${%",
            block_end_string="%}",
            comment_start_string="${#",
            comment_end_string="#}",
        )
    for name in _SIZED_FILTERS:
        environment.filters[name] = _capped_filter(environment.filters[name])
    environment.filters["split"] = _split
    environment.filters["version_to_buildstring"] = _version_to_buildstring
    environment.globals.update(_stubs(environment, dialect))
    return environment


def _stubs(environment: SandboxedEnvironment, dialect: Dialect) -> dict[str, Any]:
    """conda-build's (or rattler-build's) template globals, as harmless stand-ins."""
    stubs: dict[str, Any] = {
        "compiler": _name_of("compiler"),
        "stdlib": _name_of("stdlib"),
        "cdt": _name_of("cdt"),
        "pin_subpackage": _name_of(""),
        "pin_compatible": _name_of(""),
        "PYTHON": "python",
        "PY_VER": "3.11",
        "R": "R",
        "npy": 126,
        "NPY_VER": "1.26",
        "cran_mirror": "https://cran.r-project.org",
    }
    if dialect == "conda-v0":
        stubs.update(
            load_setup_py_data=lambda *a, **k: _NoData(environment, "load_setup_py_data"),
            load_file_data=lambda *a, **k: _NoData(environment, "load_file_data"),
            load_file_regex=lambda *a, **k: None,
        )
    else:
        stubs.update(env=_Env(), match=lambda *a, **k: False)
    return stubs


def render_template(template: Template, variables: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Render a compiled template; returns the text and its top-level `{% set %}` variables."""
    context = template.new_context(dict(variables))
    return render_context(template, context), context.get_exported()


def render_context(template: Template, context: Context, size: int = 0) -> str:
    """Render a compiled template into `context` (whose `vars` then hold what it `set`).

    `size`: what the recipe rendered to before this template, for the cap on the whole recipe.
    """
    try:
        pieces = []
        for piece in template.root_render_func(context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise FormatError(TOO_LARGE)
            pieces.append(piece)
        return "".join(pieces)
    except FormatError:
        raise
    except Exception as error:
        raise FormatError(describe(error)) from error


def render_string(sandbox: Sandbox, source: str, variables: Mapping[str, Any]) -> str:
    """Render one small template (a line, a YAML value) with the given variables."""
    return render_template(sandbox.template(source), variables)[0]


def describe(error: BaseException) -> str:
    """A message a recipe author understands, for anything a template can raise."""
    # A template is untrusted input: it can make Python raise anything (TypeError from `+` on
    # mixed types, ZeroDivisionError, ...). Those are errors in the recipe, not bugs of ours.
    if isinstance(error, RecursionError):
        return "the template nests too deeply"
    if isinstance(error, SecurityError):
        return f"the recipe does something the template sandbox forbids: {error}"
    if isinstance(error, TemplateSyntaxError):
        return f"Jinja syntax error on line {error.lineno}: {error.message}"
    if isinstance(error, UndefinedError):
        return f"undefined Jinja variable: {error.message}"
    if isinstance(error, TypeError) and "no loader" in str(error):
        return "the recipe imports or includes another template, which recipes may not do"
    if isinstance(error, TemplateError):
        return f"Jinja error: {error.message}"
    return f"Jinja error: {type(error).__name__}: {error}"


def names_in(dialect: Dialect, text: str) -> set[str]:
    """The variables a template text reads (not filters, attributes or its own loop names)."""
    try:
        tree = sandbox(dialect).environment.parse(text)
    except Exception:  # not a template on its own: it reads nothing we can follow
        return set()
    return {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"}


def has_markup(text: str) -> bool:
    """Whether Jinja would change `text` (conda-v0 syntax): plain text renders as itself."""
    # Jinja turns "\r" into "\n" in plain text; recipes are read with "\n" line endings.
    return "{{" in text or "{%" in text or "{#" in text or "\r" in text


def undefined_in(value: str) -> str | None:
    """The name of an undefined variable `value` was rendered with, if any."""
    match = _MARKER.search(value)
    return match.group(1) if match else None
