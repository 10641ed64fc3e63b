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
        # typed checker options, with the checker named ...
        ("recipes: {foo: {checker: crawl, max_pages: lots}}", "recipes.foo.max_pages", ">= 1"),
        ("recipes: {foo: {checker: crawl, max_depth: -1}}", "recipes.foo.max_depth", ">= 0"),
        ("recipes: {foo: {checker: crawl, allow: 5}}", "recipes.foo.allow", "URL prefix"),
        (
            "recipes: {foo: {checker: github, tag_pattern: '('}}",
            "recipes.foo.tag_pattern",
            "compile",
        ),
        ("recipes: {foo: {checker: github, repo: widget}}", "recipes.foo.repo", "owner/name"),
        ("recipes: {foo: {checker: github, tags: yes}}", "recipes.foo.tags", "true or false"),
        ("recipes: {foo: {checker: listing, url: 5}}", "recipes.foo.url", "URL"),
        ("recipes: {foo: {checker: listing, pattern: 'x-(.*)'}}", "recipes.foo.pattern", "version"),
        ("recipes: {foo: {checker: pypi, package: ''}}", "recipes.foo.package", "not empty"),
        # ... and left to detection: the value must suit a checker that declares the option
        ("recipes: {foo: {max_pages: lots}}", "recipes.foo.max_pages", ">= 1"),
        ("recipes: {foo: {pattern: '('}}", "recipes.foo.pattern", "compile"),
        ("recipes: {foo: {tag_patern: x}}", "recipes.foo.tag_patern", "unknown option"),
        # the common options
        ("recipes: {foo: {prereleases: maybe}}", "recipes.foo.prereleases", "true or false"),
        ("recipes: {foo: {disabled: 1}}", "recipes.foo.disabled", "true or false"),
        ("recipes: {foo: {ignore: '1.0'}}", "recipes.foo.ignore", "list of versions"),
        ("recipes: {foo: {changelog: [x]}}", "recipes.foo.changelog", "string"),
        # checker settings
        ("checkers: {github: {api_url: nowhere}}", "checkers.github.api_url", "URL"),
        ("checkers: {github: {token_env: 'MY TOKEN'}}", "checkers.github.token_env", "variable"),
        ("checkers: {pypi: {url: 5}}", "checkers.pypi.url", "URL"),
        ("checkers: {listing: {url: x}}", "checkers.listing.url", "unknown setting"),
        ("checkers: {nope: {url: x}}", "checkers.nope", "unknown checker"),
        ("checkers: {pypi: url}", "checkers.pypi", "mapping"),
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


@pytest.mark.parametrize(
    "text",
    [
        "recipes: {foo: {url: 'ftp://ftp.gnu.org/gnu/foo/'}}",
        "recipes: {foo: {pattern: 'foo-(?P<version>[0-9.]+)[.]tar[.]gz', max_pages: 5}}",
        "recipes: {foo: {checker: crawl, url: 'https://a.example/', allow: 'https://a.example/'}}",
        "recipes: {foo: {checker: github, repo: octo/widget, tags: true, prereleases: true}}",
        "recipes: {foo: {checker: pypi, package: null}}",
        "checkers: {github: {api_url: 'https://ghe.example/api/v3', token_env: GHE_TOKEN}}",
    ],
)
def test_valid_checker_options_pass(tmp_path: Path, text: str) -> None:
    """Well-typed options and settings load, whichever checker detection will pick."""
    path = tmp_path / "recipe-bot.yaml"
    path.write_text(text)
    validate_config_recipes(load_config(path), BUILTIN)


def test_builtin_settings_are_checked_without_the_registry(tmp_path: Path) -> None:
    """A bad built-in checker setting stops load_config itself; a plugin's name waits for the
    registry, which knows whether it is installed."""
    path = tmp_path / "recipe-bot.yaml"
    path.write_text("checkers: {github: {api_url: nowhere}}")
    with pytest.raises(ConfigError, match=r"checkers\.github\.api_url"):
        load_config(path)
    path.write_text("checkers: {artifacts: {server: anything}}")
    assert load_config(path).checkers == {"artifacts": {"server": "anything"}}


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


def test_github_token_by_default_from_github_token() -> None:
    """Without a `checkers.github` entry the token comes from GITHUB_TOKEN, for api.github.com."""
    settings = Config().http_settings({"GITHUB_TOKEN": "ghp_default", "GHE_TOKEN": "no"})
    assert dict(settings.tokens) == {"api.github.com": "Bearer ghp_default"}
    assert "GITHUB_TOKEN" in Config().secret_env_names(BUILTIN)


def test_flow_mappings_with_urls_parse_with_the_c_parser_installed(tmp_path: Path) -> None:
    """`{url: https://...}` (valid YAML 1.2) loads even with ruamel's C parser installed."""
    path = tmp_path / "recipe-bot.yaml"
    path.write_text("checkers:\n  pypi:   {url: https://pypi.org}\n")
    assert load_config(path).checkers["pypi"] == {"url": "https://pypi.org"}
