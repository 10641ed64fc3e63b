"""A stateful fake GitLab REST API v4 for tests, served on 127.0.0.1 for the real python-gitlab.

    with running_fake_gitlab() as fake:
        gl = gitlab.Gitlab(fake.url, private_token=fake.token)
        project = gl.projects.get("packaging/external-recipes")

    fake.set_pipeline("recipe-bot/attrs", "success")  # CI reports; armed auto-merges merge

See ``server.py`` for the request pipeline, ``project.py`` for the human actions and project
settings (``merge_method``, ``only_allow_merge_if_pipeline_succeeds``, ``async_mergeability``,
``auto_pipelines``, ``require_sha``), ``mergeability.py`` for ``detailed_merge_status`` and
``routes_merge.py`` for the merge API's refusals.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .mergeability import Mergeability
from .pipelines import Pipeline
from .project import FakeProject, Issue, MergeConflict, MergeRequest, Note, User
from .repository import Commit, Person
from .server import (
    DEFAULT_FILES,
    DEFAULT_PROJECT,
    FakeGitLab,
    Options,
    running_fake_gitlab,
    start_fake_gitlab,
)
from .wire import RecordedRequest

__all__ = [
    "DEFAULT_FILES",
    "DEFAULT_PROJECT",
    "Commit",
    "FakeGitLab",
    "FakeProject",
    "Issue",
    "MergeConflict",
    "MergeRequest",
    "Mergeability",
    "Note",
    "Options",
    "Person",
    "Pipeline",
    "RecordedRequest",
    "User",
    "fake_gitlab",
    "running_fake_gitlab",
    "start_fake_gitlab",
]


@pytest.fixture
def fake_gitlab() -> Iterator[FakeGitLab]:
    """A running fake with ``packaging/external-recipes`` seeded on ``main``; re-export it from
    a conftest.py (``from fake_gitlab import fake_gitlab``) to use it."""
    with running_fake_gitlab() as fake:
        yield fake
