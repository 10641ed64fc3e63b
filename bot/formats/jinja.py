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
"""

from __future__ import annotations

import datetime
import functools
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from jinja2 import Template, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from bot.formats.base import FormatError

Dialect = Literal["conda-v0", "conda-v1"]

_MAX_OUTPUT = 2 * 1024 * 1024  # characters a recipe may render to (twice the file size cap)
_MAX_SIZE = 100_000  # largest repeat count / exponent / numeric call argument

_MARKER = re.compile(r"UNDEFINED-JINJA-VARIABLE-([\w.]*)-")


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


def make_environment(dialect: Dialect) -> SandboxedEnvironment:
    """A fresh sandbox for one recipe: conda-build's `{{ }}`, or rattler-build's `${{ }}`."""
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
            environ={},
            os={
                "environ": {},
                "sep": "/",
                "pathsep": ":",
                "path": {"join": posixpath.join, "basename": posixpath.basename},
            },
            load_setup_py_data=lambda *a, **k: _NoData(environment, "load_setup_py_data"),
            load_file_data=lambda *a, **k: _NoData(environment, "load_file_data"),
            load_file_regex=lambda *a, **k: None,
            datetime={
                "datetime": datetime.datetime,
                "date": datetime.date,
                "timedelta": datetime.timedelta,
            },
        )
    else:
        stubs.update(env=_Env(), match=lambda *a, **k: False)
    return stubs


def compile_template(environment: SandboxedEnvironment, source: str) -> Template:
    """Compile a template once, to render it for several platforms."""
    try:
        return environment.from_string(source)
    except Exception as error:
        raise FormatError(describe(error)) from error


def render_template(template: Template, variables: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Render a compiled template; returns the text and its top-level `{% set %}` variables."""
    try:
        context = template.new_context(dict(variables))
        pieces = []
        size = 0
        for piece in template.root_render_func(context):
            size += len(piece)
            if size > _MAX_OUTPUT:
                raise FormatError("the template renders to more than 2 MiB")
            pieces.append(piece)
        return "".join(pieces), context.get_exported()
    except FormatError:
        raise
    except Exception as error:
        raise FormatError(describe(error)) from error


def render(
    environment: SandboxedEnvironment, source: str, variables: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Render a whole template; returns the text and its top-level `{% set %}` variables."""
    return render_template(compile_template(environment, source), variables)


def render_string(
    environment: SandboxedEnvironment, source: str, variables: Mapping[str, Any]
) -> str:
    """Render one small template (a line, a YAML value) with the given variables."""
    return render(environment, source, variables)[0]


def compile_expression(environment: SandboxedEnvironment, expression: str) -> Callable[..., Any]:
    """Compile a selector or `if:` expression, e.g. `linux and py>=38`."""
    try:
        return environment.compile_expression(expression, undefined_to_none=False)
    except Exception as error:
        raise FormatError(describe(error)) from error


def describe(error: BaseException) -> str:
    """A message a recipe author understands, for anything a template can raise."""
    # A template is untrusted input: it can make Python raise anything (TypeError from `+` on
    # mixed types, ZeroDivisionError, ...). Those are errors in the recipe, not bugs of ours.
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


def undefined_in(value: str) -> str | None:
    """The name of an undefined variable `value` was rendered with, if any."""
    match = _MARKER.search(value)
    return match.group(1) if match else None
