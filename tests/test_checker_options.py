"""Checker options and settings from config and recipe to checker, for built-in and plugin
checkers alike: checked where they are written (naming the key and the file), read typed."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from support.servers import LocalHttpServer, Reply

import checkers
from bot.config import Config, parse_config, validate_checkers
from bot.errors import CheckerConfigError, ConfigError
from bot.http import Http, HttpSettings
from bot.model import Recipe, Release, Source
from bot.resolve import resolve
from bot.sweep import check_recipe
from checkers import BUILTIN, crawl, github, listing
from checkers.api import (
    ENV_NAME,
    TEXT,
    URL,
    CheckContext,
    Option,
    Options,
    Values,
    count,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def recipe(**update_check: Any) -> Recipe:
    """foo 1.0 from a directory listing, with `extra: update_check:` as given."""
    return Recipe(
        name="foo",
        path="foo/meta.yaml",
        format="conda-v0",
        version="1.0",
        sources=(Source("https://downloads.example/foo/foo-1.0.tar.gz"),),
        update_check=update_check,
    )


# --- resolution: which file and key a bad value is in ----------------------------------------


@pytest.mark.parametrize(
    ("options", "key", "message"),
    [
        (
            {"checker": "crawl", "url": "https://a.example/", "max_pages": "lots"},
            "max_pages",
            ">= 1",
        ),
        (
            {"checker": "github", "repo": "octo/widget", "tag_pattern": "("},
            "tag_pattern",
            "compile",
        ),
        ({"pattern": "foo-(.*)"}, "pattern", "version"),
        ({"max_pages": 3}, "max_pages", "unknown option for checker 'listing'"),
        ({"prereleases": "often"}, "prereleases", "true or false"),
    ],
)
def test_a_bad_in_recipe_option_names_the_recipe_file_and_key(
    options: dict[str, Any], key: str, message: str
) -> None:
    """`extra: update_check:` is checked at resolution; the message names the recipe and key."""
    with pytest.raises(CheckerConfigError) as caught:
        resolve(recipe(**options), Config(), BUILTIN)
    assert f"foo/meta.yaml, key 'extra.update_check.{key}'" in str(caught.value)
    assert message in str(caught.value)


def test_a_bad_config_option_names_the_config_file_once_the_checker_is_known() -> None:
    """A config option that suits some checker but not the one detected is named in its file."""
    config = Config(recipes={"foo": {"tags": True}}, source="conf/recipe-bot.yaml")
    with pytest.raises(CheckerConfigError) as caught:
        resolve(recipe(), config, BUILTIN)
    assert "conf/recipe-bot.yaml, key 'recipes.foo.tags'" in str(caught.value)


def test_config_wins_over_recipe_over_detection_and_values_arrive_typed() -> None:
    """The checker gets one set of parsed values: config over recipe over what detection found."""
    config = Config(recipes={"foo": {"pattern": r"foo-(?P<version>\d+)\.zip"}})
    resolved = resolve(
        recipe(url="https://mirror.example/foo/", pattern="ignored-(?P<version>x)"),
        config,
        BUILTIN,
    )
    assert resolved.checker_name == "listing"
    assert isinstance(resolved.options, Values)
    assert resolved.options[listing.DIRECTORY] == "https://mirror.example/foo/"
    pattern = resolved.options[listing.PATTERN]
    assert isinstance(pattern, re.Pattern) and pattern.pattern == r"foo-(?P<version>\d+)\.zip"
    assert listing.OPTIONS.read(resolved.options) is resolved.options  # not parsed twice


def test_common_options_make_the_policy_with_the_config_defaults() -> None:
    """Common options are typed too; `versions:` fills what a recipe does not say."""
    config = parse_config({"versions": {"prereleases": True}, "recipes": {"foo": {"ignore": [2]}}})
    resolved = resolve(recipe(allowed="<3", disabled=False), config, BUILTIN)
    assert resolved.policy.prereleases is True
    assert resolved.policy.ignore == ("2",)
    assert resolved.policy.allowed == "<3"
    assert resolved.disabled is False
    assert resolve(recipe(prereleases=False), config, BUILTIN).policy.prereleases is False


def test_crawl_limits_from_a_recipe_reach_the_crawl_as_integers() -> None:
    """max_pages and max_depth come out as ints with the defaults for what is unsaid."""
    resolved = resolve(
        recipe(
            checker="crawl", url="https://a.example/dl/", pattern=r"f-(?P<version>\d)", max_depth=1
        ),
        Config(),
        BUILTIN,
    )
    assert resolved.options[crawl.DEPTH] == 1
    assert resolved.options[crawl.PAGES] == crawl.MAX_PAGES


def test_sweep_reports_a_bad_option_as_misconfigured_without_asking_upstream() -> None:
    """check reports the recipe as an error naming the key and file; nothing is fetched."""
    with Http(HttpSettings(cache=None)) as http:
        result = check_recipe(
            recipe(checker="github", repo="octo/widget", tags="yes"),
            Config(),
            http,
            BUILTIN,
            now=NOW,
        )
        assert http.stats.snapshot()["requests"] == 0
    assert (result.status, result.reason) == ("error", "checker-misconfigured")
    assert "foo/meta.yaml, key 'extra.update_check.tags'" in str(result.error)


# --- a plugin checker: typed options and settings, through a registry or an entry point -----

FEED = Option("feed", TEXT, required=True)
CHANNEL = Option("channel", TEXT, default="stable")
SERVER = Option("server", URL, default="https://artifacts.example")
TOKEN_ENV = Option("token_env", ENV_NAME, default="ARTIFACTS_TOKEN", token_for="server")
PAGE_SIZE = Option("page_size", count(1), default=100)


class ArtifactServer:
    """An organisation's artifact server: `GET {server}/api/{feed}/{channel}` lists versions."""

    OPTIONS = Options(FEED, CHANNEL, checker="artifacts")
    SETTINGS = Options(SERVER, TOKEN_ENV, PAGE_SIZE, checker="artifacts", what="setting")

    def detect(self, url: str) -> dict[str, Any] | None:
        return None

    def releases(
        self, recipe: Recipe, options: Mapping[str, Any], ctx: CheckContext
    ) -> list[Release]:
        given, settings = self.OPTIONS.read(options), self.SETTINGS.read(ctx.settings)
        url = f"{settings[SERVER]}/api/{given[FEED]}/{given[CHANNEL]}?size={settings[PAGE_SIZE]}"
        return [Release(version) for version in ctx.http.json(url)]


REGISTRY = {**BUILTIN, "artifacts": ArtifactServer()}


def plugin_recipe(**update_check: Any) -> Recipe:
    return Recipe("tool", "tool/meta.yaml", "conda-v0", "1.0", update_check=update_check)


def test_a_plugin_checker_is_checked_against_its_own_declarations() -> None:
    """A plugin's option and setting values are validated like the built-in ones."""
    bad_setting = Config(checkers={"artifacts": {"page_size": 0}}, source="recipe-bot.yaml")
    with pytest.raises(ConfigError) as caught:
        validate_checkers(bad_setting, REGISTRY)
    assert "recipe-bot.yaml, key 'checkers.artifacts.page_size'" in str(caught.value)
    bad_option = Config(recipes={"tool": {"checker": "artifacts", "feed": ["x"]}}, source="c.yaml")
    with pytest.raises(ConfigError, match=r"c\.yaml, key 'recipes\.tool\.feed': must be a string"):
        validate_checkers(bad_option, REGISTRY)
    with pytest.raises(CheckerConfigError, match=r"extra\.update_check\.chanel"):
        resolve(plugin_recipe(checker="artifacts", chanel="beta"), Config(), REGISTRY)


def test_a_plugin_checker_reads_typed_options_and_settings(server: LocalHttpServer) -> None:
    """Through the sweep, the plugin gets its settings (defaults filled) and options, typed."""
    server.routes["/api/tools/beta?size=5"] = Reply(
        body=json.dumps(["1.0", "1.2", "2.0rc1"]), headers={"Content-Type": "application/json"}
    )
    config = parse_config(
        {
            "checkers": {"artifacts": {"server": server.base, "page_size": 5}},
            "recipes": {"tool": {"channel": "beta"}},
        }
    )
    validate_checkers(config, REGISTRY)
    with Http(HttpSettings(cache=None)) as http:
        result = check_recipe(
            plugin_recipe(checker="artifacts", feed="tools"), config, http, REGISTRY, now=NOW
        )
    assert (result.status, result.checker, result.latest) == ("outdated", "artifacts", "1.2")


def test_a_plugin_token_goes_to_its_server_and_is_a_secret() -> None:
    """A `token_for` setting sends the variable's value to that setting's host, and only there."""
    config = parse_config({"checkers": {"artifacts": {"server": "https://art.corp.example/"}}})
    env = {"ARTIFACTS_TOKEN": "art-s3cret", "GITHUB_TOKEN": "ghp_x"}
    tokens = dict(config.http_settings(env, REGISTRY).tokens)
    assert tokens == {"art.corp.example": "Bearer art-s3cret", "api.github.com": "Bearer ghp_x"}
    assert "ARTIFACTS_TOKEN" in config.secret_env_names(REGISTRY)


def test_a_bad_token_setting_sends_nothing_and_shows_no_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad server or variable name is named by key; the token is neither shown nor sent."""
    monkeypatch.setenv("ARTIFACTS_TOKEN", "art-s3cret")
    for settings, key in (({"server": "x"}, "server"), ({"token_env": "NOT OK"}, "token_env")):
        config = Config(checkers={"artifacts": settings}, source="f.yaml")
        with pytest.raises(ConfigError) as caught:
            validate_checkers(config, REGISTRY)
        assert f"f.yaml, key 'checkers.artifacts.{key}'" in str(caught.value)
        assert "art-s3cret" not in str(caught.value)
        sent = config.http_settings(None, REGISTRY).tokens
        assert not any("art-s3cret" in value for value in sent.values())


PLUGIN_MODULE = """
from checkers.api import OWNER_NAME, Option, Options

OPTIONS = Options(Option("project", OWNER_NAME, required=True), checker="forge")
SETTINGS = Options(checker="forge", what="setting")


def detect(url):
    return None


def releases(recipe, options, ctx):
    return []
"""


def test_an_entry_point_plugin_is_validated_from_config_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checker installed through `recipe_bot.checkers` gets its options checked by name."""
    (tmp_path / "forge_checker.py").write_text(PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "forge_checker", raising=False)
    entry = EntryPoint(name="forge", value="forge_checker", group=checkers.ENTRY_POINT_GROUP)
    monkeypatch.setattr(checkers, "entry_points", lambda group: [entry])
    registry = checkers.load_registry()
    assert set(registry) == {*BUILTIN, "forge"}
    bad = Config(recipes={"x": {"checker": "forge", "project": "noslash"}}, source="r.yaml")
    with pytest.raises(
        ConfigError, match=r"r\.yaml, key 'recipes\.x\.project': must be owner/name"
    ):
        validate_checkers(bad, registry)
    validate_checkers(Config(recipes={"x": {"checker": "forge", "project": "a/b"}}), registry)


class NamesOnly:
    """A plugin from before typed options: OPTIONS is a frozenset of names, no SETTINGS."""

    OPTIONS = frozenset({"feed"})

    def __init__(self) -> None:
        self.seen: list[Mapping[str, Any]] = []

    def detect(self, url: str) -> dict[str, Any] | None:
        return None

    def releases(
        self, recipe: Recipe, options: Mapping[str, Any], ctx: CheckContext
    ) -> list[Release]:
        self.seen.append(options)
        return [Release(str(options.get("feed")))]


def test_a_names_only_plugin_gets_its_values_as_written() -> None:
    """Names-only plugins keep working: known names pass unchecked, unknown ones are refused,
    and any settings mapping is accepted."""
    plugin = NamesOnly()
    registry = {**BUILTIN, "old": plugin}
    config = Config(checkers={"old": {"anything": [1, 2]}})
    validate_checkers(config, registry)
    with Http(HttpSettings(cache=None)) as http:
        result = check_recipe(plugin_recipe(checker="old", feed=3), config, http, registry, now=NOW)
    assert result.latest == "3" and plugin.seen[-1]["feed"] == 3
    with pytest.raises(CheckerConfigError, match="unknown option for checker 'old'"):
        resolve(plugin_recipe(checker="old", fed=3), config, registry)


def test_builtin_checkers_need_no_plugins_to_resolve() -> None:
    """The github checker's options come typed from detection alone."""
    source = Source("https://github.com/octo/widget/archive/v1.0.tar.gz")
    found = resolve(Recipe("w", "w/meta.yaml", "conda-v0", "1.0", (source,)), Config(), BUILTIN)
    assert found.checker_name == "github"
    assert found.options[github.REPO] == "octo/widget" and found.options[github.TAGS] is False


def test_a_checker_that_is_no_name_is_an_unknown_checker() -> None:
    """`checker: [pypi]` in a recipe is refused by name, not a crash."""
    with pytest.raises(CheckerConfigError, match="unknown checker"):
        resolve(recipe(checker=["pypi"]), Config(), BUILTIN)
