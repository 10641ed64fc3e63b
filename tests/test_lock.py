"""The run lock: one writer per project, held as a branch in GitLab (the fake one here)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
from fake_gitlab import FakeGitLab, RecordedRequest, running_fake_gitlab
from structlog.testing import capture_logs

from bot.config import Config, GitLabConfig
from bot.errors import ForgeError
from bot.forge.gitlab import GitLabForge as Forge
from bot.lock import DEFAULT_TTL, LOCK_FILE, LockBusy, lock_branch, run_lock

T0 = 1_717_243_200.0  # 2024-06-01T12:00:00Z
BRANCH = "recipe-bot/_run-lock"


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self, start: float = T0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with running_fake_gitlab() as server:
        yield server


@pytest.fixture
def config(fake: FakeGitLab) -> Config:
    return Config(gitlab=GitLabConfig(url=fake.url, project="packaging/external-recipes"))


def connect(config: Config, token: str = "fake-token") -> Forge:
    # No retries and no backoff: a fault shows at once instead of after urllib3's sleeps.
    return Forge(config.gitlab, token, timeout=5, retries=0, backoff=0)


def take(forge: Forge, config: Config, **options: Any) -> None:
    """Acquire and release at once: raises what acquiring raises."""
    with run_lock(forge, config, **options):
        pass


def head_files(fake: FakeGitLab) -> dict[str, str]:
    head = fake.project.repo.head(BRANCH)
    return dict(head.files) if head else {}


def lock_file(fake: FakeGitLab) -> dict[str, object] | None:
    files = head_files(fake)
    return dict(json.loads(files[LOCK_FILE])) if LOCK_FILE in files else None


def test_lock_branch_is_the_prefix_plus_a_name_no_recipe_can_have(config: Config) -> None:
    """The lock branch sits under the bot's prefix, named with a leading underscore."""
    assert lock_branch(config) == BRANCH


def test_acquire_writes_the_holder_and_release_deletes_the_branch(
    fake: FakeGitLab, config: Config
) -> None:
    """Holding the lock means a lock branch naming us; leaving the block removes it."""
    clock = FakeTime()
    with run_lock(connect(config), config, holder="serve@host-a", clock=clock):
        content = lock_file(fake)
        assert content is not None
        assert content["holder"] == "serve@host-a"
        assert content["acquired_at"] == "2024-06-01T12:00:00+00:00"
        assert content["expires_at"] == "2024-06-01T12:05:00+00:00"  # a five-minute lease
        assert {"pid", "host", "token"} <= content.keys()
        assert head_files(fake)["README.md"]  # branched from main
    assert lock_file(fake) is None
    assert BRANCH not in fake.project.repo.branches


def test_the_lock_is_taken_with_one_commit_call_without_force(
    fake: FakeGitLab, config: Config
) -> None:
    """Acquiring is a single commits-API create that GitLab refuses when the branch exists."""
    forge = connect(config)
    forge.project  # noqa: B018 -- look the project up before counting writes
    with run_lock(forge, config, clock=FakeTime()):
        writes = fake.writes()
    assert len(writes) == 1
    (write,) = writes
    assert write.path.endswith("/repository/commits")
    assert write.body["branch"] == BRANCH
    assert write.body["start_branch"] == "main"
    assert not write.body.get("force")


def test_second_acquire_while_held_names_the_holder_and_since_when(
    fake: FakeGitLab, config: Config
) -> None:
    """A second run that may not wait is refused with who holds the lock and since when."""
    clock = FakeTime()
    with run_lock(connect(config), config, holder="serve@host-a", clock=clock):
        clock.now += 200  # within the lease
        with pytest.raises(LockBusy) as caught:
            take(connect(config), config, holder="alice@laptop", clock=clock)
        assert "serve@host-a" in str(caught.value)
        assert "since 2024-06-01T12:00:00+00:00" in str(caught.value)
        assert BRANCH in str(caught.value)
        assert caught.value.holder.holder == "serve@host-a"
        assert isinstance(caught.value, ForgeError)
        assert lock_file(fake)["holder"] == "serve@host-a"  # type: ignore[index]
    assert clock.sleeps == []


def test_waiting_run_gets_the_lock_once_it_is_released(fake: FakeGitLab, config: Config) -> None:
    """A run allowed to wait polls until the holder releases, then holds the lock itself."""
    clock = FakeTime()
    first = ExitStack()
    first.enter_context(run_lock(connect(config), config, holder="first", clock=clock))

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 2:
            first.close()  # the first run finishes while the second waits

    forge = connect(config)
    with run_lock(forge, config, holder="second", wait=60, poll=5, clock=clock, sleep=sleep):
        assert lock_file(fake)["holder"] == "second"  # type: ignore[index]
    assert clock.sleeps == [5, 5]
    assert lock_file(fake) is None


def test_waiting_is_bounded(fake: FakeGitLab, config: Config) -> None:
    """A run that waited its full `wait` without the lock being released gives up with LockBusy."""
    clock = FakeTime()
    held = run_lock(connect(config), config, holder="first", clock=clock)
    with held, pytest.raises(LockBusy, match="first"):
        take(connect(config), config, wait=25, poll=10, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == [10, 10, 5]


def test_stale_lock_is_broken_and_the_dead_holder_cannot_release_ours(
    fake: FakeGitLab, config: Config
) -> None:
    """An expired lock is taken over; its old holder, leaving late, leaves the new lock alone."""
    clock = FakeTime()
    dead = ExitStack()
    dead.enter_context(run_lock(connect(config), config, holder="dead", clock=clock))
    clock.now += DEFAULT_TTL + 1
    with capture_logs() as logs, run_lock(connect(config), config, holder="alive", clock=clock):
        assert lock_file(fake)["holder"] == "alive"  # type: ignore[index]
        dead.close()  # the old holder wakes up and releases
        assert lock_file(fake)["holder"] == "alive"  # type: ignore[index]
    assert lock_file(fake) is None
    events = [entry["event"] for entry in logs]
    assert "lock_broken" in events
    assert any(e["event"] == "lock_lost" and e["why"] == "taken over as stale" for e in logs)


def test_two_runs_breaking_the_same_stale_lock_cannot_both_win(
    fake: FakeGitLab, config: Config
) -> None:
    """Taking over a stale lock is a compare-and-swap: the loser finds the winner's fresh lock."""
    clock = FakeTime()
    dead = ExitStack()
    dead.enter_context(run_lock(connect(config), config, holder="dead", clock=clock))
    clock.now += DEFAULT_TTL + 1
    stale_commit = fake.project.repo.branches[BRANCH]
    won = False

    def race(request: RecordedRequest) -> None:
        # Just before the loser's take-over lands, the winner takes the lock over.
        nonlocal won
        actions = request.body.get("actions") if isinstance(request.body, dict) else None
        if actions and "last_commit_id" in actions[0] and not won:
            won = True
            fake.push_to_branch(
                BRANCH,
                {
                    LOCK_FILE: json.dumps(
                        {
                            "holder": "winner",
                            "pid": 1,
                            "host": "h",
                            "token": "w",
                            "acquired_at": "2024-06-01T14:00:01+00:00",
                            "expires_at": "2024-06-01T16:00:01+00:00",
                        }
                    )
                },
            )

    forge = connect(config)
    unsubscribe = fake.on_request(race)
    try:
        with pytest.raises(LockBusy, match="winner"):
            take(forge, config, holder="loser", clock=clock)
    finally:
        unsubscribe()
    assert won
    assert fake.project.repo.branches[BRANCH] != stale_commit
    assert lock_file(fake)["holder"] == "winner"  # type: ignore[index]
    dead.close()


def test_a_branch_without_a_lock_file_counts_as_held_until_it_is_old(
    fake: FakeGitLab, config: Config
) -> None:
    """A lock branch someone made by hand blocks runs, then expires by its commit's age."""
    fake.push_to_branch(BRANCH, {"notes.txt": "hands off\n"})
    repo = fake.project.repo
    now = repo.commits[repo.branches[BRANCH]].created_at.timestamp()
    with pytest.raises(LockBusy, match="unknown"):
        take(connect(config), config, clock=FakeTime(now + 60))
    with run_lock(connect(config), config, holder="later", clock=FakeTime(now + DEFAULT_TTL + 60)):
        assert lock_file(fake)["holder"] == "later"  # type: ignore[index]
    assert BRANCH not in fake.project.repo.branches


def test_lock_is_released_when_the_run_fails(fake: FakeGitLab, config: Config) -> None:
    """A run that raises still deletes its lock branch on the way out."""
    with pytest.raises(RuntimeError), run_lock(connect(config), config, clock=FakeTime()):
        raise RuntimeError("boom")
    assert BRANCH not in fake.project.repo.branches


def test_gitlab_down_is_a_forge_error_not_a_wait(fake: FakeGitLab, config: Config) -> None:
    """An unreachable GitLab fails the acquire at once, even for a run allowed to wait."""
    clock = FakeTime()
    fake.down = True
    with pytest.raises(ForgeError) as caught:
        take(connect(config), config, wait=600, clock=clock, sleep=clock.sleep)
    assert not isinstance(caught.value, LockBusy)
    assert "503" in str(caught.value)
    assert clock.sleeps == []


def test_wrong_token_is_a_forge_error(fake: FakeGitLab, config: Config) -> None:
    """A refused token surfaces as ForgeError naming the 401, never as a busy lock."""
    with pytest.raises(ForgeError, match="401"):
        take(Forge(config.gitlab, "wrong", retries=0), config, clock=FakeTime())


def test_missing_target_branch_is_a_forge_error(fake: FakeGitLab) -> None:
    """A 400 that does not come from an existing lock is reported, not mistaken for a lock."""
    config = Config(
        gitlab=GitLabConfig(
            url=fake.url, project="packaging/external-recipes", target_branch="nope"
        )
    )
    with pytest.raises(ForgeError, match="could not create the lock branch: 400"):
        take(connect(config), config, clock=FakeTime())
    assert BRANCH not in fake.project.repo.branches


def test_release_failure_is_logged_not_raised(fake: FakeGitLab, config: Config) -> None:
    """GitLab going down during the run leaves the lock to expire and does not mask the run."""
    with capture_logs() as logs, run_lock(connect(config), config, clock=FakeTime()):
        fake.down = True
    fake.down = False
    assert [e for e in logs if e["event"] == "lock_release_failed"]
    assert BRANCH in fake.project.repo.branches


def test_a_lock_this_process_failed_to_release_is_taken_over_at_once(
    fake: FakeGitLab, config: Config
) -> None:
    """After a release lost to a GitLab outage, the next run of the same process is not blocked."""
    clock = FakeTime()
    with run_lock(connect(config), config, holder="serve", clock=clock):
        fake.down = True
    fake.down = False
    assert BRANCH in fake.project.repo.branches
    with capture_logs() as logs, run_lock(connect(config), config, holder="serve", clock=clock):
        assert lock_file(fake)["holder"] == "serve"  # type: ignore[index]
    broken = [entry for entry in logs if entry["event"] == "lock_broken"]
    assert [entry["why"] for entry in broken] == ["left by this process"]
    assert BRANCH not in fake.project.repo.branches


def test_a_live_lock_of_another_process_is_respected(fake: FakeGitLab, config: Config) -> None:
    """A lock written by another process (another machine, say) that has not expired blocks."""
    fake.push_to_branch(
        BRANCH,
        {
            LOCK_FILE: json.dumps(
                {
                    "holder": "ci@runner-7",
                    "pid": 1,
                    "host": "runner-7",
                    "token": "t",
                    "process": "p",
                    "acquired_at": "2024-06-01T11:30:00+00:00",
                    "expires_at": "2024-06-01T13:30:00+00:00",
                }
            )
        },
    )
    with pytest.raises(LockBusy, match=r"ci@runner-7 on runner-7, pid 1, since 2024-06-01T11:30"):
        take(connect(config), config, clock=FakeTime())


_HOLDER = """
import socket, sys, time
host = sys.argv[3]
if host:
    socket.gethostname = lambda: host  # another machine, as far as the lock can tell
from bot.config import Config, GitLabConfig
from bot.forge.gitlab import GitLabForge as Forge
from bot.lock import run_lock
config = Config(gitlab=GitLabConfig(url=sys.argv[1], project=sys.argv[2]))
forge = Forge(config.gitlab, "fake-token", timeout=5, retries=0, backoff=0)
with run_lock(forge, config, holder="doomed", ttl=float(sys.argv[4]), heartbeat=0.2):
    print("held", flush=True)
    time.sleep(600)
"""


def _doomed_holder(fake: FakeGitLab, config: Config, host: str, ttl: float) -> int:
    """A run in a child process that takes the lock, renews it, and is then SIGKILLed."""
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, fake.url, config.gitlab.project, host, str(ttl)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert "held" in iter(lambda: child.stdout.readline().strip(), ""), "the child took it"
        first = lock_file(fake)
        deadline = time.monotonic() + 10
        while lock_file(fake) == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock_file(fake) != first, "the holder renewed its lease"
    finally:
        child.kill()
        child.wait()
    return child.pid


def test_a_run_killed_on_another_host_blocks_the_next_only_for_its_lease(
    fake: FakeGitLab, config: Config
) -> None:
    """SIGKILL mid-run: renewals stop, the lease runs out, and the next run goes ahead."""
    _doomed_holder(fake, config, host="pod-that-died", ttl=2)

    forge = connect(config)
    with capture_logs() as logs, run_lock(forge, config, holder="next", wait=20, poll=0.2):
        assert lock_file(fake)["holder"] == "next"  # type: ignore[index]
    broken = [entry for entry in logs if entry["event"] == "lock_broken"]
    assert [entry["why"] for entry in broken] == ["expired"]
    assert [entry["holder"] for entry in broken] == ["doomed"]


def test_a_run_killed_on_this_host_is_seen_dead_at_once(fake: FakeGitLab, config: Config) -> None:
    """A holder on this host whose pid is gone does not make the next run wait its lease."""
    pid = _doomed_holder(fake, config, host="", ttl=3600)

    with capture_logs() as logs, run_lock(connect(config), config, holder="next", wait=0):
        assert lock_file(fake)["holder"] == "next"  # type: ignore[index]
    (broken,) = [entry for entry in logs if entry["event"] == "lock_broken"]
    assert broken["why"] == f"its holder (pid {pid} on this host) is gone"


def test_a_held_lease_is_renewed_and_outlives_its_ttl(fake: FakeGitLab, config: Config) -> None:
    """While the block runs, beats push the expiry on; another run is refused past the TTL."""
    clock = FakeTime()
    with run_lock(connect(config), config, holder="busy", clock=clock, heartbeat=0.05):
        clock.now += DEFAULT_TTL - 10
        deadline = time.monotonic() + 10
        while lock_file(fake)["expires_at"] == "2024-06-01T12:05:00+00:00":  # type: ignore[index]
            assert time.monotonic() < deadline, "no renewal"
            time.sleep(0.02)
        clock.now += 100  # past the first lease, within the renewed one
        with pytest.raises(LockBusy):
            take(connect(config), config, holder="other", clock=clock, heartbeat=None)
    assert BRANCH not in fake.project.repo.branches


def test_a_holder_taken_over_learns_it_at_its_next_beat(fake: FakeGitLab, config: Config) -> None:
    """If a run thought dead is taken over, its renewal is refused and it logs the lock lost."""
    clock = FakeTime()
    later = FakeTime(T0 + DEFAULT_TTL + 1)  # a run that sees the slow one's lease expired
    slow = connect(config)
    with (
        capture_logs() as logs,
        run_lock(slow, config, holder="slow", clock=clock, heartbeat=0.05),
        run_lock(connect(config), config, holder="eager", clock=later, heartbeat=None),
    ):
        clock.now += 5  # the slow run's next renewal has a later expiry to write
        deadline = time.monotonic() + 10
        while not [entry for entry in logs if entry["event"] == "lock_lost"]:
            assert time.monotonic() < deadline, "the taken-over holder never noticed"
            time.sleep(0.02)
        assert lock_file(fake)["holder"] == "eager"  # type: ignore[index]
        with pytest.raises(ForgeError, match="taken over by another run"):
            slow.create_issue("a write the lost holder must not make", [], "")
    lost = [entry for entry in logs if entry["event"] == "lock_lost"]
    assert lost[0]["why"] == "taken over while held"
    assert [issue.title for issue in fake.project.issues.values()] == []


def test_a_renewal_whose_reply_was_lost_is_not_taken_for_a_lost_lock(
    fake: FakeGitLab, config: Config
) -> None:
    """The renewal landed, its reply did not: the next beat sees its own write and goes on."""
    clock = FakeTime()
    renewals: list[object] = []

    def first_renewal(request: RecordedRequest) -> bool:
        if request.method == "POST" and "'update'" in str(request.body):  # not the create
            renewals.append(request)
        return len(renewals) == 1

    with capture_logs() as logs, run_lock(
        connect(config), config, holder="steady", clock=clock, heartbeat=0.05
    ):
        fake.lose_reply(first_renewal)
        for _ in range(3):  # three renewals, the first one's reply lost
            clock.now += 30
            wanted = datetime.fromtimestamp(clock.now + DEFAULT_TTL, UTC).isoformat()
            deadline = time.monotonic() + 10
            while lock_file(fake)["expires_at"] != wanted:  # type: ignore[index]
                assert time.monotonic() < deadline, f"no renewal to {wanted}"
                time.sleep(0.02)
    assert [entry for entry in logs if entry["event"] == "lock_lost"] == []
    assert any(entry["event"] == "lock_renewal_failed" for entry in logs)
    assert BRANCH not in fake.project.repo.branches  # released as the holder it still was


def test_a_holder_in_another_pid_namespace_is_not_judged_by_our_pids(
    fake: FakeGitLab, config: Config
) -> None:
    """Same hostname, a pid we do not have, another pid namespace: alive as far as we know."""
    import socket

    fake.push_to_branch(
        BRANCH,
        {
            LOCK_FILE: json.dumps(
                {
                    "holder": "bot@shared-host",
                    "pid": 2**22 + 1,  # no such pid here
                    "host": socket.gethostname(),
                    "token": "t",
                    "process": "p",
                    "pidns": "another-namespace",
                    "acquired_at": "2024-06-01T11:58:00+00:00",
                    "expires_at": "2024-06-01T12:03:00+00:00",
                }
            )
        },
    )
    with pytest.raises(LockBusy, match="bot@shared-host"):
        take(connect(config), config, holder="next", clock=FakeTime(), heartbeat=None)


def test_writes_stop_when_the_lease_runs_out_unrenewed(fake: FakeGitLab, config: Config) -> None:
    """Renewals failing (GitLab slow for the renewer): writes stop before the lease ends."""
    clock = FakeTime()
    forge = connect(config)
    with run_lock(forge, config, holder="stuck", clock=clock, heartbeat=None):
        forge.create_issue("allowed while the lease lasts", [], "")
        clock.now += DEFAULT_TTL - 5
        with pytest.raises(ForgeError, match=r"lease .* runs out"):
            forge.create_issue("refused", [], "")
    assert [issue.title for issue in fake.project.issues.values()] == [
        "allowed while the lease lasts"
    ]


def test_a_renewal_refused_against_our_own_write_is_a_failed_beat(
    fake: FakeGitLab, config: Config
) -> None:
    """A GitLab that refuses every commit (push rules) makes failed beats, not a recursion."""
    clock = FakeTime()
    with capture_logs() as logs, run_lock(
        connect(config), config, holder="pushed-back", clock=clock, heartbeat=0.05
    ):
        fake.fail_next(1000, status=400, method="POST")
        clock.now += 30
        deadline = time.monotonic() + 10
        while not [entry for entry in logs if entry["event"] == "lock_renewal_failed"]:
            assert time.monotonic() < deadline, "no failed beat"
            time.sleep(0.02)
    failed = [entry for entry in logs if entry["event"] == "lock_renewal_failed"]
    assert "refused the renewal commit twice" in failed[0]["error"]
    assert not [entry for entry in logs if entry["event"] == "lock_heartbeat_crashed"]
