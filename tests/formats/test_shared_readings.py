"""Configurations that keep the same lines and give the names read the same values share one
reading: the sources found, per configuration, are exactly those of reading each alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.formats import conda_v0, linewise, yamlio

ROOT = Path(__file__).resolve().parents[2]
TEXTS = sorted(
    [*ROOT.glob("recipes-fixtures/*/meta.yaml"), *ROOT.glob("tests/formats/golden/*/before.yaml")]
)

PLATFORM_IN_A_VALUE = """\
{% set version = "1.0" %}
package:
  name: tool
  version: {{ version }}
source:
  url: https://x.org/tool-{{ version }}-{{ "win" if win else target_platform }}.tar.gz
  sha256: {{ "a" * 64 }}
"""
PLATFORM_IN_A_SET = """\
{% set version = "1.0" %}
{% set arch = "arm" if aarch64 or arm64 else "intel" %}
package:
  name: tool
  version: {{ version }}
source:
  url: https://x.org/tool-{{ version }}-{{ arch }}.tar.gz
"""
ENVIRON_CHANGED = """\
{% set version = "1.0" %}
{% do environ.update({"SEEN": environ.get("SEEN", "") ~ "x"}) %}
package:
  name: tool
  version: {{ version }}
source:
  url: https://x.org/tool-{{ version }}-{{ environ["SEEN"] }}.tar.gz
"""
SELECTED = """\
{% set version = "2.1" %}
{% set sha256 = "aa" %}  # [unix]
{% set sha256 = "bb" %}  # [win]
package:
  name: tool
  version: {{ version }}
source:
  url: https://x.org/tool-{{ version }}.tar.gz  # [unix]
  url: https://x.org/tool-{{ version }}.zip  # [win]
  sha256: {{ sha256 }}
build:
  skip: true  # [py<39]
"""


REQUIREMENTS_APART = """\
{% set version = "3.2" %}
package:
  name: tool
  version: {{ version }}
source:
  url: https://x.org/tool-{{ version }}.tar.gz
  sha256: 1111111111111111111111111111111111111111111111111111111111111111
build:
  number: 0
requirements:
  build:
    - make  # [unix]
    - m2-make  # [win]
  host:
    - zlib
    - libiconv  # [osx]
  run: [a,
    b,  # [unix]
    c]
test:
  commands:
    - tool --version  # [not win]
    - tool.exe --version  # [win]
about:
  summary: a hash in the text, 1111111111111111111111111111111111111111111111111111111111111111
"""
# A hash that one platform's test line repeats: which line holds it, alone, is the platform's.
HASH_REPEATED = (
    REQUIREMENTS_APART.replace(
        "  sha256: " + "1" * 64, "  sha256: " + "1" * 64 + "  # [unix or win]"
    )
    .replace("  summary: a hash in the text, " + "1" * 64, "  summary: no hash")
    .replace("    - tool.exe --version  # [win]", "    - echo " + "1" * 64 + "  # [win]")
)
# Not a plain block mapping (an anchor): lines of other blocks are not known to stay there.
NOT_PLAIN = REQUIREMENTS_APART.replace("  summary: a hash", "  summary: &s a hash")
# Lines that do reach past their own: a key at column 0, a quote, a bracket, an anchor.
REACHING = [
    REQUIREMENTS_APART.replace("requirements:\n", "requirements:  # [unix]\n"),
    REQUIREMENTS_APART.replace("    - libiconv  # [osx]", '    - "libiconv"  # [osx]'),
    REQUIREMENTS_APART.replace("    b,  # [unix]", "    b], x: [  # [unix]"),
    REQUIREMENTS_APART.replace("    - zlib", "    - &z zlib").replace(
        "    - libiconv  # [osx]", "    - *z  # [osx]"
    ),
    REQUIREMENTS_APART.replace("  number: 0", "  number: 0\n  skip: true  # [win]"),
    # Where `requirements:` is dropped, its lines are build's: this one skips Linux.
    REQUIREMENTS_APART.replace(
        "requirements:\n", "requirements:  # [win]\n  skip: true  # [linux]\n"
    ),
    REQUIREMENTS_APART.replace("about:\n", "about:\n  home: {{ version }}  # [win]\n"),
]


def _each_alone(monkeypatch: pytest.MonkeyPatch, text: str) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(conda_v0, "_reading_key", lambda *args: None)
        return conda_v0.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(PLATFORM_IN_A_VALUE, id="a platform in a value"),
        pytest.param(PLATFORM_IN_A_SET, id="a platform in a set"),
        pytest.param(ENVIRON_CHANGED, id="environ changed by a render"),
        pytest.param(SELECTED, id="selectors"),
        pytest.param(REQUIREMENTS_APART, id="selectors in blocks never read"),
        pytest.param(HASH_REPEATED, id="a hash repeated on one platform"),
        pytest.param(NOT_PLAIN, id="not a plain mapping"),
        *(pytest.param(text, id=f"reaching past its line {n}") for n, text in enumerate(REACHING)),
        *(pytest.param(path.read_text(), id=path.parent.name) for path in TEXTS),
    ],
)
def test_shared_readings_read_what_each_configuration_reads_alone(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    try:
        alone = _each_alone(monkeypatch, text)
    except Exception as error:  # an unreadable text stays unreadable, for the same reason
        with pytest.raises(type(error), match=re.escape(str(error))):
            conda_v0.parse(text)
        return
    assert conda_v0.parse(text) == alone


def test_a_platform_a_value_reads_is_read_per_platform() -> None:
    urls = {render.sources[0].url for render in conda_v0.parse(PLATFORM_IN_A_VALUE).renders}
    assert urls == {
        f"https://x.org/tool-1.0-{name}.tar.gz"
        for name in ("linux-64", "linux-aarch64", "linux-ppc64le", "osx-64", "osx-arm64", "win")
    }


def test_configurations_that_read_alike_are_rendered_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[list[str]] = []
    render = linewise.Lines.render

    def counting(self: linewise.Lines, kept: list[str], variables: Any) -> Any:
        rendered.append(kept)
        return render(self, kept, variables)

    monkeypatch.setattr(linewise.Lines, "render", counting)
    parsed = conda_v0.parse(SELECTED)
    # Unix and Windows keep other lines, and so do Pythons before 3.9 and after: 4 of 18.
    assert len(parsed.renders) == 18 and len(rendered) == 4
    rendered.clear()
    conda_v0.parse(REQUIREMENTS_APART)
    assert len(rendered) == 1  # the platforms differ in requirements and test only
    for text in [*REACHING, NOT_PLAIN]:
        rendered.clear()
        conda_v0.parse(text)
        assert len(rendered) > 1, text
    rendered.clear()
    conda_v0.parse(PLATFORM_IN_A_VALUE)
    assert len(rendered) == 6  # every platform names itself in the URL
    rendered.clear()
    conda_v0.parse(ENVIRON_CHANGED)
    assert len(rendered) == 6  # a render changes what the next one reads: none is shared


def test_values_equal_in_python_but_rendered_apart_are_not_shared() -> None:
    """`1 == True`: a configuration with one and a configuration with the other differ."""
    truth, reads, counted = (True,), ("flag",), [0]
    one = conda_v0._reading_key(truth, {"flag": 1}, reads, counted)
    true = conda_v0._reading_key(truth, {"flag": True}, reads, counted)
    assert one is not None and true is not None and one != true
    assert conda_v0._reading_key(truth, {"flag": 1}, reads, counted) == one
    assert conda_v0._reading_key(truth, {}, reads, counted) not in (one, true)  # not set at all
    assert conda_v0._reading_key((False,), {"flag": 1}, reads, counted) != one  # other lines
    assert conda_v0._reading_key((False,), {"flag": 1}, reads, []) == (
        conda_v0._reading_key(truth, {"flag": 1}, reads, [])  # a selector no reading depends on
    )


@pytest.mark.parametrize(
    ("output", "plain"),
    [
        ("package:\n  name: x\nsource:\n- url: u\n# note\nbuild: {number: 0}\n", True),
        ('package:\n  name: "x\nsource: y"\n', False),  # a quote runs over a column-0 key
        ("package: {name: x,\nsource: y}\n", False),  # and so does a flow mapping
        ("package:\n  name: x\npackage:\n  name: y\n", False),  # a key twice
        ("---\npackage: {}\n", False),
        ("package: &p {}\nsource: *p\n", False),
    ],
)
def test_a_plain_mapping_has_its_keys_at_column_0_each_once(output: str, plain: bool) -> None:
    assert conda_v0._plain_mapping(output, yamlio.load(output)) is plain
