"""One writer per project: a run lock held on the forge itself, so it holds across machines.

The lock is a branch, `<branch_prefix>_run-lock` (a recipe name never starts with "_", so it
cannot collide with a recipe branch), made in one commit that creates it from the target
branch with `.recipe-bot-lock.json` (who holds it, since and until when). The forge refuses
that commit (ForgeConflict) when the branch already exists: that refusal is the mutex.
Releasing deletes the branch, but only while the file there still names us. Every call goes
through the forge's lease verbs (bot.forge.api); none of them is held back by the write guard
this lock sets, since they are how the lock is kept.

The lock is a lease: it expires `ttl` seconds (5 minutes) after it was last renewed, and its
holder renews it every `heartbeat` seconds (a minute) from a background thread for as long as
the run works. A holder that was killed (OOM, SIGKILL, a drained node) stops renewing, so its
lock is free a few minutes later, not hours; one that died on this very host is seen dead at
once (its pid is gone). An expired lock is taken over with a compare-and-swap: a commit on
the lock branch that rewrites the file on condition that its last commit is still the stale
lock's, which the forge refuses if anyone else changed the file meanwhile, so two runs that
both find a stale lock cannot both take it. Renewals are the same compare-and-swap, against
our own last commit: a holder that was taken over (thought dead) finds out at its next beat.
A lock left by this very process (a run whose release failed because the forge was down at that
moment) is taken over the same way at once, so `recipe-bot serve` does not block itself for
the whole TTL after one GitLab outage.

    with run_lock(forge, config, wait=600):
        ...  # read the forge's state, write branches, merge requests and the dashboard
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import structlog

from bot import forking
from bot.config import Config
from bot.errors import ForgeError
from bot.forge import Forge, ForgeConflict
from bot.reasons import Reason

log = structlog.get_logger()

LOCK_FILE = ".recipe-bot-lock.json"
LOCK_SUFFIX = "_run-lock"
DEFAULT_TTL = 300.0  # seconds a lease lasts after its last renewal
DEFAULT_HEARTBEAT = 60.0  # seconds between renewals: a lease outlives a few failed beats
DEFAULT_POLL = 10.0  # seconds between attempts while waiting
LEASE_MARGIN = 15.0  # seconds before a lease runs out when writes stop, unless it is renewed
UNKNOWN = "unknown (no readable lock file)"

# This process, and the locks it holds right now (by token). A lock naming PROCESS whose token
# is not held here was left behind by an earlier run of this process: no one is using it.
# Process-wide by nature, hence module state.
PROCESS = uuid.uuid4().hex


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


PID_NAMESPACE = _pid_namespace()


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as stream:
            return stream.read().strip()
    except OSError:
        return ""


BOOT_ID = _boot_id()
_held_here: set[str] = set()
_held_here_lock = threading.Lock()


class LockBusy(ForgeError):
    """Another run holds the project's lock (and waiting, if asked, did not help)."""

    reason = Reason.LOCKED

    def __init__(self, message: str, *, holder: LockInfo) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class LockInfo:
    """The lock file's content; `token` tells our lock from another one by the same holder."""

    holder: str
    pid: int
    host: str
    acquired_at: str  # ISO 8601, UTC
    expires_at: str
    token: str
    process: str = ""  # PROCESS of the holder
    # The holder's pid namespace: containers that share a hostname (host networking) all run
    # the bot as pid 1, so host and pid alone cannot tell a dead holder from a live one.
    pidns: str = ""
    boot: str = ""  # the holder's kernel boot id: tells two hosts with one hostname apart

    def abandoned_here(self) -> bool:
        """Left behind by an earlier run of this same process (its release failed)."""
        if self.process != PROCESS:
            return False
        with _held_here_lock:
            return self.token not in _held_here

    def expired(self, now: float) -> bool:
        return _epoch(self.expires_at) <= now

    def dead_here(self) -> bool:
        """Held by a process of this host that is gone (or by an earlier life of our pid)."""
        if not self.host or self.host != socket.gethostname() or self.pid <= 0:
            return False
        if not self.pidns or self.pidns != PID_NAMESPACE or self.boot != BOOT_ID or not BOOT_ID:
            # Another pid namespace, machine or boot (or one we cannot tell): its pids are not
            # ours. Every host's first pid namespace has the same inode, hence the boot id.
            return False
        if self.pid == os.getpid():
            # A restarted container reuses pids (and keeps its hostname): ours, yet not us.
            return bool(self.process) and self.process != PROCESS
        return not _pid_alive(self.pid)

    def describe(self) -> str:
        where = f" on {self.host}, pid {self.pid}" if self.host else ""
        return f"{self.holder}{where}, since {self.acquired_at} (expires {self.expires_at})"


@dataclass(frozen=True)
class _Held:
    info: LockInfo
    file_commit: str | None  # the last commit that touched the lock file; None: no lock file


def lock_branch(config: Config) -> str:
    return config.merge_requests.branch_prefix + LOCK_SUFFIX


def default_holder() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container uid without a passwd entry
        user = "recipe-bot"
    return f"{user}@{socket.gethostname()}"


@contextmanager
def run_lock(
    forge: Forge,
    config: Config,
    *,
    wait: float = 0,
    holder: str | None = None,
    ttl: float = DEFAULT_TTL,
    poll: float = DEFAULT_POLL,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    heartbeat: float | None = DEFAULT_HEARTBEAT,
    renewer: Forge | None = None,
) -> Iterator[None]:
    """Hold the project's run lock for the block. Waits up to `wait` seconds for another holder,
    polling every `poll` seconds, then raises LockBusy naming the holder; a forge failure
    raises ForgeError at once (no waiting it out). The lease is renewed every `heartbeat`
    seconds while the block runs (None: never, for tests that drive the clock), through
    `renewer` when given: a client with short time-outs and no retries, so that one slow
    renewal cannot outlast the lease. Should a renewal find the lock taken over, every write
    `forge` is asked for afterwards raises ForgeError, and the lock is left to its new holder."""
    lock = _Lock(forge, config, holder or default_holder(), ttl, clock)
    lock.renewer = renewer
    info = lock.acquire(wait=wait, poll=poll, sleep=sleep)
    beats = _Heartbeat(lock, heartbeat) if heartbeat else None
    forge.write_guard = lock.check_held
    try:
        yield
    finally:
        forge.write_guard = None
        if beats is not None:
            beats.stop()
        if not lock.lost.is_set():
            lock.release(lock.current or info)


class _Lock:
    def __init__(
        self, forge: Forge, config: Config, holder: str, ttl: float, clock: Callable[[], float]
    ) -> None:
        self.forge = forge
        self.branch = lock_branch(config)
        self.target = config.gitlab.target_branch
        self.holder = holder
        self.ttl = ttl
        self.clock = clock
        self.current: LockInfo | None = None  # what the lock file says now, once we hold it
        self.file_commit: str | None = None  # the commit of our last write of the lock file
        self.renewer: Forge | None = None  # a client with short time-outs, for the heartbeat
        self.lost = threading.Event()  # set when a renewal finds the lock taken over

    def acquire(self, *, wait: float, poll: float, sleep: Callable[[float], None]) -> LockInfo:
        # Registered before the lock exists, so no one in this process takes it for abandoned.
        token = uuid.uuid4().hex
        with _held_here_lock:
            _held_here.add(token)
        try:
            return self._acquire(token, wait=wait, poll=poll, sleep=sleep)
        except BaseException:
            with _held_here_lock:
                _held_here.discard(token)
            raise

    def _acquire(
        self, token: str, *, wait: float, poll: float, sleep: Callable[[float], None]
    ) -> LockInfo:
        deadline = self.clock() + wait
        broken = False
        announced = False
        while True:
            mine = self._new_info(token)
            held = self._create(mine)
            if held is None or held.info.token == mine.token:
                # The second case: a retried request whose first attempt went through.
                self._acquired(mine)
                return mine
            stale = (
                held.info.expired(self.clock())
                or held.info.abandoned_here()
                or held.info.dead_here()
            )
            if stale and not broken:
                broken = True  # break a stale lock once; if someone beats us to it, it is theirs
                if self._take_over(held, mine):
                    self._acquired(mine)
                    return mine
                continue
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise LockBusy(
                    "another recipe-bot run holds the lock on this project: "
                    f"{held.info.describe()}; lock branch {self.branch!r} "
                    "(delete it if that run is gone)",
                    holder=held.info,
                )
            if not announced:
                announced = True
                log.info(
                    "lock_waiting",
                    branch=self.branch,
                    holder=held.info.holder,
                    since=held.info.acquired_at,
                    wait=round(remaining, 1),
                )
            sleep(min(poll, remaining))

    def release(self, mine: LockInfo) -> None:
        """Delete the lock branch if it is still ours. Never raises: a lock left behind expires,
        and the run's own outcome must not be hidden by a failure here."""
        with _held_here_lock:
            _held_here.discard(mine.token)
        try:
            held = self._inspect()
            if held is None:
                log.warning("lock_lost", branch=self.branch, why="the lock branch was deleted")
                return
            if held.info.token != mine.token:
                log.warning(
                    "lock_lost",
                    branch=self.branch,
                    why="taken over as stale",
                    holder=held.info.holder,
                    since=held.info.acquired_at,
                )
                return
            self._delete_branch()
            log.info("lock_released", branch=self.branch)
        except ForgeError as exc:
            log.error(
                "lock_release_failed",
                branch=self.branch,
                error=exc.message,
                expires_at=mine.expires_at,
            )

    # --- GitLab ------------------------------------------------------------------------------

    def _create(self, mine: LockInfo) -> _Held | None:
        """None when the lock branch was created for us; else what holds it now."""
        last: ForgeError | None = None
        for _ in range(3):
            try:
                self.file_commit = self.forge.create_lease(
                    self.branch, LOCK_FILE, _dump(mine), self._message(mine)
                )
                return None
            except ForgeConflict as refused:
                held = self._inspect()
                if held is not None:
                    return held
                # The branch is gone: released just now, or the refusal meant something else.
                last = refused
        assert last is not None
        raise last

    def _take_over(self, stale: _Held, mine: LockInfo) -> bool:
        """Replace an expired lock with ours, unless someone else changed it first."""
        log.warning(
            "lock_broken",
            branch=self.branch,
            holder=stale.info.holder,
            since=stale.info.acquired_at,
            expired=stale.info.expires_at,
            why=_why_stale(stale.info),
        )
        if stale.file_commit is None:
            # Not a lock we wrote (no lock file): nothing to compare against, so delete it.
            self.forge.delete_lease(self.branch)
            return False  # the next attempt creates it the ordinary way
        try:
            self.file_commit = self.forge.replace_lease(
                self.branch, LOCK_FILE, _dump(mine), self._message(mine), expected=stale.file_commit
            )
        except ForgeConflict:
            return False  # another run took it (or released it) first
        return True

    def renew(self, adopted: bool = False) -> bool:
        """Push our lease's expiry on, if the lock is still ours; False when it is not."""
        assert self.current is not None and self.file_commit is not None
        renewed = replace(self.current, expires_at=_iso(self.clock() + self.ttl))
        if renewed.expires_at == self.current.expires_at:
            # Within the same second: nothing would change, and a commit that changes nothing
            # would not be the file's last commit, which the next renewal compares against.
            return True
        forge = self.renewer or self.forge
        try:
            self.file_commit = forge.replace_lease(
                self.branch,
                LOCK_FILE,
                _dump(renewed),
                self._message(renewed),
                expected=self.file_commit,
            )
        except ForgeConflict:
            # Refused: the lock file changed since our last write. Still ours (an earlier
            # renewal landed, its reply lost): take that write as the last one and go on.
            held = self._inspect(forge)
            if held is None or held.info.token != renewed.token:
                self.lost.set()
                return False
            if adopted:  # refused again against our own last write: the forge refuses commits
                raise ForgeError(
                    "the forge refused the renewal commit twice (push rules?)"
                ) from None
            self.file_commit, self.current = held.file_commit, held.info
            return self.renew(adopted=True)
        self.current = renewed
        return True

    def check_held(self) -> None:
        """Raise before a write when the lock is not surely ours: two runs must never both
        write. Lost (taken over), or its lease about to run out (renewals have been failing):
        either way another run may hold it now or soon."""
        if self.lost.is_set():
            raise ForgeError(
                f"the run lock ({self.branch!r}) was taken over by another run while this one "
                "worked; stopping before any further write (the next run starts afresh)"
            )
        if self.current is not None and _epoch(self.current.expires_at) - LEASE_MARGIN <= (
            self.clock()
        ):
            raise ForgeError(
                f"the run lock's lease ({self.branch!r}) runs out at {self.current.expires_at} "
                "and could not be renewed; stopping before any further write"
            )

    def _inspect(self, forge: Forge | None = None) -> _Held | None:
        """Who holds the lock, or None when there is no lock branch."""
        forge = forge or self.forge
        found = forge.read_lease(self.branch, LOCK_FILE)
        if found is None:
            return None
        info = _load(found.content) if found.content is not None else None
        if info is None:  # no lock file, or not ours to read: dated by its commit
            info = self._unknown(forge.commit_time(found.commit).timestamp())
        return _Held(info, found.commit if found.content is not None else None)

    def _delete_branch(self) -> None:
        self.forge.delete_lease(self.branch)

    # --- content -----------------------------------------------------------------------------

    def _new_info(self, token: str) -> LockInfo:
        now = self.clock()
        return LockInfo(
            holder=self.holder,
            pid=os.getpid(),
            host=socket.gethostname(),
            acquired_at=_iso(now),
            expires_at=_iso(now + self.ttl),
            token=token,
            process=PROCESS,
            pidns=PID_NAMESPACE,
            boot=BOOT_ID,
        )

    def _unknown(self, since: float) -> LockInfo:
        return LockInfo(UNKNOWN, 0, "", _iso(since), _iso(since + self.ttl), "")

    def _message(self, mine: LockInfo) -> str:
        # [skip ci]: the lock branch is not something to build.
        return (
            "recipe-bot run lock [skip ci]\n\n"
            f"Held by {mine.holder} (pid {mine.pid} on {mine.host}) until {mine.expires_at}."
        )

    def _acquired(self, mine: LockInfo) -> None:
        self.current = mine
        if self.file_commit is None:  # a retried create whose first attempt went through
            held = self._inspect()
            self.file_commit = held.file_commit if held is not None else None
        log.info(
            "lock_acquired", branch=self.branch, holder=mine.holder, expires_at=mine.expires_at
        )


class _Heartbeat:
    """Renews a held lock every `interval` seconds from a daemon thread, until stopped.

    A renewal GitLab refuses means the lease was taken over (this run was thought dead): that
    is logged as lost and the beats stop. A renewal that fails on the network is retried at the
    next beat; the lease outlives a few of those.
    """

    def __init__(self, lock: _Lock, interval: float) -> None:
        self._lock = lock
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lock-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating; wait for a renewal under way, so release never races with one."""
        self._stopped.set()
        self._thread.join()

    def _beat(self) -> None:
        # Parkable: the sweep may fork its checking processes between two renewals (a fork
        # in the middle of one would leave the child with this thread's TLS locks held).
        with forking.parkable():
            while not self._stopped.wait(self._interval):
                with forking.working():
                    if not self._renew():
                        return

    def _renew(self) -> bool:
        """One renewal; False when the beats must stop."""
        try:
            if not self._lock.renew():
                log.error("lock_lost", branch=self._lock.branch, why="taken over while held")
                return False
        except ForgeError as exc:
            log.warning("lock_renewal_failed", branch=self._lock.branch, error=exc.message)
        except Exception:  # a bug here must not go unseen, nor leave writes allowed
            log.exception("lock_heartbeat_crashed", branch=self._lock.branch)
            self._lock.lost.set()
            return False
        return True


def _dump(info: LockInfo) -> str:
    return json.dumps(asdict(info), indent=2) + "\n"


def _load(text: str) -> LockInfo | None:
    try:
        data = json.loads(text)
        info = LockInfo(
            holder=str(data["holder"]),
            pid=int(data["pid"]),
            host=str(data["host"]),
            acquired_at=str(data["acquired_at"]),
            expires_at=str(data["expires_at"]),
            token=str(data.get("token", "")),
            process=str(data.get("process", "")),
            pidns=str(data.get("pidns", "")),
            boot=str(data.get("boot", "")),
        )
        _epoch(info.expires_at)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return info


def _why_stale(info: LockInfo) -> str:
    if info.abandoned_here():
        return "left by this process"
    if info.dead_here():
        return f"its holder (pid {info.pid} on this host) is gone"
    return "expired"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _epoch(iso: str) -> float:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
