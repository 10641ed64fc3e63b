"""The rewrite on real recipes: how many it reads, refuses, rewrites, and whether any hash is stale.

    python bench/real_recipes.py sample STAGED_RECIPES_GIT OUT [--count 1000]
    python bench/real_recipes.py measure OUT [--json FILE] [--show REASON]

`sample` takes the newest `--count` recipes that conda-forge/staged-recipes accepted (a recipe
is deleted from staged-recipes when its feedstock is made, so `git log --diff-filter=D` lists
real, reviewed recipes) out of a local git copy of that repository, with the
`conda_build_config.yaml` beside each when there was one. Nothing of it is committed: the
sample is made again from the repository.

`measure` reads every recipe, then rewrites it to a made-up next version (the last number plus
one: 1.2.3 -> 1.2.4, 1.0-15 -> 1.0-16; `--bump minor`: 1.2.3 -> 1.3.0) with a hasher that
gives every URL a hash of its own and records what it gave. Each result is then audited on
its own terms, without the rewrite's code:

- stale: a checksum of the old text is still in the new text, but the source it belongs to
  moved (its URL changed) -- the one outcome that must never happen;
- foreign: a checksum in the new text that neither the old text had nor the hasher gave;
- wrong: a source of the new text whose sha256 is not what the hasher gave for its URL.

It prints the share read, refused (by reason) and rewritten, of all recipes, and exits 1 on any
stale, foreign or wrong hash. A recipe with no source to download (a metapackage) is read but
neither rewritten nor refused: no version is ever proposed for it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # bench/ is no installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.errors import RecipeBotError, RewriteRefused
from bot.formats import read_recipe, read_variants, rewrite

RECIPE_FILES = ("meta.yaml", "recipe.yaml")
VARIANT_FILE = "conda_build_config.yaml"
_DIGEST = re.compile(
    r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})(?![0-9a-fA-F])"
)


# -- sample -------------------------------------------------------------------------------


def sample(repository: Path, out: Path, count: int, kinds: tuple[str, ...] = RECIPE_FILES) -> int:
    """Write the newest `count` recipes staged-recipes accepted to out/<name>/; returns how many."""
    log = subprocess.run(
        ["git", "-C", str(repository), "log", "--diff-filter=D", "--format=commit %H",
         "--name-only", "--", *(f"recipes/*/{name}" for name in kinds)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    taken: dict[str, tuple[str, str]] = {}  # recipe folder -> (commit, file path)
    commit = ""
    for line in log.splitlines():
        if line.startswith("commit "):
            commit = line.split()[1]
        elif line.strip():
            folder = line.rsplit("/", 1)[0]
            if folder.count("/") == 1 and folder not in taken:
                taken[folder] = (commit, line)
        if len(taken) >= count:
            break
    out.mkdir(parents=True, exist_ok=True)
    for folder, (commit, path) in taken.items():
        target = out / folder.split("/", 1)[1]
        target.mkdir(exist_ok=True)
        (target / path.rsplit("/", 1)[1]).write_bytes(_show(repository, f"{commit}^:{path}"))
        variants = _show(repository, f"{commit}^:{folder}/{VARIANT_FILE}", missing_ok=True)
        if variants:
            (target / VARIANT_FILE).write_bytes(variants)
    return len(taken)


def _show(repository: Path, spec: str, *, missing_ok: bool = False) -> bytes:
    done = subprocess.run(["git", "-C", str(repository), "show", spec], capture_output=True)
    if done.returncode != 0:
        if missing_ok:
            return b""
        raise RuntimeError(f"git show {spec}: {done.stderr.decode().strip()}")
    return done.stdout


# -- measure ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    recipe: str
    read: bool
    status: str  # unreadable | no-source | refused | rewritten | stale | foreign | wrong
    detail: str = ""


def bump(version: str, kind: str = "patch") -> str:
    """A next version: `patch` adds one to the last number (1.2.3 -> 1.2.4), `minor` to the
    second and zeroes the ones after it (1.2.3 -> 1.3.0, 25.12.00 -> 25.13.00)."""
    numbers = list(re.finditer(r"\d+", version))
    if not numbers:
        return version + ".1"
    target = numbers[-1] if kind == "patch" or len(numbers) < 3 else numbers[1]
    pieces, position = [], 0
    for match in numbers:
        pieces.append(version[position : match.start()])
        if match.start() < target.start():
            pieces.append(match.group())
        elif match is target:
            pieces.append(str(int(match.group()) + 1).zfill(len(match.group())))
        else:
            pieces.append("0" * len(match.group()))
        position = match.end()
    pieces.append(version[position:])
    return "".join(pieces)


class RecordingHasher:
    """A sha256 for every URL, different for each, remembered so the result can be audited."""

    def __init__(self) -> None:
        self.given: dict[str, str] = {}

    def __call__(self, url: str) -> str:
        digest = hashlib.sha256(f"bench {url}".encode()).hexdigest()
        self.given[url] = digest
        return digest


def _variants(folder: Path) -> dict[str, list[str]] | None:
    """The variant values of the conda_build_config.yaml beside a recipe, if there is one."""
    file = folder / VARIANT_FILE
    return read_variants(file, root=folder.parent) if file.is_file() else None


def measure_one(file: Path, root: Path, kind: str = "patch") -> Outcome:
    name = file.parent.name
    try:
        recipe = read_recipe(file, root=root)
    except RecipeBotError as error:
        return Outcome(name, False, "unreadable", str(error))
    if not recipe.sources:
        # A metapackage: read, but nothing to download, so no version is ever proposed for it.
        return Outcome(name, True, "no-source")
    text = file.read_text()
    hasher = RecordingHasher()
    keywords: dict[str, object] = {}
    variants = _variants(file.parent)
    if variants:
        keywords["variants"] = variants
    try:
        new_text = rewrite(text, bump(recipe.version, kind), hasher, filename=file.name, **keywords)
    except RewriteRefused as error:
        return Outcome(name, True, "refused", str(error))
    problem = audit(text, new_text, file, hasher.given, root)
    if problem is not None:
        return Outcome(name, True, problem[0], problem[1])
    return Outcome(name, True, "rewritten")


def audit(
    old_text: str, new_text: str, file: Path, given: dict[str, str], root: Path
) -> tuple[str, str] | None:
    """(kind, detail) of the first hash problem in a rewrite's result, or None."""
    old_digests = _digests(old_text)
    new_digests = _digests(new_text)
    scratch = root / ".audit" / file.parent.name
    scratch.mkdir(parents=True, exist_ok=True)
    if (file.parent / VARIANT_FILE).is_file():
        (scratch / VARIANT_FILE).write_bytes((file.parent / VARIANT_FILE).read_bytes())
    (scratch / file.name).write_text(old_text)
    old_sources = read_recipe(scratch / file.name, root=root / ".audit").sources
    (scratch / file.name).write_text(new_text)
    new_sources = read_recipe(scratch / file.name, root=root / ".audit").sources
    unmoved_urls = {source.url for source in new_sources} & {source.url for source in old_sources}
    kept_legitimately = {
        source.sha256.lower()
        for source in old_sources
        if source.sha256 and source.url in unmoved_urls
    }
    for digest in sorted(old_digests & new_digests):
        if digest not in kept_legitimately:
            return "stale", f"old checksum {digest} is still in the rewritten recipe"
    given_digests = {digest.lower() for digest in given.values()}
    for digest in sorted(new_digests - old_digests):
        if digest not in given_digests:
            return "foreign", f"checksum {digest} came from nowhere"
    for source in new_sources:
        if source.url in unmoved_urls or not source.sha256:
            continue
        if given.get(source.url, "").lower() != source.sha256.lower():
            return (
                "wrong",
                f"{source.url} reads {source.sha256}, the hasher gave {given.get(source.url)}",
            )
    return None


_NOT_CHECKSUMS = re.compile(r"^\s*(?:-\s+)?(?:git_rev|rev|git_tag|tag|commit)\s*:")


def _digests(text: str) -> set[str]:
    """Hex digests outside comments and off git revision lines: what can be a checksum."""
    found = set()
    for line in text.splitlines():
        code = re.sub(r"\w+://\S+", "", re.split(r"(?:^|\s)#", line, maxsplit=1)[0])
        if not _NOT_CHECKSUMS.match(code):
            found.update(digest.lower() for digest in _DIGEST.findall(code))
    return found


def recipe_files(root: Path) -> Iterator[Path]:
    for folder in sorted(
        path for path in root.iterdir() if path.is_dir() and path.name != ".audit"
    ):
        for name in RECIPE_FILES:
            if (folder / name).is_file():
                yield folder / name
                break


def _reason(detail: str) -> str:
    """A refusal's reason without its particulars, to count refusals by kind."""
    reason = re.sub(r"https?://\S+|ftp://\S+", "<url>", detail)
    reason = re.sub(r"\b[0-9a-f]{32,64}\b", "<hash>", reason)
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "<text>", reason)
    reason = re.sub(r"\d+", "N", reason)
    return reason[:110]


def report(outcomes: list[Outcome], show: str | None) -> int:
    total = len(outcomes)
    read = sum(outcome.read for outcome in outcomes)
    statuses = Counter(outcome.status for outcome in outcomes)
    refused = [outcome for outcome in outcomes if outcome.status == "refused"]
    print(f"recipes: {total}")
    print(f"read: {read} ({100 * read / total:.1f}%)")
    print(f"rewritten: {statuses['rewritten']} ({100 * statuses['rewritten'] / total:.1f}%)")
    print(f"refused: {len(refused)} ({100 * len(refused) / total:.1f}%)")
    for reason, count in Counter(_reason(outcome.detail) for outcome in refused).most_common():
        print(f"  {count:4d}  {reason}")
    print(f"no source to update (metapackages): {statuses['no-source']}")
    print(f"unreadable: {statuses['unreadable']}")
    for outcome in outcomes:
        if outcome.status == "unreadable":
            print(f"  {outcome.recipe}: {outcome.detail[:150]}")
    bad = [outcome for outcome in outcomes if outcome.status in ("stale", "foreign", "wrong")]
    print(f"stale: {statuses['stale']}, foreign: {statuses['foreign']}, wrong: {statuses['wrong']}")
    for outcome in bad:
        print(f"  {outcome.status} {outcome.recipe}: {outcome.detail}")
    if show:
        for outcome in refused:
            if show in outcome.detail or show in _reason(outcome.detail):
                print(f"  {outcome.recipe}: {outcome.detail}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    take = commands.add_parser("sample", help="take recipes out of a staged-recipes git copy")
    take.add_argument("repository", type=Path)
    take.add_argument("out", type=Path)
    take.add_argument("--count", type=int, default=1000)
    take.add_argument("--only", choices=RECIPE_FILES, help="only recipes of this file name")
    run = commands.add_parser("measure", help="read and rewrite every recipe, audit the hashes")
    run.add_argument("root", type=Path)
    run.add_argument("--json", type=Path, help="write every outcome here")
    run.add_argument("--show", help="list the refusals whose reason contains this text")
    run.add_argument("--bump", choices=("patch", "minor"), default="patch",
                     help="the made-up next version: 1.2.3 -> 1.2.4 (patch) or 1.3.0 (minor)")
    options = parser.parse_args(argv)
    if options.command == "sample":
        kinds = (options.only,) if options.only else RECIPE_FILES
        print(
            f"{sample(options.repository, options.out, options.count, kinds)} recipes "
            f"in {options.out}"
        )
        return 0
    outcomes = [
        measure_one(file, options.root, options.bump) for file in recipe_files(options.root)
    ]
    if options.json:
        options.json.write_text(json.dumps([asdict(outcome) for outcome in outcomes], indent=1))
    return report(outcomes, options.show)


if __name__ == "__main__":
    sys.exit(main())
