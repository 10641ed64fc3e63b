"""Recipes render in a sandbox: a recipe can never run code in the bot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import RecipeError, RewriteRefused
from bot.formats import read_recipe, rewrite

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].system('touch CANARY') }}",
    "{{ self.__init__.__globals__ }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ environ.__class__ }}",
    "{{ compiler.__code__ }}",
    "{{ self._TemplateReference__context }}",
    "{% import 'os' as os %}{{ os }}",
    "{% include '/etc/passwd' %}",
    "{{ 'x' * 1000000000 }}",
    "{{ 'x'.center(1000000000) }}",
    "{{ 'x' | center(1000000000) }}",
    "{{ '%1000000000d' % 1 }}",
    "{{ '{:1000000000}'.format(1) }}",
    "{{ 10 ** 100000000 }}",
]


@pytest.mark.parametrize("expression", ESCAPES)
def test_meta_yaml_cannot_escape(
    expression: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dunder access, imports, includes and memory bombs in a meta.yaml are RecipeErrors."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil" / "meta.yaml"
    path.parent.mkdir()
    path.write_text(
        "package: {name: evil, version: '1.0'}\n"
        "source: {url: 'https://example.org/evil-1.0.tar.gz'}\n"
        f'about: {{summary: "{expression}"}}\n'
    )

    with pytest.raises(RecipeError, match=r"evil/meta.yaml: .*(sandbox forbids|may not do)"):
        read_recipe(path)
    assert not (tmp_path / "CANARY").exists()


@pytest.mark.parametrize("expression", ESCAPES[:8])
def test_recipe_yaml_cannot_escape(expression: str, tmp_path: Path) -> None:
    """The same holds for `${{ }}` expressions in a recipe.yaml's context."""
    path = tmp_path / "evil" / "recipe.yaml"
    path.parent.mkdir()
    rattler = expression.replace("{{", "${{")
    path.write_text(
        f'context:\n  x: "{rattler}"\n'
        "package: {name: evil, version: '${{ x }}'}\n"
        "source: {url: 'https://example.org/evil.tar.gz'}\n"
    )

    with pytest.raises(RecipeError, match=r"sandbox forbids"):
        read_recipe(path)


def test_selectors_are_sandboxed_too(tmp_path: Path) -> None:
    """A selector is an expression as well: `# [''.__class__]` cannot reach Python internals."""
    path = tmp_path / "evil" / "meta.yaml"
    path.parent.mkdir()
    path.write_text(
        "package: {name: evil, version: '1.0'}\n"
        "source: {url: 'https://example.org/evil-1.0.tar.gz'}  # [''.__class__.__mro__]\n"
    )

    with pytest.raises(RecipeError, match=r"line 2: selector"):
        read_recipe(path)


def test_rewrite_refuses_a_recipe_that_does_not_render(tmp_path: Path) -> None:
    """The rewrite reads with the same sandbox and refuses, rather than editing blind."""
    text = (
        "{% set version = '1.0' %}\n"
        "package: {name: evil, version: '{{ version }}'}\n"
        "source: {url: 'https://example.org/{{ ''.__class__ }}-{{ version }}.tar.gz'}\n"
    )

    with pytest.raises(RewriteRefused, match=r"cannot read the recipe: .*sandbox"):
        rewrite(text, "2.0", lambda url: "0" * 64)


@pytest.mark.parametrize("block", ["", "{% if true %}\n{% endif %}\n"])
def test_a_recipe_cannot_change_what_the_next_recipe_sees(tmp_path: Path, block: str) -> None:
    """The sandbox is shared: a recipe changing `environ` changes it for itself, not for others."""
    recipe = (
        "{% set version = environ.get('V', '1.0') ~ os.environ.get('V', '') %}\n"
        "package: {name: x, version: '{{ version }}'}\n"
        "source: {url: 'https://example.org/x-{{ version }}.tar.gz'}\n"
    )
    changer = tmp_path / "changer" / "meta.yaml"
    reader = tmp_path / "reader" / "meta.yaml"
    for path in (changer, reader):
        path.parent.mkdir()
    changer.write_text(
        "{% do environ.update({'V': '6'}) %}{% do os.environ.update({'V': '.6'}) %}\n"
        "{% do datetime.update({'datetime': None}) %}\n" + block + recipe
    )
    reader.write_text("{% set year = datetime.datetime(2018, 1, 1).year %}\n" + recipe)

    assert read_recipe(changer).version == "6.6"
    assert read_recipe(reader).version == "1.0"
