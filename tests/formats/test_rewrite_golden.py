"""Golden rewrites: each tests/formats/golden/<case>/ holds before, after and case.yaml.

case.yaml names the intent, the file name (which picks the format), the new version, the
digest the fake download returns for each new URL, the URLs that fail (to exercise fallbacks),
and how many lines the rewrite may change. Optional: `published` (file name -> sha256 the
upstream lists; never downloaded), `variants` (conda_build_config.yaml values), and `kept`
(the digests of pinned sources, which must survive the rewrite unchanged).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.errors import RewriteRefused
from bot.formats import conda_v0, conda_v1, rewrite
from bot.formats.constraints import pins

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(path.name for path in GOLDEN.iterdir() if path.is_dir())


def _load(case: str) -> tuple[dict[str, Any], str, str]:
    folder = GOLDEN / case
    spec = YAML(typ="safe", pure=True).load((folder / "case.yaml").read_text())
    before = next(folder.glob("before.*"))
    after = folder / f"after{before.suffix}"
    # Bytes, not read_text(): universal newlines would hide a CRLF regression.
    return spec, before.read_bytes().decode(), after.read_bytes().decode()


def _changed_lines(before: str, after: str) -> int:
    diff = difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True))
    return sum(1 for line in diff if line.startswith("- "))


def test_golden_cases_exist() -> None:
    """The table covers the cases the format promises to handle."""
    assert len(CASES) >= 10
    for case in CASES:
        assert (GOLDEN / case / "case.yaml").is_file(), case


@pytest.mark.parametrize("case", CASES)
def test_golden_rewrite(case: str, fake_hashes: Any) -> None:
    """The rewrite of `before` is `after`, byte for byte, changing only the expected lines."""
    spec, before, expected = _load(case)
    sha256_of = fake_hashes(
        {str(k): str(v) for k, v in (spec.get("hashes") or {}).items()}, spec.get("fail")
    )

    result = rewrite(
        before,
        str(spec["version"]),
        sha256_of,
        filename=spec["filename"],
        name=spec.get("name"),
        published=spec.get("published"),
        variants=spec.get("variants"),
    )

    assert result == expected, spec["intent"]
    assert _changed_lines(before, result) == spec["changed_lines"]
    assert len(sha256_of.requested) == len(set(sha256_of.requested)), "a URL was hashed twice"


@pytest.mark.parametrize("case", CASES)
def test_golden_after_reads_back(case: str) -> None:
    """The expected result reads as the new version, with exactly the digests the fake gave."""
    spec, _, after = _load(case)
    normalized = after.replace("\r\n", "\n")
    if spec["filename"].endswith(".txt"):
        versions = {version for name, version in pins(normalized) if name.lower() == spec["name"]}
        assert versions == {str(spec["version"])}
        return
    parse = conda_v1.parse if spec["filename"] == "recipe.yaml" else conda_v0.parse
    parsed = parse(normalized, spec.get("variants"))
    assert parsed.version == str(spec["version"])
    digests = {
        site.sha256 for render in parsed.renders for site in render.sources if site.sha256
    }
    downloaded = {str(digest) for digest in (spec.get("hashes") or {}).values()}
    published = {str(digest) for digest in (spec.get("published") or {}).values()}
    kept = {str(digest) for digest in spec.get("kept", [])}
    # Every downloaded and kept digest is there; the others are published ones (a release
    # publishes more files than the recipe uses).
    assert downloaded | kept <= digests <= downloaded | kept | published


@pytest.mark.parametrize("case", CASES)
def test_golden_rewrite_is_idempotent(case: str, fake_hashes: Any) -> None:
    """Asking again for the version a recipe is already at changes nothing and says why."""
    spec, _, after = _load(case)
    with pytest.raises(RewriteRefused, match=f"already at {spec['version']}"):
        rewrite(
            after,
            str(spec["version"]),
            fake_hashes({}),
            filename=spec["filename"],
            name=spec.get("name"),
        )
