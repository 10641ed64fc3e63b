"""recipe-bot.yaml: defaults, the documented example, and errors that name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, load_config, parse_config
from bot.errors import ConfigError
from bot.resolve import validate_config_recipes
from checkers import BUILTIN

DESIGN_EXAMPLE = """
checkers:
  pypi:   {url: https://pypi.org}
  github: {api_url: https://api.github.com, token_env: GITHUB_TOKEN}
http:
  timeout: 30
  concurrency: 16
  per_host: 4
  cache: .recipe-bot-cache.sqlite
  ca_bundle: null
versions:
  prereleases: false
  minimum_release_age: 0
recipes:
  readline: {checker: listing, url: "https://ftp.gnu.org/gnu/readline/"}
  attrs:    {ignore: ["19.2.0"], allowed: "<20"}
constraints:
  - {path: constraints.txt, yaml: pipeline/constraints.yml}
gitlab:
  url: https://gitlab.example.com
  project: packaging/external-recipes
  token_env: GITLAB_TOKEN
  target_branch: main
schedule: "* * * * 6,0"
timezone: UTC
limits: {open_merge_requests: 10, merge_requests_per_hour: 2}
merge_requests: {branch_prefix: recipe-bot/, labels: [dependencies]}
dashboard: {title: Recipe Dashboard, labels: [recipe-bot]}
serve:
  schedule: "0 * * * *"
  listen: "0.0.0.0:8080"
  webhook_secret_env: RECIPE_BOT_WEBHOOK_SECRET
"""


def test_design_example_parses(tmp_path: Path) -> None:
    """The configuration shown in design.md is valid as written."""
    path = tmp_path / "recipe-bot.yaml"
    path.write_text(DESIGN_EXAMPLE)
    config = load_config(path)
    validate_config_recipes(config, BUILTIN)
    assert config.limits.merge_requests_per_hour == 2
    assert config.constraints[0].yaml == "pipeline/constraints.yml"
    assert config.recipes["attrs"] == {"ignore": ["19.2.0"], "allowed": "<20"}
    assert config.merge_requests.labels == ("dependencies",)


def test_no_file_gives_defaults() -> None:
    """Without a config file the defaults apply: weekends, UTC, the documented limits."""
    config = load_config(None)
    assert config == Config()
    assert (config.schedule, config.timezone) == ("* * * * 6,0", "UTC")


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("htp: {}", "htp", "unknown key"),
        ("http: {timeout: fast}", "http.timeout", "number"),
        ("http: {timeuot: 3}", "http.timeuot", "unknown key"),
        ("limits: {open_merge_requests: -1}", "limits.open_merge_requests", "non-negative"),
        ("limits: {open_merge_requests: 1.5}", "limits.open_merge_requests", "whole number"),
        ("versions: {prereleases: maybe}", "versions.prereleases", "true or false"),
        ("schedule: 'every saturday'", "schedule", "cron"),
        ("serve: {schedule: '* * *'}", "serve.schedule", "cron"),
        ("timezone: Mars/Olympus", "timezone", "time zone"),
        ("serve: {listen: '8080'}", "serve.listen", "HOST:PORT"),
        ("constraints: [{path: ../outside.txt}]", "constraints[0].path", "inside"),
        ("constraints: [{yaml: a.yml}]", "constraints", "path"),
        ("checkers: {pypi: {uri: x}}", "checkers.pypi.uri", "unknown setting"),
        ("recipes: {attrs: {ignroe: [1]}}", "recipes.attrs.ignroe", "unknown option"),
        ("recipes: {attrs: {checker: nope}}", "recipes.attrs.checker", "unknown checker"),
        ("recipes: {attrs: {allowed: 'not a range'}}", "recipes.attrs.allowed", "specifier"),
        ("recipes: {attrs: {checker: pypi, url: x}}", "recipes.attrs.url", "unknown option"),
        ("merge_requests: {labels: dependencies}", "merge_requests.labels", "list"),
    ],
)
def test_invalid_config_names_key_and_file(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    """Each invalid value stops with a message naming the file, the key and what is wrong."""
    path = tmp_path / "recipe-bot.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        validate_config_recipes(load_config(path), BUILTIN)
    assert str(path) in str(caught.value)
    assert key in str(caught.value)
    assert message in str(caught.value)


def test_malformed_yaml(tmp_path: Path) -> None:
    """A file that is not YAML is reported as such, with its name."""
    path = tmp_path / "recipe-bot.yaml"
    path.write_text("http: {timeout: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_missing_file() -> None:
    """An explicit --config that does not exist is an error, not the defaults."""
    with pytest.raises(ConfigError, match="no such file"):
        load_config("/nonexistent/recipe-bot.yaml")


def test_top_level_must_be_a_mapping() -> None:
    """A list at the top level is refused."""
    with pytest.raises(ConfigError, match="mapping"):
        parse_config([1, 2])


def test_github_token_goes_to_the_api_host_only() -> None:
    """The GitHub token from the configured variable is attached to the API host alone."""
    config = parse_config(
        {
            "checkers": {
                "github": {"api_url": "https://github.example/api/v3", "token_env": "GHE_TOKEN"}
            }
        }
    )
    settings = config.http_settings({"GHE_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz"})
    assert dict(settings.tokens) == {"github.example": "Bearer ghp_abcdefghijklmnopqrstuvwxyz"}
    assert config.http_settings({}).tokens == {}


def test_flow_mappings_with_urls_parse_with_the_c_parser_installed(tmp_path: Path) -> None:
    """`{url: https://...}` (valid YAML 1.2) loads even with ruamel's C parser installed."""
    path = tmp_path / "recipe-bot.yaml"
    path.write_text("checkers:\n  pypi:   {url: https://pypi.org}\n")
    assert load_config(path).checkers["pypi"] == {"url": "https://pypi.org"}
