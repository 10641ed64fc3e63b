"""Whether an open merge request can be merged, in GitLab's words (``detailed_merge_status``).

GitLab checks in this order and reports the first that fails: not open, still being computed
(``unchecked``, only with ``async_mergeability``), draft, conflicts, fast-forward needing a
rebase, a pipeline that must succeed; otherwise ``mergeable``. The legacy ``merge_status`` and
``has_conflicts`` only ever tell conflicts from no conflicts, and say nothing while unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .pipelines import ACTIVE

if TYPE_CHECKING:
    from .project import FakeProject, MergeRequest

DRAFT_PREFIXES = ("draft:", "[draft]", "(draft)")


@dataclass(frozen=True)
class Mergeability:
    detailed: str
    has_conflicts: bool = False

    @property
    def merge_status(self) -> str:
        if self.detailed == "unchecked":
            return "unchecked"
        return "cannot_be_merged" if self.has_conflicts else "can_be_merged"


UNCHECKED = Mergeability("unchecked")


def is_draft(mr: MergeRequest) -> bool:
    return mr.title.lower().startswith(DRAFT_PREFIXES)


def assess(project: FakeProject, mr: MergeRequest) -> Mergeability:
    """The settled answer, as GitLab has it once its background check has run."""
    if mr.state != "opened":
        return Mergeability("not_open")
    conflicts = bool(project.conflicts(mr))
    if is_draft(mr):
        return Mergeability("draft_status", conflicts)
    if conflicts:
        return Mergeability("conflict", True)
    if project.merge_method == "ff" and project.behind_target(mr):
        return Mergeability("need_rebase")
    if project.only_allow_merge_if_pipeline_succeeds:
        pipeline = project.head_pipeline(mr)
        if pipeline is not None and pipeline.status in ACTIVE:
            return Mergeability("ci_still_running")
        if pipeline is None or pipeline.status != "success":
            return Mergeability("ci_must_pass")
    return Mergeability("mergeable")
