"""`recipe-bot`: list, check, update, run, serve.

Exit codes: 0 when the command ran (a `check` with some recipes in error still ran: they are
listed), 1 when an `update` could not apply every change it was asked for or a `run` failed,
2 when the command could not run at all (bad config, bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot import log as logs
from bot.config import Config, find_config, load_config
from bot.errors import ConfigError, RecipeBotError
from bot.formats import RECIPE_FILES
from bot.recipes import Entry, Recipes, Unreadable, load_recipes, stream_recipes, unknown_names
from bot.store import Store, Table

if TYPE_CHECKING:  # imported by the commands that sweep: `list` has no use for it
    from bot.sweep import CheckResult

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Everything printed is scrubbed of secrets: the usual token variables from the start, the
    # config's own once it is read (`_setup`). An upstream or GitLab may echo a token back.
    with contextlib.ExitStack() as outputs:
        outputs.enter_context(logs.redacted_output(logs.Redactor(logs.secret_values(()))))
        args.outputs = outputs
        try:
            return int(args.handler(args))
        except ConfigError as exc:
            print(f"recipe-bot: configuration error: {exc}", file=sys.stderr)
            return EXIT_UNUSABLE
        except RecipeBotError as exc:
            print(f"recipe-bot: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            return 130
        except Exception:
            # A bug: its traceback is printed here, through the scrubbed stderr, not by Python
            # after the streams are restored (an exception can hold a token in its message).
            traceback.print_exc()
            return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recipe-bot", description="Keep package recipes up to date with their upstreams."
    )
    parser.add_argument("--version", action="version", version=f"recipe-bot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument(
            "--config", metavar="FILE", help="default: RECIPES_DIR/recipe-bot.yaml when present"
        )
        sub.set_defaults(handler=handler)
        return sub

    def recipes_args(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "targets",
            nargs="*",
            metavar="[RECIPES_DIR] [NAME...]",
            help="the recipes directory (default: .), then recipe names or folders",
        )

    sub = command("list", cmd_list, "List recipes: version, format, sources and checker.")
    recipes_args(sub)
    sub.add_argument("--json", action="store_true", help="one JSON array")

    sub = command("check", cmd_check, "Show recipes that are behind their upstream.")
    recipes_args(sub)
    sub.add_argument("--json", action="store_true", help="one JSON array, every recipe")
    sub.add_argument("--verbose", "-v", action="store_true", help="also print changelog URLs")

    sub = command("update", cmd_update, "Rewrite outdated recipes in place and print the diffs.")
    recipes_args(sub)
    sub.add_argument(
        "--version", dest="to_version", metavar="VERSION", help="this version instead of the latest"
    )
    sub.add_argument("--dry-run", action="store_true", help="print the diffs, write nothing")

    sub = command(
        "run", cmd_run, "One full cycle against GitLab: merge requests and the dashboard."
    )
    sub.add_argument(
        "--recipes", metavar="RECIPES_DIR", help="read recipes here instead of from GitLab"
    )
    sub.add_argument(
        "--dry-run", action="store_true", help="print the plan and dashboard; needs no token"
    )
    sub.add_argument("--now", type=_instant, metavar="ISO8601", help="the clock, for the schedule")

    command("serve", cmd_serve, "Run every hour (serve.schedule) and on GitLab webhooks.")
    return parser


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- shared set-up ---------------------------------------------------------------------------


def split_targets(targets: Sequence[str]) -> tuple[Path, list[str]]:
    """RECIPES_DIR is the first target when it is a directory that is not itself a recipe folder.

    `recipe-bot check python-attrs` run inside the recipes repository names a recipe, not a
    recipes directory, although python-attrs/ is a directory too.
    """
    if targets:
        first = Path(targets[0])
        is_recipe_folder = any((first / name).is_file() for name in RECIPE_FILES)
        if first.is_dir() and not is_recipe_folder:
            return first, list(targets[1:])
        if not first.exists() and ("/" in targets[0] or targets[0].startswith(".")):
            # A path, not a recipe name: recipe names have no slashes.
            raise ConfigError(f"recipes directory {targets[0]!r} does not exist")
    return Path("."), list(targets)


def _setup(args: argparse.Namespace, root: Path, *, level: str = "WARNING") -> Config:
    config = load_config(find_config(root, args.config))
    from bot.resolve import validate_config_recipes
    from checkers import load_registry

    # The registry first: a plugin checker's token variable is a secret to redact too.
    registry = load_registry()
    redactor = logs.configure(
        level=os.environ.get("RECIPE_BOT_LOG_LEVEL", level),
        secrets=logs.secret_values(config.secret_env_names(registry)),
    )
    args.outputs.enter_context(logs.redacted_output(redactor))
    validate_config_recipes(config, registry)
    return config


def _load(
    root: Path, config: Config, names: Sequence[str], cache: Table | None = None
) -> list[Entry]:
    if not root.is_dir():
        raise ConfigError(f"recipes directory {str(root)!r} does not exist")
    entries = load_recipes(root.resolve(), config, names, cache=cache)
    missing = unknown_names(entries, names)
    if missing:
        print(f"recipe-bot: no recipe named {', '.join(missing)}", file=sys.stderr)
    return entries


def _json_array(rows: Sequence[dict[str, Any]]) -> str:
    """One JSON array, an object a line: `indent` would switch json to its pure-Python encoder,
    which took 0.5 s for 10,000 recipes; written at once, as every write is scrubbed of secrets."""
    if not rows:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n"


def _stream(root: Path, config: Config, cache: Table) -> Recipes:
    if not root.is_dir():
        raise ConfigError(f"recipes directory {str(root)!r} does not exist")
    return stream_recipes(root.resolve(), config, cache=cache)


# --- commands --------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from bot.resolve import checker_name_for
    from checkers import load_registry

    root, names = split_targets(args.targets)
    config = _setup(args, root)
    registry = load_registry()
    rows: list[dict[str, Any]] = []
    # The parsed-recipe cache `check` fills (and fills for it): a warm `list` reads no YAML.
    store = args.outputs.enter_context(contextlib.closing(Store(config.http.cache)))
    for entry in _load(root, config, names, store.table("recipes")):
        if isinstance(entry, Unreadable):
            rows.append(
                {
                    "recipe": entry.name,
                    "path": entry.path,
                    "format": None,
                    "version": None,
                    "sources": [],
                    "checker": None,
                    "error": entry.error,
                }
            )
            continue
        rows.append(
            {
                "recipe": entry.name,
                "path": entry.path,
                "format": entry.format,
                "version": entry.version,
                "sources": [
                    {"url": s.url, "sha256": s.sha256, "selector": s.selector}
                    for s in entry.sources
                ],
                "checker": checker_name_for(entry, config, registry),
                "error": None,
            }
        )
    if args.json:
        sys.stdout.write(_json_array(rows))
        return EXIT_OK
    text: list[str] = []  # written at once: every write is scrubbed of secrets, one by one
    for row in rows:
        if row["error"]:
            text.append(f"{row['recipe']}  {row['path']}  error: {row['error']}")
        else:
            text.append(
                f"{row['recipe']} {row['version']}  {row['format']}  "
                f"{row['checker'] or '-'}  {row['path']}"
            )
            for source in row["sources"]:
                selector = f"  [{source['selector']}]" if source["selector"] else ""
                text.append(f"    {source['url']}{selector}")
    if text:
        sys.stdout.write("\n".join(text) + "\n")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from bot.http import Http
    from bot.progress import progress
    from bot.sweep import sweep
    from checkers import load_registry

    root, names = split_targets(args.targets)
    config = _setup(args, root)
    with Http(config.http_settings()) as http:
        cache = http.store.table("recipes")
        entries: Iterable[Entry]
        if names:  # a few recipes: read them first, to say at once which names are unknown
            entries = _load(root, config, names, cache)
            total = len(entries)
        else:  # every recipe: each is checked as soon as it is read (bot.sweep)
            entries = _stream(root, config, cache)
            total = len(entries.files)
        # Only what is printed is kept, not the results: at 10,000 recipes their recipes and
        # decisions were a third of the command's memory.
        printed: list[Any] = []

        def keep_printed(result: CheckResult) -> None:
            advance()
            printed.append(result.as_json() if args.json else _check_lines(result, args.verbose))

        with progress(total, "checking") as advance:
            sweep(entries, config, http, load_registry(), on_result=keep_printed, keep=False)
    if args.json:
        sys.stdout.write(_json_array(printed))
        return EXIT_OK
    for lines in printed:
        for stream, text in lines:
            print(text, file=sys.stderr if stream == "stderr" else sys.stdout)
    return EXIT_OK


def _check_lines(result: CheckResult, verbose: bool) -> tuple[tuple[str, str], ...]:
    """What `check` prints of one result: (stream, line) pairs."""
    if result.status == "outdated":
        suffix = ":" if verbose and result.changelog else ""
        head = ("stdout", f"{result.name} {result.latest} ({result.current}){suffix}")
        if verbose and result.changelog:
            return head, ("stdout", f"  {result.changelog}")
        return (head,)
    if result.status == "error":
        return (("stderr", f"recipe-bot: {result.name} ({result.path}): {result.error}"),)
    if result.status == "skipped" and verbose:
        return (("stderr", f"recipe-bot: {result.name} skipped: {result.error}"),)
    return ()


def cmd_update(args: argparse.Namespace) -> int:
    from bot.update import update_recipes

    root, names = split_targets(args.targets)
    if args.to_version and not names:
        raise ConfigError("--version needs the NAME of the recipe to update")
    config = _setup(args, root)
    entries = _load(root, config, names)
    if names and not entries:
        return EXIT_FAILED
    return update_recipes(
        root.resolve(), config, entries, version=args.to_version, dry_run=args.dry_run
    )


def cmd_run(args: argparse.Namespace) -> int:
    from bot.run import main as run_main

    root = Path(args.recipes) if args.recipes else Path(".")
    config = _setup(args, root, level="INFO")
    return run_main(
        config,
        recipes=Path(args.recipes) if args.recipes else None,
        dry_run=args.dry_run,
        now=args.now,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.serve import main as serve_main

    config = _setup(args, Path("."), level="INFO")
    return serve_main(config)
