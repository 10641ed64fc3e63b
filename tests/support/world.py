"""A world for `recipe-bot run` scenarios: the fake GitLab, a local PyPI, a clock, a config."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fake_gitlab import FakeGitLab

from bot.config import Config
from bot.forge.gitlab import GitLabForge as Forge
from bot.run import RunSummary, run_cycle
from support.servers import LocalHttpServer, json_reply

SATURDAY = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
SUNDAY = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PROJECT = "packaging/external-recipes"
DASHBOARD = "Recipe Dashboard"

RECIPE = """\
{{% set name = "{name}" %}}
{{% set version = "{version}" %}}

package:
  name: {{{{ name|lower }}}}
  version: {{{{ version }}}}

source:
  url: {url}
  sha256: {sha}

build:
  number: 3
  noarch: python
  script: {{{{ PYTHON }}}} -m pip install . -vv

requirements:
  host:
    - python >=3.8
    - pip
  run:
    - python >=3.8

about:
  home: https://example.org/{name}
  license: MIT
"""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def recipe_text(name: str, version: str) -> str:
    file = "{{ name }}-{{ version }}.tar.gz"  # templated, as real recipes write it
    url = f"https://pypi.io/packages/source/{name[0]}/{{{{ name }}}}/{file}"
    return RECIPE.format(name=name, version=version, url=url, sha=digest(f"{name}-{version}"))


@dataclass
class LocalPyPI:
    """PyPI's JSON API on a local server; each project's releases can change between runs."""

    server: LocalHttpServer
    projects: dict[str, list[str]] = field(default_factory=dict)
    # A file the upstream replaced after release: (name, version) -> its new content.
    replaced: dict[tuple[str, str], str] = field(default_factory=dict)

    def publish(
        self, name: str, *versions: str, requires: Mapping[str, list[str]] | None = None
    ) -> None:
        """Publish versions; `requires` gives a version's requires_dist, served on its own
        `/pypi/<name>/<version>/json` page as PyPI does."""
        self.projects.setdefault(name, []).extend(versions)
        self.server.routes[f"/pypi/{name}/json"] = lambda _request, name=name: json_reply(
            self.document(name)
        )
        for version, requires_dist in (requires or {}).items():
            info = {"name": name, "version": version, "requires_dist": requires_dist}
            body = json.dumps({"info": info})
            self.server.routes[f"/pypi/{name}/{version}/json"] = (
                lambda _request, body=body: json_reply(body)
            )

    def replace_file(self, name: str, version: str) -> str:
        """The upstream re-uploads a released archive: same name, new bytes, new digest."""
        self.replaced[(name, version)] = f"{name}-{version} (re-uploaded)"
        return digest(self.replaced[(name, version)])

    def document(self, name: str) -> str:
        releases = {
            version: [
                {
                    "filename": f"{name}-{version}.tar.gz",
                    "url": "https://files.pythonhosted.org/packages/ab/cd/"
                    f"{name}-{version}.tar.gz",
                    "digests": {
                        "sha256": digest(self.replaced.get((name, version), f"{name}-{version}"))
                    },
                    "upload_time_iso_8601": "2026-01-01T00:00:00Z",
                    "yanked": False,
                }
            ]
            for version in self.projects[name]
        }
        info = {"name": name, "project_urls": {"Changelog": f"https://example.org/{name}/changes"}}
        return json.dumps({"info": info, "releases": releases})


@dataclass
class World:
    """Everything a scenario touches, and one way to run the bot against it."""

    gitlab: FakeGitLab
    pypi: LocalPyPI
    config: Config
    environ: Mapping[str, str]
    output: io.StringIO = field(default_factory=io.StringIO)

    def run(
        self, now: datetime, *, dry_run: bool = False, recipes: Path | None = None
    ) -> RunSummary:
        token = self.environ.get("GITLAB_TOKEN")
        # Retries without backoff keep the 503 scenarios fast; _connect is tested on its own.
        forge = Forge(self.config.gitlab, token, timeout=5, retries=2, backoff=0) if token else None
        summary = run_cycle(
            self.config,
            recipes=recipes,
            now=now,
            environ=self.environ,
            out=self.output,
            dry_run=dry_run,
            forge=forge,
        )
        self.gitlab.check()
        return summary

    @property
    def project(self):  # type: ignore[no-untyped-def]
        return self.gitlab.project

    def dashboard(self):  # type: ignore[no-untyped-def]
        issues = [
            i for i in self.project.issues.values() if i.title == DASHBOARD and i.state == "opened"
        ]
        assert len(issues) == 1, f"expected one dashboard, found {len(issues)}"
        return issues[0]

    def merge_requests(self, state: str | None = None) -> list:  # type: ignore[type-arg]
        found = sorted(self.project.merge_requests.values(), key=lambda mr: mr.iid)
        return [mr for mr in found if state is None or mr.state == state]

    def configure(self, **changes: object) -> None:
        from dataclasses import replace

        self.config = replace(self.config, **changes)  # type: ignore[arg-type]
