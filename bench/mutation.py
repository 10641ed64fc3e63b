"""Mutation testing of the decision core and the rewrite core, with mutmut: a score per module.

    pip install -e '.[test,mutation]'
    python bench/mutation.py                          # the default module set, below
    python bench/mutation.py bot/versions.py --survivors --diff
    python bench/mutation.py bot/formats/urls.py --tests tests/formats --json scores.json

How it runs: modules that share their test files are mutated together, in a fresh copy of the
repository under `--work` (mutmut writes its `mutants/` tree next to the pyproject it reads, so a
copy keeps the work tree clean and lets several groups exist side by side). The copy's
`[tool.mutmut]` is the repository's (shared settings) plus `only_mutate` and the test files of
the group, so each mutant is tried against its own module's tests only, not the whole suite;
mutmut then narrows that further to the tests that call the mutated function.

The score is killed / total. A timeout counts as killed (the tests noticed the change); "no
tests" (no selected test calls the function) and "survived" do not. After a run the copy stays,
so `cd WORK/GROUP && python -m mutmut show NAME` (or `browse`) works on it.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Each module with the test files that state its behaviour (globs, relative to the root).
MODULES: Mapping[str, tuple[str, ...]] = {
    "bot/versions.py": ("tests/test_versions*.py",),
    # The planner is tested through the run scenarios today; unit tests of its own may follow.
    "bot/plan.py": ("tests/run", "tests/test_plan*.py", "tests/plan"),
    "bot/formats/rewrite.py": ("tests/formats",),
    "bot/formats/hashing.py": ("tests/formats",),
    "bot/formats/audit.py": ("tests/formats",),
    "bot/formats/edits.py": ("tests/formats",),
}

# Nothing here is needed by the tests, and `mutants/` is a previous run's output.
_NOT_COPIED = (".git", ".venv", "mutants", "__pycache__", "*.egg-info", ".*_cache", "*.sqlite*")
KILLED = frozenset({"killed", "timeout", "caught by type check"})


@dataclass(frozen=True)
class Group:
    """Modules mutated in one mutmut run, because they are tested by the same files."""

    modules: tuple[str, ...]
    tests: tuple[str, ...]

    @property
    def slug(self) -> str:
        return "+".join(Path(m).stem for m in self.modules)


@dataclass
class Score:
    module: str
    statuses: dict[str, str] = field(default_factory=dict)  # mutant name -> mutmut's status

    @property
    def total(self) -> int:
        return len(self.statuses)

    @property
    def killed(self) -> int:
        return sum(1 for status in self.statuses.values() if status in KILLED)

    @property
    def survivors(self) -> list[str]:
        return sorted(name for name, status in self.statuses.items() if status not in KILLED)

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 0.0

    def counts(self) -> Counter[str]:
        return Counter(self.statuses.values())


def group_modules(modules: Sequence[str], tests: Sequence[str] | None) -> list[Group]:
    """Modules with the same test selection share one run (one copy, one stats collection)."""
    by_tests: dict[tuple[str, ...], list[str]] = {}
    for module in modules:
        selection = tuple(tests) if tests else MODULES.get(module)
        if selection is None:
            raise SystemExit(f"{module}: not in the default table; name its tests with --tests")
        by_tests.setdefault(selection, []).append(module)
    return [Group(tuple(mods), selection) for selection, mods in by_tests.items()]


def prepare(group: Group, work: Path) -> Path:
    """A fresh copy of the repository whose `[tool.mutmut]` mutates this group only."""
    target = work / group.slug
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*_NOT_COPIED), symlinks=True)
    tests = expand(group.tests, target)
    if not tests:
        raise SystemExit(f"{group.slug}: no test file matches {', '.join(group.tests)}")
    pyproject = target / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    settings = dict(tomllib.loads(text).get("tool", {}).get("mutmut", {}))
    settings["only_mutate"] = list(group.modules)
    settings["pytest_add_cli_args_test_selection"] = tests
    new_text = without_table(text, "tool.mutmut") + "\n" + toml_table("tool.mutmut", settings)
    if tomllib.loads(new_text)["tool"]["mutmut"] != settings:  # the splice must not lose a key
        raise SystemExit("could not rewrite [tool.mutmut] in the copy's pyproject.toml")
    pyproject.write_text(new_text, encoding="utf-8")
    return target


def expand(patterns: Iterable[str], root: Path) -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            relative = path.relative_to(root).as_posix()
            if relative not in found:
                found.append(relative)
    return found


def without_table(text: str, name: str) -> str:
    """`text` without the table `[name]`: its header and every line up to the next header."""
    kept: list[str] = []
    inside = False
    for line in text.splitlines(keepends=True):
        header = _header(line)
        if header is not None:
            inside = header == name
        if not inside:
            kept.append(line)
    return "".join(kept).rstrip("\n") + "\n"


def _header(line: str) -> str | None:
    """The table name when `line` is a header (`[a.b]`, `[[a.b]]`, maybe a comment after)."""
    code = line.split("#", 1)[0].strip()
    if not (code.startswith("[") and code.endswith("]")):
        return None
    inner = code.strip("[]").strip()
    # An element of a multi-line array (`["x"]`) starts with a quote or a digit, never a key.
    if not inner or not (inner[0].isalpha() or inner[0] == "_") or "=" in code:
        return None
    return inner


def toml_table(name: str, settings: Mapping[str, object]) -> str:
    lines = [f"[{name}]"]
    for key, value in settings.items():
        lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise SystemExit(f"[tool.mutmut]: cannot write a value of type {type(value).__name__}")


def run_mutmut(copy: Path, jobs: int | None) -> float:
    """Run mutmut in `copy`; its chatty progress goes to `copy/mutmut.log`."""
    command = [sys.executable, "-m", "mutmut", "run"]
    if jobs:
        command += ["--max-children", str(jobs)]
    started = time.monotonic()
    log = copy / "mutmut.log"
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=copy, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"mutmut failed in {copy} (exit {done.returncode}):\n{tail}")
    return time.monotonic() - started


def mutmut_output(copy: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def collect(copy: Path, modules: Sequence[str]) -> list[Score]:
    """Every mutant's status, by module (mutant names start with the module's dotted path)."""
    scores = {module: Score(module) for module in modules}
    dotted = {module: module.removesuffix(".py").replace("/", ".") + "." for module in modules}
    for line in mutmut_output(copy, "results", "--all", "true").splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if not sep:
            continue
        for module, prefix in dotted.items():
            if name.startswith(prefix):
                scores[module].statuses[name] = status
    return [scores[module] for module in modules]


def report(scores: Sequence[Score]) -> str:
    width = max(len("module"), *(len(s.module) for s in scores))
    lines = [f"{'module':<{width}}  {'killed / total':>15}  {'score':>6}  other statuses"]
    for score in scores:
        other = ", ".join(
            f"{count} {status}"
            for status, count in sorted(score.counts().items())
            if status not in KILLED
        )
        lines.append(
            f"{score.module:<{width}}  {score.killed:>6} / {score.total:<6}  "
            f"{score.percent:>5.1f}%  {other or '-'}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("modules", nargs="*", help="source files to mutate (default: the table)")
    parser.add_argument("--tests", nargs="+", help="test files or globs, for every module named")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "recipe-bot-mutation",
        help="where the copies go (default: %(default)s)",
    )
    parser.add_argument("--jobs", type=int, help="mutants tried at once (mutmut: one per CPU)")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    parser.add_argument("--diff", action="store_true", help="show each survivor's diff")
    parser.add_argument("--only", help="with --survivors: names matching this glob")
    parser.add_argument("--json", type=Path, help="also write the scores to this file")
    args = parser.parse_args(argv)

    modules = args.modules or list(MODULES)
    for module in modules:
        if not (ROOT / module).is_file():
            parser.error(f"{module}: no such file under {ROOT}")
    args.work.mkdir(parents=True, exist_ok=True)
    scores: list[Score] = []
    copies: dict[str, Path] = {}
    for group in group_modules(modules, args.tests):
        copy = prepare(group, args.work)
        print(f"{group.slug}: {len(group.modules)} module(s) against {' '.join(group.tests)}")
        seconds = run_mutmut(copy, args.jobs)
        group_scores = collect(copy, group.modules)
        print(f"  {sum(s.total for s in group_scores)} mutants in {seconds:.0f} s ({copy})")
        scores += group_scores
        copies.update(dict.fromkeys(group.modules, copy))
    order = {module: i for i, module in enumerate(modules)}
    scores.sort(key=lambda score: order[score.module])
    print()
    print(report(scores))

    if args.survivors or args.diff:
        for score in scores:
            names = [n for n in score.survivors if not args.only or fnmatch.fnmatch(n, args.only)]
            print(f"\n{score.module}: {len(names)} not killed")
            for name in names:
                if args.diff:
                    print(mutmut_output(copies[score.module], "show", name).rstrip())
                else:
                    print(f"  {name}: {score.statuses[name]}")
    if args.json:
        figures = [
            {
                "module": s.module,
                "killed": s.killed,
                "total": s.total,
                "score": round(s.percent, 1),
                "statuses": dict(s.counts()),
                "survivors": s.survivors,
            }
            for s in scores
        ]
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
