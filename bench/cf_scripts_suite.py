"""How many of the conda-forge autotick bot's own version-migration cases `bot.rewrite` gets right.

The cases are regro/cf-scripts' tests/test_yaml (meta.yaml) and tests/test_v1_yaml (recipe.yaml):
version_<case>.yaml is a recipe before the update, version_<case>_correct.yaml what the upstream
bot writes for the new version. The (case, version) pairs below are those of test_version_up and
test_version_up_v1 in upstream's tests/test_version_migrator.py, the xfail-marked ones included.
Nothing from upstream is committed here: the script reads an extracted copy of those folders.

There is no network. Each case gets an offline `sha256_of` built from its _correct file, without
our reader (which is what is measured): the file's Jinja is rendered here for a few platforms and
for the variant values its selectors compare against, and each URL of `source:` is paired with the
checksum of its entry. Any other URL raises OSError("404 not found"). Where the correct file has an
md5 or sha1, `sha256_of` answers a stand-in sha256, and that is what the output must then hold.

One line per case:

    PASS     the checksums equal the correct file's (as a multiset), the version is the correct
             file's, the build number is 0 where the correct one is, the rendered URLs agree
    REFUSED  bot.RewriteRefused, with its reason
    WRONG    text came back but differs in one of those ways (listed)
    STALE    text came back still holding a checksum of the old recipe that the correct one does
             not have: the worst outcome (new version, old sources)
    ERROR    any other exception, with its type
    SKIP     no _correct (or no input) file

Run from the repository root, with the folder holding test_yaml/ and test_v1_yaml/:

    python bench/cf_scripts_suite.py /tmp/cfs/tests
    python bench/cf_scripts_suite.py /tmp/cfs/tests --json cf_scripts.json

Exit status 1 when a case is STALE or ERROR.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import itertools
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined
from jinja2.sandbox import SandboxedEnvironment
from ruamel.yaml import YAML

if not __package__:  # `python bench/cf_scripts_suite.py` from a checkout: find `bot`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bot

DEFAULT_ROOT = Path("/tmp/cfs/tests")

# Upstream's parametrize lists (tests/test_version_migrator.py), in their order.
V0_CASES: tuple[tuple[str, str], ...] = (
    ("mpich", "4.1.1"),
    ("mpichv0", "4.1.0"),
    ("dash_extensions", "0.1.11"),
    ("numpy", "1.24.1"),
    ("python", "3.9.5"),
    ("faiss-split", "1.7.3"),
    ("docker-py", "6.0.1"),
    ("allennlp", "2.10.1"),
    ("dbt", "1.2.0"),
    ("jinja2expr", "1.1.1"),
    ("weird", "1.6.0"),
    ("compress", "0.9"),
    ("onesrc", "2.4.1"),
    ("multisrc", "2.4.1"),
    ("jinja2sha", "2.4.1"),
    ("r", "1.3_2"),
    ("multisrclist", "2.25.0"),
    ("jinja2selsha", "4.7.2"),
    ("jinja2nameshasel", "4.7.2"),
    ("shaquotes", "0.6.0"),
    ("cdiff", "0.15.0"),
    ("selshaurl", "3.7.0"),
    ("buildbumpmpi", "7.8.0"),
    ("multisrclistnoup", "3.11.3"),
    ("pypiurl", "0.7.1"),
    ("githuburl", "1.1.0"),
    ("ccacheerr", "3.7.7"),
    ("cranmirror", "0.3.3"),
    ("sha1", "5.0.1"),
    ("icu", "68.1"),
    ("libevent", "2.1.12"),
    ("boost", "1.74.0"),
    ("boostcpp", "1.74.0"),
    ("event_stream", "1.6.3"),
    ("21cmfast", "3.4.0"),
    ("pyrsmq", "0.6.0"),
    ("quart_trio", "0.11.1"),
    ("reproc", "14.2.5"),
    ("riskfolio_lib", "6.3.1"),
    ("algotree", "0.7.3"),
    ("py_entitymatching", "0.4.2"),
    ("py_entitymatching_name", "0.4.2"),
    ("polars_mixed_selectors", "1.1.0"),
    ("polars_name_selectors", "1.1.0"),
    ("polars_variant_selectors", "1.1.0"),
    ("polars_by_variant", "1.20.0"),
)
V1_CASES: tuple[tuple[str, str], ...] = (
    ("pypi_url", "0.7.1"),
    ("jolt", "5.2.0"),
    ("build_number_via_context", "0.20.1"),
    ("build_as_expr", "3.11"),
    ("conditional_sources", "3.24.11"),
    ("cranmirror", "0.3.3"),
    ("event_stream", "1.6.3"),
    ("selshaurl", "3.7.0"),
    ("libssh", "0.11.1"),
    ("polars", "1.20.0"),
    ("svcore", "0.2025.40"),
)
# Marked xfail upstream: variant-dependent sources (v0 polars), flaky upstream URLs (libssh).
XFAIL_UPSTREAM = frozenset(
    {
        ("v0", "polars_mixed_selectors"),
        ("v0", "polars_name_selectors"),
        ("v0", "polars_variant_selectors"),
        ("v1", "libssh"),
    }
)
# dialect -> (folder, the file name given to bot.rewrite)
DIALECTS = {"v0": ("test_yaml", "meta.yaml"), "v1": ("test_v1_yaml", "recipe.yaml")}
STATUSES = ("PASS", "REFUSED", "WRONG", "STALE", "ERROR", "SKIP")

# Rendering: the platforms each correct file is rendered for, and a cap on variant combinations.
SUBDIRS = ("linux-64", "linux-aarch64", "linux-ppc64le", "osx-64", "osx-arm64", "win-64")
PYTHONS = (311, 27)
MAX_VARIANT_COMBOS = 64
KINDS = ("sha256", "sha1", "md5")

_DIGEST = r"([0-9A-Fa-f]{64}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32})(?![0-9A-Za-z])"
_CHECKSUM_KEY = re.compile(
    rf"^[ \t]*(?:-[ \t]+)?[\w-]*(?:sha|md5)[\w-]*[ \t]*:[ \t]*[\"']?{_DIGEST}", re.M | re.I
)
_CHECKSUM_SET = re.compile(rf"\{{%-?\s*set\s+\w+\s*=\s*[\"']{_DIGEST}[\"']")
_SET_VERSION = re.compile(r"\{%-?\s*set\s+version\s*=\s*[\"'](?P<v>[^\"']*)[\"']")
_KEY_VERSION = re.compile(r"^[ \t]+version:[ \t]*[\"']?(?P<v>[^\"'\s#]+)[\"']?[ \t]*(#.*)?$", re.M)
_SET_BUILD = re.compile(
    r"\{%-?\s*set\s+(?:build|build_number|buildnumber|build_num|number)\s*=\s*[\"']?(?P<n>\d+)"
    r"[\"']?\s*-?%\}"
)
_NUMBER_KEY = re.compile(r"^[ \t]+number:[ \t]*[\"']?(?P<n>\d+)[\"']?[ \t]*(#.*)?$", re.M)
_CONTEXT_BUILD = re.compile(
    r"^[ \t]+(?:build|build_number)[ \t]*:[ \t]*[\"']?(?P<n>\d+)[\"']?[ \t]*(#.*)?$", re.M
)
_SELECTOR = re.compile(r"#\s*\[(?P<expr>[^\[\]]+)\]\s*$")
_IF_BLOCK = re.compile(r"\{%-?\s*(?:el)?if\s+(?P<expr>.+?)\s*-?%\}")
_IF_KEY = re.compile(r"^\s*(?:-\s+)?if:\s*(?P<expr>.+?)\s*$")
_EQUALS = re.compile(r"\b(?P<name>[A-Za-z_]\w*)\s*==\s*[\"'](?P<value>[^\"']+)[\"']")
_SET_NAME = re.compile(r"\{%-?\s*set\s+(?P<name>\w+)\s*=")
_FOR_NAME = re.compile(r"\{%-?\s*for\s+(?P<name>\w+)")
_CONTEXT_KEY = re.compile(r"^[ \t]+(?P<name>\w+)[ \t]*:", re.M)
_TOP_KEY = re.compile(r"[A-Za-z_]")


@dataclass(frozen=True)
class Case:
    dialect: str  # "v0" (meta.yaml) or "v1" (recipe.yaml)
    name: str
    version: str

    @property
    def xfail_upstream(self) -> bool:
        return (self.dialect, self.name) in XFAIL_UPSTREAM


@dataclass(frozen=True)
class Known:
    """The checksum the correct file gives a URL."""

    digest: str
    kind: str  # sha256, sha1 or md5, as the correct file writes it

    @property
    def answer(self) -> str:
        """What `sha256_of` returns: the digest, or a stand-in sha256 for an md5 or sha1."""
        if self.kind == "sha256" and len(self.digest) == 64:
            return self.digest
        return hashlib.sha256(f"stand-in for {self.kind} {self.digest}".encode()).hexdigest()


@dataclass
class Rendering:
    known: dict[str, Known] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    dialect: str
    case: str
    version: str
    status: str = "SKIP"
    detail: str = ""
    xfail_upstream: bool = False
    problems: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    known_urls: dict[str, str] = field(default_factory=dict)
    unrendered: list[str] = field(default_factory=list)
    render_errors: list[str] = field(default_factory=list)
    stand_ins: list[str] = field(default_factory=list)
    variants: dict[str, list[str]] = field(default_factory=dict)
    variants_passed: bool = False
    asked: list[str] = field(default_factory=list)
    unknown_asked: list[str] = field(default_factory=list)


class OfflineHasher:
    """`sha256_of` for one case: the correct file's checksums, 404 for any other URL."""

    def __init__(self, known: Mapping[str, Known]) -> None:
        self.known = known
        self.asked: list[str] = []

    def __call__(self, url: str) -> str:
        self.asked.append(url)
        hit = self.known.get(url)
        if hit is None:
            raise OSError(f"404 not found: {url}")
        return hit.answer


# --- rendering the correct file ----------------------------------------------------------------


class _Lenient(ChainableUndefined):
    """What the recipe uses but this script does not define (`compiler('c')`, `CI`): inert."""

    def _inert(self, *args: Any, **kwargs: Any) -> Any:
        return self

    def _false(self, *args: Any, **kwargs: Any) -> Any:
        return False

    __call__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _inert
    __mod__ = __rmod__ = _inert
    __lt__ = __le__ = __gt__ = __ge__ = _false


def _split(value: object, separator: str | None = None) -> list[str]:
    return str(value).split(separator)


def _buildstring(value: object) -> str:
    return "".join(str(value).split(".")[:2])


def jinja_environment(dialect: str) -> SandboxedEnvironment:
    delimiters = {"variable_start_string": "${{", "variable_end_string": "}}"}
    env = SandboxedEnvironment(
        undefined=_Lenient, keep_trailing_newline=True, **(delimiters if dialect == "v1" else {})
    )
    env.filters["split"] = _split
    env.filters["version_to_buildstring"] = _buildstring
    return env


def platform_namespace(subdir: str, py: int) -> dict[str, object]:
    """conda-build's selector names for one platform and Python, and a few context defaults."""
    system, arch = subdir.split("-")
    namespace: dict[str, object] = {
        "linux": system == "linux",
        "osx": system == "osx",
        "win": system == "win",
        "unix": system != "win",
        "x86_64": arch == "64",
        "x86": arch == "64",
        "aarch64": arch == "aarch64",
        "arm64": arch == "arm64",
        "ppc64le": arch == "ppc64le",
        "linux64": subdir == "linux-64",
        "osx64": subdir == "osx-64",
        "win64": subdir == "win-64",
        "win32": False,
        "target_platform": subdir,
        "build_platform": subdir,
        "python_impl": "cpython",
        "vc": 14,
        "py": py,
        "py2k": py < 30,
        "py3k": py >= 30,
        "python": f"{str(py)[0]}.{str(py)[1:]}",
        "cuda_compiler_version": "None",
        "CI": "azure",
        "cran_mirror": "https://cran.r-project.org",
        "os": {"environ": {}},
        "environ": {},
    }
    namespace.update({f"py{v}": py == v for v in (27, 35, 36, 37, 38, 39, 310, 311, 312, 313)})
    return namespace


PLATFORM_NAMES = frozenset(platform_namespace("linux-64", 311))


def variant_combos(variants: Mapping[str, list[str]]) -> list[dict[str, str]]:
    """Every combination of variant values, each variant also left unset (which reaches a
    recipe's `{% else %}`, as in polars_name_selectors). Past MAX_VARIANT_COMBOS: the first
    value of each, and that with one variant changed at a time."""
    options = {name: [*values, None] for name, values in variants.items()}
    if math.prod(len(values) for values in options.values()) <= MAX_VARIANT_COMBOS:
        combos = [
            dict(zip(options, combo, strict=True)) for combo in itertools.product(*options.values())
        ]
    else:
        base: dict[str, str | None] = {name: values[0] for name, values in variants.items()}
        combos = [base] + [{**base, name: v} for name, values in options.items() for v in values]
    return [{name: v for name, v in combo.items() if v is not None} for combo in combos]


def scopes(variants: Mapping[str, list[str]]) -> Iterator[dict[str, object]]:
    """Every platform, for each combination of variant values."""
    for chosen in variant_combos(variants):
        for subdir, py in itertools.product(SUBDIRS, PYTHONS):
            yield {**chosen, **platform_namespace(subdir, py)}


def load_yaml(text: str) -> Any:
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = True
    return yaml.load(text)


def top_block(text: str, key: str) -> str:
    """The lines under a top-level `key:`, up to the next top-level key."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if re.match(rf"{key}:\s*(#.*)?$", line):
            block = [key + ":"]
            for following in lines[index + 1 :]:
                if _TOP_KEY.match(following):
                    break
                block.append(following)
            return "\n".join(block)
    return ""


def jinja_selectors(text: str) -> str:
    """Each `line  # [expr]` as `{% if expr %}line{% endif %}`, so Jinja judges the selectors
    with the recipe's own `{% set %}` names in scope (`# [name == "polars"]`)."""
    out = []
    for line in text.splitlines():
        match = _SELECTOR.search(line)
        if match is None or line.lstrip().startswith("#"):
            out.append(line + "\n")
        else:
            out.append(f"{{% if {match['expr']} %}}{line[: match.start()].rstrip()}\n{{% endif %}}")
    return "".join(out)


def source_entries(node: object, test: Callable[[str], bool]) -> Iterator[Mapping[str, Any]]:
    """The source entries (mappings) of a `source:` value; v1 `if:` nodes by `test`."""
    if isinstance(node, list):
        for item in node:
            yield from source_entries(item, test)
    elif isinstance(node, dict):
        if "if" in node:
            branch = node.get("then") if test(str(node["if"])) else node.get("else")
            yield from source_entries(branch, test)
        else:
            yield node


def entry_pairs(
    entry: Mapping[str, Any], render: Callable[[object], str]
) -> Iterator[tuple[str, Known]]:
    """(URL, checksum) for each URL of one source entry; mirrors share the entry's checksum."""
    urls = entry.get("url")
    if urls is None:
        return
    for kind in KINDS:
        if entry.get(kind) is not None:
            known = Known(render(entry[kind]).strip().strip("\"'").lower(), kind)
            for url in urls if isinstance(urls, list) else [urls]:
                yield render(url).strip(), known
            return


PairsOf = Callable[[dict[str, object]], Iterator[tuple[str, Known]]]


def v0_pairs(text: str) -> PairsOf:
    env = jinja_environment("v0")
    template = env.from_string(jinja_selectors(text))

    def pairs(scope: dict[str, object]) -> Iterator[tuple[str, Known]]:
        block = top_block(template.render(scope), "source")
        node = load_yaml(block)["source"] if block else None
        for entry in source_entries(node, lambda expr: False):
            yield from entry_pairs(entry, str)

    return pairs


def v1_pairs(text: str) -> PairsOf:
    env = jinja_environment("v1")
    data = load_yaml(text) or {}

    def pairs(scope: dict[str, object]) -> Iterator[tuple[str, Known]]:
        local = dict(scope)
        for key, value in (data.get("context") or {}).items():
            is_text = isinstance(value, str)
            local[str(key)] = env.from_string(value).render(local) if is_text else value

        def render(value: object) -> str:
            return env.from_string(str(value)).render(local)

        def test(expr: str) -> bool:
            return bool(env.compile_expression(expr)(**local))

        for entry in source_entries(data.get("source"), test):
            yield from entry_pairs(entry, render)

    return pairs


def render_urls(text: str, dialect: str, variants: Mapping[str, list[str]]) -> Rendering:
    """The URL -> checksum pairs of a recipe, over every platform and variant combination."""
    rendering = Rendering()
    try:
        pairs = v0_pairs(text) if dialect == "v0" else v1_pairs(text)
    except Exception as error:
        rendering.errors.append(f"{type(error).__name__}: {error}")
        return rendering
    for scope in scopes(variants):
        try:
            for url, known in pairs(scope):
                _add(rendering, url, known)
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            if message not in rendering.errors:
                rendering.errors.append(message)
    return rendering


def _add(rendering: Rendering, url: str, known: Known) -> None:
    had = rendering.known.setdefault(url, known)
    if had != known and url not in rendering.conflicts:
        rendering.conflicts.append(url)


# --- variants ----------------------------------------------------------------------------------


def selector_variants(text: str, dialect: str) -> dict[str, list[str]]:
    """Names compared to a string in selectors or conditions (`polars_variant == "x"`) that are
    neither conda-build's platform names nor the recipe's own variables, with those strings."""
    if dialect == "v0":
        bound = itertools.chain(_SET_NAME.finditer(text), _FOR_NAME.finditer(text))
        own = {match["name"] for match in bound}
    else:
        own = {match["name"] for match in _CONTEXT_KEY.finditer(top_block(text, "context"))}
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        for pattern in (_SELECTOR, _IF_BLOCK, _IF_KEY):
            match = pattern.search(line)
            for equal in _EQUALS.finditer(match["expr"] if match else ""):
                if equal["name"] not in PLATFORM_NAMES and equal["name"] not in own:
                    _merge(found, equal["name"], [equal["value"]])
    return found


def file_variants(path: Path) -> dict[str, list[str]]:
    """A case's conda_build_config (version_<case>_variants.yaml), scalar lists only."""
    if not path.is_file():
        return {}
    found: dict[str, list[str]] = {}
    for key, values in (load_yaml(path.read_text()) or {}).items():
        if key != "zip_keys" and isinstance(values, list):
            _merge(found, str(key), [str(v) for v in values if isinstance(v, str | int | float)])
    return found


def _merge(found: dict[str, list[str]], name: str, values: list[str]) -> None:
    have = found.setdefault(name, [])
    have.extend(value for value in values if value not in have)


def case_variants(case: Case, texts: list[str], variants_file: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for text in texts:
        for name, values in selector_variants(text, case.dialect).items():
            _merge(found, name, values)
    for name, values in file_variants(variants_file).items():
        _merge(found, name, values)
    return found


# --- reading the result, semantically ----------------------------------------------------------


def checksum_values(text: str) -> list[str]:
    """Digests written as a checksum key's value or as a `{% set x = "<hex>" %}`."""
    found = [m[1] for m in _CHECKSUM_KEY.finditer(text)] + [
        m[1] for m in _CHECKSUM_SET.finditer(text)
    ]
    return [value.lower() for value in found]


def versions_of(text: str) -> list[str]:
    found = [m["v"] for m in _SET_VERSION.finditer(text)]
    for block in (top_block(text, "context"), top_block(text, "package")):
        found = found or [m["v"] for m in _KEY_VERSION.finditer(block) if "{" not in m["v"]][:1]
    return found


def build_numbers(text: str) -> list[int]:
    found = itertools.chain(
        _SET_BUILD.finditer(text),
        _NUMBER_KEY.finditer(text),
        _CONTEXT_BUILD.finditer(top_block(text, "context")),
    )
    return [int(match["n"]) for match in found]


def stale_values(
    output: str, before: str, correct: str, pinned: frozenset[str] = frozenset()
) -> list[str]:
    """Old checksums (in the input, nowhere in the correct file) that the output still holds.

    `pinned` are the old checksums of sources whose URL is the same in the correct file: the
    upstream re-uploaded such a file (the correct file has its new hash), which a rewrite
    cannot know without downloading it; keeping them is not a stale hash of a moved source.
    """
    old = set(checksum_values(before)) - set(checksum_values(correct)) - pinned
    return sorted(v for v in old if v not in correct.lower() and v in output.lower())


def pinned_changed(before: str, dialect: str, variants: Mapping[str, list[str]],
                   correct: Rendering) -> frozenset[str]:  # fmt: skip
    """Old checksums of sources at a URL the correct file also has, with another checksum."""
    old = render_urls(before, dialect, variants).known
    return frozenset(
        known.digest
        for url, known in old.items()
        if url in correct.known and correct.known[url].digest != known.digest
    )


def checksum_problems(output: str, correct: str, known: Mapping[str, Known]) -> list[str]:
    # A correct md5/sha1 and its stand-in sha256 count as the same checksum.
    stand_in = {k.digest: k.answer for k in known.values()}
    expected = Counter(stand_in.get(v, v) for v in checksum_values(correct))
    got = Counter(stand_in.get(v, v) for v in checksum_values(output))
    missing = [f"missing checksum {v[:12]}…" for v in sorted((expected - got).elements())]
    return missing + [f"unexpected checksum {v[:12]}…" for v in sorted((got - expected).elements())]


def version_problems(output: str, correct: str, requested: str) -> list[str]:
    have, want = versions_of(output), versions_of(correct)
    if sorted(set(have)) == sorted(set(want)):
        return []
    note = "" if requested in want else f" (requested {requested})"
    return [f"version {'/'.join(have) or 'not found'}, correct {'/'.join(want)}{note}"]


def build_problems(output: str, correct: str) -> list[str]:
    want = build_numbers(correct)
    if not want or any(want):
        return []
    have = build_numbers(output)
    if have and not any(have):
        return []
    return [f"build number {have or 'not found'}, correct 0"]


def url_problems(mine: Rendering, correct: Rendering) -> list[str]:
    if not mine.known or not correct.known:
        return []
    problems = [f"URL not in the correct recipe: {u}" for u in mine.known if u not in correct.known]
    problems += [f"URL missing: {u}" for u in correct.known if u not in mine.known]
    for url, known in mine.known.items():
        if url in correct.known and known.answer != correct.known[url].answer:
            problems.append(f"checksum of {url} is {known.digest[:12]}…")
    return problems


# --- one case ----------------------------------------------------------------------------------


def accepts(function: Callable[..., object], name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def run_case(case: Case, root: Path, takes_variants: bool) -> Outcome:
    folder, filename = DIALECTS[case.dialect]
    base = root / folder
    before_path = base / f"version_{case.name}.yaml"
    correct_path = base / f"version_{case.name}_correct.yaml"
    outcome = Outcome(case.dialect, case.name, case.version, xfail_upstream=case.xfail_upstream)
    for path in (before_path, correct_path):
        if not path.is_file():
            outcome.detail = f"no {path.name}"
            return outcome
    before, correct = before_path.read_text(), correct_path.read_text()
    outcome.variants = case_variants(
        case, [before, correct], base / f"version_{case.name}_variants.yaml"
    )
    rendering = render_urls(correct, case.dialect, outcome.variants)
    _describe_rendering(outcome, rendering, correct)
    kwargs: dict[str, Any] = {"filename": filename}
    if takes_variants and outcome.variants:
        kwargs["variants"] = outcome.variants
        outcome.variants_passed = True
    hasher = OfflineHasher(rendering.known)
    try:
        output = bot.rewrite(before, case.version, hasher, **kwargs)
    except bot.RewriteRefused as error:
        outcome.status, outcome.detail = "REFUSED", str(error)
    except Exception as error:
        outcome.status, outcome.detail = "ERROR", f"{type(error).__name__}: {error}"
    else:
        _judge(outcome, case, output, before, correct, rendering)
    outcome.asked = hasher.asked
    outcome.unknown_asked = [url for url in hasher.asked if url not in rendering.known]
    return outcome


def _describe_rendering(outcome: Outcome, rendering: Rendering, correct: str) -> None:
    outcome.known_urls = {url: known.answer for url, known in rendering.known.items()}
    paired = {known.digest for known in rendering.known.values()}
    outcome.unrendered = sorted(set(checksum_values(correct)) - paired)
    outcome.render_errors = rendering.errors + [
        f"URL with two checksums: {url}" for url in rendering.conflicts
    ]
    outcome.stand_ins = sorted({k.kind for k in rendering.known.values() if k.answer != k.digest})


def _judge(
    outcome: Outcome, case: Case, output: str, before: str, correct: str, rendering: Rendering
) -> None:
    mine = render_urls(output, case.dialect, outcome.variants)
    outcome.problems = (
        checksum_problems(output, correct, rendering.known)
        + version_problems(output, correct, case.version)
        + build_problems(output, correct)
        + url_problems(mine, rendering)
    )
    pinned = pinned_changed(before, case.dialect, outcome.variants, rendering)
    outcome.stale = stale_values(output, before, correct, pinned)
    if pinned:
        outcome.problems.append(
            "a pinned source's file was re-uploaded upstream (the correct file has its new hash)"
        )
    if outcome.stale:
        outcome.status = "STALE"
        outcome.detail = "old checksum(s) kept: " + ", ".join(v[:12] + "…" for v in outcome.stale)
    elif outcome.problems:
        outcome.status, outcome.detail = "WRONG", "; ".join(outcome.problems)
    else:
        outcome.status = "PASS"


# --- report ------------------------------------------------------------------------------------


def describe(outcome: Outcome) -> str:
    line = f"{outcome.status:<8} {outcome.dialect} {outcome.case} {outcome.version}"
    if outcome.detail:
        line += f": {outcome.detail}"
    notes = []
    if outcome.xfail_upstream:
        notes.append("xfail upstream")
    if outcome.variants:
        shown = ", ".join(f"{k}={'|'.join(v)}" for k, v in outcome.variants.items())
        shown = shown if len(shown) <= 80 else shown[:79] + "…"
        notes.append(f"variants {'passed' if outcome.variants_passed else 'not passed'}: {shown}")
    if outcome.stand_ins:
        notes.append(f"correct file has {'/'.join(outcome.stand_ins)}: stand-in sha256 answered")
    if outcome.unrendered:
        cut = ", ".join(v[:12] + "…" for v in outcome.unrendered)
        notes.append(f"{len(outcome.unrendered)} correct checksum(s) with no rendered URL: {cut}")
    if outcome.render_errors:
        notes.append("render: " + "; ".join(outcome.render_errors))
    if outcome.unknown_asked and outcome.status != "PASS":
        notes.append(
            f"{len(outcome.unknown_asked)} unknown URL(s) asked (404), first: "
            f"{outcome.unknown_asked[0]}"
        )
    return line + "".join(f"\n         [{note}]" for note in notes)


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    counts = Counter(outcome.status for outcome in outcomes)
    return {status: counts.get(status, 0) for status in STATUSES}


def print_report(outcomes: list[Outcome], takes_variants: bool) -> None:
    print(f"bot.rewrite accepts variants=: {'yes' if takes_variants else 'no'}")
    for outcome in outcomes:
        print(describe(outcome))
    counts = summary(outcomes)
    stale = [outcome for outcome in outcomes if outcome.status == "STALE"]
    if stale:
        print("\n!!! STALE: the output still holds an old checksum (new version, old sources):")
        for outcome in stale:
            print(f"!!!   {outcome.dialect} {outcome.case}: {', '.join(outcome.stale)}")
    run = len(outcomes) - counts["SKIP"]
    print(
        f"\n{counts['PASS']} passed, {counts['REFUSED']} refused, {counts['WRONG']} wrong, "
        f"{counts['STALE']} stale, {counts['ERROR']} error of {run}"
    )
    if counts["SKIP"]:
        print(
            f"{counts['SKIP']} skipped (no _correct file): "
            + ", ".join(f"{o.dialect} {o.case}" for o in outcomes if o.status == "SKIP")
        )


def all_cases() -> list[Case]:
    return [Case("v0", name, version) for name, version in V0_CASES] + [
        Case("v1", name, version) for name, version in V1_CASES
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "root",
        nargs="?",
        type=Path,
        default=DEFAULT_ROOT,
        help=f"holds test_yaml/ and test_v1_yaml/ (default {DEFAULT_ROOT})",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write per-case results here")
    args = parser.parse_args(argv)
    for folder, _ in DIALECTS.values():
        if not (args.root / folder).is_dir():
            parser.error(f"{args.root / folder} is not a folder")
    takes_variants = accepts(bot.rewrite, "variants")
    outcomes = [run_case(case, args.root, takes_variants) for case in all_cases()]
    print_report(outcomes, takes_variants)
    if args.json:
        report = {
            "summary": summary(outcomes),
            "variants_accepted": takes_variants,
            "cases": [asdict(outcome) for outcome in outcomes],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    counts = summary(outcomes)
    return 1 if counts["STALE"] or counts["ERROR"] else 0


if __name__ == "__main__":
    sys.exit(main())
