"""Configurations that keep the same lines and give the names read the same values share one
reading: the sources found, per configuration, are exactly those of reading each alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.formats import conda_v0, linewise

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
    conda_v0.parse(PLATFORM_IN_A_VALUE)
    assert len(rendered) == 6  # every platform names itself in the URL
    rendered.clear()
    conda_v0.parse(ENVIRON_CHANGED)
    assert len(rendered) == 6  # a render changes what the next one reads: none is shared


def test_values_equal_in_python_but_rendered_apart_are_not_shared() -> None:
    """`1 == True`: a configuration with one and a configuration with the other differ."""
    lines = ['{% set version = "1.0" %}', "source:", "  url: https://x.org/{{ flag }}.tar.gz"]
    reads = ("flag",)
    one = conda_v0._reading_key(lines, {"flag": 1}, reads)
    true = conda_v0._reading_key(lines, {"flag": True}, reads)
    assert one is not None and true is not None and one != true
    assert conda_v0._reading_key(lines, {"flag": 1}, reads) == one
    assert conda_v0._reading_key(lines, {}, reads) not in (one, true)  # not set at all
