"""The forge: where branches, merge requests and the dashboard live (bot.forge.api says what
the run needs of one; bot.forge.gitlab is GitLab's implementation).

    forge = connect(config, token)               # the run's client
    renewer = connect(config, token, quick=True)  # short time-outs, no retries: the lock's beats
"""

from __future__ import annotations

from bot.config import Config
from bot.errors import ConfigError
from bot.forge.api import (
    AutoMerge,
    BranchHead,
    Forge,
    ForgeConflict,
    Issue,
    LeaseFile,
    Mergeability,
    MergeRequest,
    MergeRequestRef,
    MergeRequestState,
    MergeRequestStatus,
    Outcome,
    Pipeline,
    PipelineStatus,
)
from bot.forge.markers import MARKER, TRAILER, marker, trailer

__all__ = [
    "MARKER",
    "TRAILER",
    "AutoMerge",
    "BranchHead",
    "Forge",
    "ForgeConflict",
    "Issue",
    "LeaseFile",
    "MergeRequest",
    "MergeRequestRef",
    "MergeRequestState",
    "MergeRequestStatus",
    "Mergeability",
    "Outcome",
    "Pipeline",
    "PipelineStatus",
    "configured",
    "connect",
    "marker",
    "require_project",
    "trailer",
]


def configured(config: Config) -> bool:
    """Whether the configuration names a forge project at all."""
    return bool(config.gitlab.url and config.gitlab.project)


def require_project(config: Config, purpose: str) -> None:
    """ConfigError naming the key and the file unless a forge project is configured."""
    if not configured(config):
        raise ConfigError(
            f"gitlab.url and gitlab.project are needed {purpose}", key="gitlab", file=config.source
        )


def connect(config: Config, token: str | None, *, quick: bool = False) -> Forge:
    """The forge client for the configured project. `quick`: short time-outs and no retries,
    for calls that must not outlast a deadline (the lock's renewals)."""
    from bot.forge.gitlab import GitLabForge  # python-gitlab is imported when a run needs it

    if quick:
        return GitLabForge(
            config.gitlab,
            token,
            timeout=min(config.http.timeout, 10),
            retries=0,
            ca_bundle=config.http.ca_bundle,
        )
    return GitLabForge(
        config.gitlab, token, timeout=config.http.timeout, ca_bundle=config.http.ca_bundle
    )
