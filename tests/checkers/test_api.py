"""checkers.api: typed option declarations, the values checkers read, the run memo, the client."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from support.servers import LocalHttpServer, Reply

from bot.errors import CheckerConfigError, ConfigError
from bot.ftp import FtpEntry
from bot.http import Http, HttpSettings, Page
from bot.model import Recipe
from checkers import crawl, github, listing
from checkers.api import (
    COMMON_OPTIONS,
    ENV_NAME,
    FLAG,
    OWNER_NAME,
    SPECIFIER,
    TEXT,
    URL,
    URL_PREFIXES,
    VERSION_REGEX,
    VERSIONS,
    CheckContext,
    InvalidValue,
    Kind,
    Option,
    Options,
    RunMemo,
    check_recipe_options,
    count,
    options_of,
    settings_of,
)

KIND_CASES: list[tuple[Kind[Any], Any, Any]] = [
    (TEXT, "attrs", "attrs"),
    (TEXT, 2048, "2048"),
    (FLAG, True, True),
    (count(1), 7, 7),
    (count(0), 0, 0),
    (OWNER_NAME, "/octo/widget.git", "octo/widget"),
    (URL, "ftp://ftp.gnu.org/gnu/", "ftp://ftp.gnu.org/gnu/"),
    (URL, "https://pypi.example/{package}/json", "https://pypi.example/{package}/json"),
    (URL_PREFIXES, "https://a.example/", ("https://a.example/",)),
    (URL_PREFIXES, ["https://a/", "https://b/"], ("https://a/", "https://b/")),
    (ENV_NAME, "GHE_TOKEN", "GHE_TOKEN"),
    (VERSIONS, ["1.0", 2, 3.5], ("1.0", "2", "3.5")),
    (SPECIFIER, "<20,!=19.2", "<20,!=19.2"),
]

BAD_VALUES: list[tuple[Kind[Any], Any]] = [
    (TEXT, ""),
    (TEXT, True),
    (TEXT, ["a"]),
    (FLAG, "yes"),
    (FLAG, 1),
    (count(1), 0),
    (count(1), "lots"),
    (count(1), True),
    (count(0), -1),
    (count(1), 2.5),
    (VERSION_REGEX, "("),
    (VERSION_REGEX, r"foo-(\d+)"),
    (VERSION_REGEX, 5),
    (OWNER_NAME, "just-a-name"),
    (OWNER_NAME, "a/b/c"),
    (URL, "not a url"),
    (URL, "file:///etc/passwd"),
    (URL, 5),
    (URL_PREFIXES, 5),
    (URL_PREFIXES, ["ok", ""]),
    (ENV_NAME, "HAS SPACE"),
    (ENV_NAME, "1ST"),
    (VERSIONS, "1.0"),
    (VERSIONS, [True]),
    (SPECIFIER, "not a range"),
]


@pytest.mark.parametrize(("kind", "value", "parsed"), KIND_CASES)
def test_kinds_parse_what_users_write(kind: Kind[Any], value: Any, parsed: Any) -> None:
    """Each kind turns a valid YAML value into the typed value checkers read."""
    assert kind.parse(value) == parsed


@pytest.mark.parametrize(("kind", "value"), BAD_VALUES)
def test_kinds_refuse_values_that_do_not_fit(kind: Kind[Any], value: Any) -> None:
    """Each kind refuses a value of the wrong type or shape."""
    with pytest.raises(InvalidValue):
        kind.parse(value)


def test_a_version_regex_is_compiled_once_checked() -> None:
    """A pattern reaches the checker compiled, its version group checked."""
    compiled = VERSION_REGEX.parse(r"foo-(?P<version>[\d.]+)\.tar\.gz")
    assert isinstance(compiled, re.Pattern) and "version" in compiled.groupindex


PAGES = Option("max_pages", count(1), default=50)
FEED = Option("feed", URL, required=True)
LABEL = Option("label", TEXT)
DECLARED = Options(PAGES, FEED, LABEL, checker="demo")


def test_check_names_the_key_the_kind_and_the_file() -> None:
    """A bad value is a ConfigError naming `where.key`, the file and what the value must be."""
    with pytest.raises(ConfigError) as caught:
        DECLARED.check({"max_pages": "lots"}, where="recipes.foo", file="recipe-bot.yaml")
    assert caught.value.key == "recipes.foo.max_pages"
    assert caught.value.file == "recipe-bot.yaml"
    assert "must be an integer >= 1" in caught.value.message
    assert "'lots'" in caught.value.message


def test_check_refuses_unknown_names_listing_the_known() -> None:
    """An undeclared name is refused, and the message lists what the checker accepts."""
    with pytest.raises(ConfigError) as caught:
        DECLARED.check({"max_page": 3}, where="checkers.demo", file="f.yaml")
    assert caught.value.key == "checkers.demo.max_page"
    assert "unknown option for checker 'demo' (known: feed, label, max_pages)" in str(caught.value)


def test_values_are_typed_with_defaults_and_what_was_given() -> None:
    """Values hold defaults for what was not written; `given` keeps only what was."""
    values = DECLARED.check({"feed": "https://a.example/", "label": None}, where="w", file=None)
    assert values[PAGES] == 50 and values[FEED] == "https://a.example/"
    assert values.optional(LABEL) is None  # `label:` with nothing after it: not written
    assert dict(values.given) == {"feed": "https://a.example/"}
    assert dict(values) == {"max_pages": 50, "feed": "https://a.example/"}


def test_a_missing_required_option_is_named_when_read() -> None:
    """Reading a required option nobody gave or detected says which checker needs which option."""
    values = DECLARED.read({})
    with pytest.raises(CheckerConfigError, match="checker 'demo' needs the option 'feed'"):
        values[FEED]


def test_read_keeps_checked_values_and_checks_plain_dicts() -> None:
    """Values already checked against this declaration pass as they are; a dict is checked."""
    checked = DECLARED.check({"feed": "https://a.example/"}, where="w", file=None)
    assert DECLARED.read(checked) is checked
    assert DECLARED.read({"max_pages": 3})[PAGES] == 3
    with pytest.raises(CheckerConfigError, match=r"checker 'demo': .*max_pages.*integer >= 1"):
        DECLARED.read({"max_pages": 0})


def test_values_checked_against_another_declaration_are_checked_again() -> None:
    """Values of one declaration are no pass for another's options."""
    other = Options(Option("max_pages", TEXT), checker="other").check(
        {"max_pages": "lots"}, where="w", file=None
    )
    with pytest.raises(CheckerConfigError):
        DECLARED.read(other)


def test_options_behave_as_a_set_of_names() -> None:
    """Code that treated OPTIONS as a frozenset of names keeps working."""
    assert "feed" in DECLARED and "nope" not in DECLARED
    assert frozenset(DECLARED) == {"max_pages", "feed", "label"}
    assert DECLARED & {"feed", "other"} == frozenset({"feed"})
    assert isinstance(DECLARED | COMMON_OPTIONS, frozenset)


class LegacyPlugin:
    """A plugin written before typed options: names only, no SETTINGS."""

    OPTIONS = frozenset({"feed", "channel"})


def test_a_names_only_plugin_keeps_working_unchecked() -> None:
    """Bare names become a declaration that knows the names and lets any value through."""
    declared = options_of(LegacyPlugin(), "legacy")
    assert not declared.typed and set(declared) == {"feed", "channel"}
    values = declared.check({"feed": ["anything", 1]}, where="recipes.x", file=None)
    assert values["feed"] == ["anything", 1]
    with pytest.raises(ConfigError, match="unknown option for checker 'legacy'"):
        declared.check({"fede": 1}, where="recipes.x", file=None)
    assert settings_of(LegacyPlugin()) is None


def test_common_and_own_options_are_checked_apart() -> None:
    """A recipe's options split into the common ones and the checker's own, each checked."""
    common, own = check_recipe_options(
        {"allowed": "<2", "disabled": True, "pattern": r"x-(?P<version>\d+)"},
        listing.OPTIONS,
        where="extra.update_check",
        file="x/meta.yaml",
    )
    assert dict(common.given) == {"allowed": "<2", "disabled": True}
    assert set(own.given) == {"pattern"}
    with pytest.raises(ConfigError) as caught:
        check_recipe_options(
            {"max_pages": 3}, listing.OPTIONS, where="extra.update_check", file="x/meta.yaml"
        )
    assert caught.value.key == "extra.update_check.max_pages"
    assert "known: allowed, changelog, checker" in caught.value.message


# --- the run memo ----------------------------------------------------------------------------


def test_memo_keeps_the_first_answer_and_nothing_on_failure() -> None:
    """The first value stored wins; a maker that raises stores nothing, so it is asked again."""
    memo = RunMemo()
    assert memo.remember("k", lambda: 1) == 1
    assert memo.remember("k", lambda: 2) == 1

    def broken() -> int:
        raise OSError("down")

    with pytest.raises(OSError):
        memo.remember("other", broken)
    assert memo.remember("other", lambda: 3) == 3


def test_memo_shared_by_threads_gives_all_the_same_value() -> None:
    """Threads racing for one key all get the one value stored first."""
    memo, results, start = RunMemo(), [], threading.Barrier(8)

    def work() -> None:
        start.wait()
        results.append(memo.remember("site", object))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(result) for result in results}) == 1


def test_contexts_over_one_run_client_share_its_memo() -> None:
    """Contexts made per recipe over the run's Http share one memo; another run's do not."""
    with Http(HttpSettings(cache=None)) as http, Http(HttpSettings(cache=None)) as other:
        CheckContext(http).memo.remember("k", lambda: "first")
        assert CheckContext(http).memo.remember("k", lambda: "second") == "first"
        assert CheckContext(other).memo.remember("k", lambda: "other") == "other"
        given = RunMemo()
        assert CheckContext(http, memo=given).memo is given


# --- what a checker may call on the client ----------------------------------------------------


class OnlyTheProtocol:
    """An HTTP client with exactly the members checkers.api.HttpClient declares, and no more."""

    __slots__ = ("_http",)

    def __init__(self, http: Http) -> None:
        self._http = http

    @property
    def settings(self) -> HttpSettings:
        return self._http.settings

    def get(self, url: str, **kwargs: Any) -> Page:
        return self._http.get(url, **kwargs)

    def json(self, url: str, **kwargs: Any) -> Any:
        return self._http.json(url, **kwargs)

    def ftp_listdir(self, url: str) -> list[FtpEntry]:
        return self._http.ftp_listdir(url)

    def block_host(self, host: str, until: float) -> None:
        self._http.block_host(host, until)


def test_crawl_needs_nothing_beyond_the_declared_client(
    http: Http, server: LocalHttpServer
) -> None:
    """The crawl (robots.txt and all) runs on a client offering only the declared members."""
    server.routes.update(
        {
            "/robots.txt": Reply(body="User-agent: *\nDisallow: /no/\n"),
            "/dl/": Reply(
                body='<a href="foo-1.2.tar.gz">a</a><a href="/no/foo-9.9.tar.gz">b</a>'
                '<a href="/no/">c</a>',
                headers={"Content-Type": "text/html"},
            ),
        }
    )
    context = CheckContext(OnlyTheProtocol(http))
    options = {"url": server.url("/dl/"), "pattern": r"foo-(?P<version>[\d.]+)\.tar\.gz"}
    recipe = Recipe("foo", "foo/meta.yaml", "conda-v0", "1.0")
    for _ in range(2):
        found = crawl.releases(recipe, {**options, "allow": server.url("/")}, context)
        assert {release.version for release in found} == {"1.2", "9.9"}  # links match, not fetched
    assert server.hits("/robots.txt") == 1  # the context's own memo, per check
    assert server.hits("/no/") == 0


def test_github_settings_are_read_typed(http: Http, server: LocalHttpServer) -> None:
    """GitHub's api_url setting reaches the checker through its declaration, default included."""
    assert github.SETTINGS.read({})[github.API_URL] == "https://api.github.com"
    server.routes["/api/v3/repos/octo/widget/releases?per_page=100"] = Reply(
        body='[{"tag_name": "v1.0", "html_url": "https://x/1"}]',
        headers={"Content-Type": "application/json"},
    )
    context = CheckContext(http, settings={"api_url": server.url("/api/v3/")})
    recipe = Recipe("widget", "widget/meta.yaml", "conda-v0", "0.9")
    assert [r.version for r in github.releases(recipe, {"repo": "octo/widget"}, context)] == ["1.0"]
    with pytest.raises(CheckerConfigError, match="api_url"):
        github.releases(recipe, {"repo": "octo/widget"}, CheckContext(http, {"api_url": "x"}))
