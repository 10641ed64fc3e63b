"""The audit's contract: which old digests still standing in the new text count as stale."""

from __future__ import annotations

from bot.formats.audit import stale_checksum

OLD = "a" * 64
NEW = "b" * 64
COMMIT = "c" * 40


def test_an_old_checksum_left_in_place_is_reported_with_its_line_number() -> None:
    """The audit names the 1-based line of the old text that held the stale digest."""
    before = ["package:", "  name: foo", "source:", f"  sha256: {OLD}"]
    after = ["package:", "  name: foo", "source:", f"  sha256: {OLD}"]
    assert stale_checksum(before, after, allowed=set()) == (4, OLD)


def test_a_replaced_checksum_is_not_stale() -> None:
    """Once every old digest is replaced, the audit has nothing to say."""
    assert stale_checksum([f"sha256: {OLD}"], [f"sha256: {NEW}"], allowed=set()) is None


def test_allowed_digests_are_not_stale() -> None:
    """A digest of a source that did not move (given as allowed, lower case) may stay."""
    text = [f"sha256: {OLD.upper()}"]
    assert stale_checksum(text, text, allowed={OLD}) is None


def test_a_pinned_revision_line_does_not_hide_a_later_stale_checksum() -> None:
    """Lines that pin a commit are skipped, and the lines after them are still read."""
    before = [f"git_rev: {COMMIT}", f"sha256: {OLD}"]
    after = [f"git_rev: {COMMIT}", f"sha256: {OLD}"]
    assert stale_checksum(before, after, allowed=set()) == (2, OLD)


def test_an_old_digest_kept_in_a_comment_is_not_stale() -> None:
    """A comment that mentions the old digest is no checksum the build would use."""
    before = [f"  sha256: {OLD}"]
    after = [f"  sha256: {NEW}  # was {OLD}"]
    assert stale_checksum(before, after, allowed=set()) is None


def test_a_commented_out_old_checksum_is_not_read_as_one() -> None:
    """An old digest that only ever stood in a comment is not checked at all."""
    before = [f"# sha256: {OLD}", f"sha256: {NEW}"]
    after = [f"# sha256: {OLD}", f"sha256: {NEW}"]
    assert stale_checksum(before, after, allowed={NEW}) is None


def test_a_commit_inside_a_url_is_no_checksum() -> None:
    """A digest-shaped commit in a download URL (`?id=<commit>`) is not audited."""
    line = f"  url: https://example.org/get?id={COMMIT}"
    assert stale_checksum([line], [line], allowed=set()) is None
