"""Where the version is set: the one place the rewrite edits, or a refusal that says where.

The refusal messages name lines (1-based) because a maintainer fixes the recipe from them.
"""

from __future__ import annotations

from support.rewriting import refusal, sha256_of

from bot.formats import rewrite

PACKAGE = "package:\n  name: foo\n"
SOURCE = "source:\n  url: https://example.org/foo-{{ version }}.tar.gz\n"


def test_a_computed_version_is_refused_with_its_line() -> None:
    """A version computed by an expression is named by the line that computes it."""
    text = (
        "# a comment first\n"
        '{% set data = {"v": "1.2.3"} %}\n'
        '{% set version = data["v"] %}\n' + PACKAGE + "  version: {{ version }}\n" + SOURCE
    )
    assert refusal(text) == "version is computed by an expression on line 3"


def test_a_version_set_twice_is_refused_with_both_lines() -> None:
    """A variable and a literal package version are two places: both lines are named."""
    text = '# x\n{% set version = "1.2.3" %}\n' + PACKAGE + "  version: 1.2.3\n" + SOURCE
    assert refusal(text) == "version is set in 2 places (lines 2, 5)"


def test_a_suffix_variable_is_not_a_second_place() -> None:
    """`{{ version }}{{ dev }}` with an empty `dev`: only the `version` line changes."""
    text = (
        '{% set version = "1.2.3" %}\n{% set dev = "" %}\n'
        + PACKAGE
        + "  version: {{ version }}{{ dev }}\n"
        + SOURCE
    )
    result = rewrite(text, "1.3.0", sha256_of)
    assert result.startswith('{% set version = "1.3.0" %}\n{% set dev = "" %}\n')
    assert "  version: {{ version }}{{ dev }}\n" in result


def test_a_filtered_quoted_package_version_follows_the_variable() -> None:
    """`"{{ version|replace("-", "_") }}"` is derived from `version`: the set line is edited."""
    line = '  version: "{{ version|replace("-", "_") }}"\n'
    text = '{% set version = "1.2.3" %}\n' + PACKAGE + line + SOURCE
    result = rewrite(text, "1.3.0", sha256_of)
    assert result.startswith('{% set version = "1.3.0" %}\n')
    assert line in result


def test_a_comment_with_a_colon_does_not_hide_the_template() -> None:
    """`version: {{ version }}  # note: x` still reads as derived from the variable."""
    line = "  version: {{ version }}  # note: upstream tags with v\n"
    text = '{% set version = "1.2.3" %}\n' + PACKAGE + line + SOURCE
    result = rewrite(text, "1.3.0", sha256_of)
    assert result.startswith('{% set version = "1.3.0" %}\n')
    assert line in result


def test_a_package_version_from_an_expression_is_refused_with_its_line() -> None:
    """`version: {{ data["v"] }}` follows to a dict lookup: refused, naming that line."""
    text = (
        "# a comment\n# another\n"
        '{% set data = {"v": "1.2.3"} %}\n'
        + PACKAGE
        + '  version: {{ data["v"] }}\n'
        + 'source:\n  url: https://example.org/foo-{{ data["v"] }}.tar.gz\n'
    )
    assert refusal(text) == "version is computed by an expression on line 3"
