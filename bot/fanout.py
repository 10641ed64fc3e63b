"""Checking in several processes: one sweep spread over forked children, results in order.

A sweep runs out of CPU on one interpreter before the network is busy: a listing check costs
about 3 ms of CPU under the GIL, so with 20 checks in flight at 50 ms each a single process
needs more than one CPU to keep the slots full (bench/README.md, "Issue 11, fourth pass").
So the sweep forks children and this process becomes a dispatcher:

    parent: the next entry -> the child with the fewest in flight, up to WINDOW x its slots
    child:  entry -> its own thread pool, Http and cache connection -> (index, result)
            each log line, rendered -> the parent, which writes it with its own
    end:    each child sends its HTTP counters; the parent adds them to its own

An entry may be a recipe still to be read (bot.recipes.Unread). The parent reads it itself
while every child has work enough to go on with (it would only wait meanwhile), and hands
it over unread when a child runs short, to be parsed there: a sweep with nothing cached
then parses on the parent and, when the parent cannot keep up, on every child at once
(bot.sweep).

Messages go in batches both ways (a list a send): one send a message cost a tenth of a
child's CPU. The parent sends at once to a child running short of work, and holds back what
would only wait in a busy child's queue; a child sends what has piled up whenever a
result is ready, its log lines with it.

The parent writes every line so that lines of two processes never mix: a line longer than a
pipe's atomic write (4 KB: a traceback) written by two processes at once would interleave.

Children are forked, not spawned: a fresh interpreter spends half a second importing before
its first request. Forking is safe only while no other thread can hold a lock the child will
need (bot.forking) and no SQLite connection is open (Store.release); the caller sees to both.

When the CPUs this process may use are exactly as many as the children (a machine or a
pod of their own: its cpuset), each child runs on one of them: the GIL's hand-overs between
its threads then stay on one core (5-10% less CPU, measured). Where the CPUs are shared (a
node's, under a CPU quota) nobody is pinned: the kernel must stay free to move them.

Nothing is lost when a child fails. One that dies (killed, out of memory), stops answering
for STALL_SECONDS while it has work, or sends what cannot be read, is killed if need be, and
the entries it had not answered are checked here, in this process, after the others.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import os
import pickle
import selectors
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import connection
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import structlog

E = TypeVar("E")
R = TypeVar("R")
E_contra = TypeVar("E_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)

MAX_AUTO_PROCESSES = 4  # beyond this the per-host limits, not the CPUs, bound a real sweep
ENTRIES_PER_PROCESS = 100  # with fewer, forking saves less than it costs
WINDOW = 2  # entries handed to a child per slot of its own: enough that its slots never wait
SEND_BATCH = 16  # entries the parent holds back for a busy child, at most, before sending
STALL_SECONDS = 600.0  # a child with work that answers nothing for this long is hung
POLL_SECONDS = 5.0  # a blocked receive looks for stalled children this often
CGROUP = Path("/sys/fs/cgroup")
PR_SET_PDEATHSIG = 1
M_ARENA_MAX = -8  # glibc's mallopt parameter
ARENAS = 2  # a child's malloc arenas: 4-5 MB less a child than one a thread, at 10,000 recipes

log = structlog.get_logger()


class Worker(Protocol[E_contra, R_co]):
    """What one child runs: built in the child, right after the fork."""

    slots: int  # entries it checks at once

    def check(self, entry: E_contra) -> R_co: ...

    def counters(self) -> dict[str, int]: ...

    def close(self) -> None: ...


def usable_cpus(cgroup: Path = CGROUP) -> int:
    """The CPUs this process may use: its affinity, bounded by a cgroup CPU quota if any.

    A Kubernetes CronJob with `limits: {cpu: 1}` sees every CPU of its node but is throttled
    to one; two processes there would only take turns.
    """
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = _cgroup_quota(cgroup)
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return count


def _cgroup_quota(cgroup: Path) -> float | None:
    """CPUs' worth of quota: cgroup v2 `cpu.max` ("150000 100000"), else v1's two files."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def processes_for(
    wanted: int | None, *, concurrency: int, per_host: int, expected: int | None
) -> int:
    """How many processes to check in: `wanted` (`http.processes`), or unset, what the CPUs
    allow for `expected` entries (None: unknown, so one). Never more than there are slots to
    split: `concurrency` and `per_host` are shared out, not multiplied."""
    if wanted is None:
        if expected is None:
            return 1
        wanted = min(usable_cpus(), MAX_AUTO_PROCESSES, expected // ENTRIES_PER_PROCESS)
    return max(1, min(wanted, concurrency, per_host))


def share(total: int, parts: int, index: int) -> int:
    """Part `index` of `total` split in `parts` as evenly as whole numbers go (sum: `total`)."""
    return total // parts + (1 if index < total % parts else 0)


def can_fork() -> bool:
    # Linux only: macOS's system libraries are not safe to use in a forked child.
    return sys.platform == "linux" and hasattr(os, "fork")


# --- the parent's side ------------------------------------------------------------------------


@dataclass(eq=False)
class _Child(Generic[E]):
    index: int
    pid: int
    slots: int
    tasks: Connection  # to the child: lists of (index, entry); closed when there are no more
    # From the child: lists of ("result", index, pickled result) | ("log", line) |
    # ("counters", {...}), the last one last.
    results: Connection
    pending: dict[int, E] = field(default_factory=dict)  # handed out, not answered yet
    outgoing: list[tuple[int, E]] = field(default_factory=list)  # of those, not sent yet
    last_heard: float = field(default_factory=time.monotonic)
    alive: bool = True

    @property
    def full(self) -> bool:
        return len(self.pending) >= WINDOW * self.slots


class Team(Generic[E, R]):
    """Forked children checking entries; use as a context manager (leaving it kills them)."""

    def __init__(
        self,
        slots: Sequence[int],
        start_worker: Callable[[int], Worker[E, R]],
        *,
        on_counters: Callable[[dict[str, int]], None],
    ) -> None:
        self._on_counters = on_counters
        self._children: list[_Child[E]] = []
        self.orphans: dict[int, E] = {}  # entries no child will answer: check them here
        self.results: dict[int, R] = {}
        # One selector for the whole sweep: multiprocessing.connection.wait builds one a call.
        self._selector = selectors.DefaultSelector()
        # Where this process's log lines go (a stream's writer): the children's go there too.
        self._log_sink = structlog.get_config()["logger_factory"]()
        parent = os.getpid()
        cpus = _own_cpus(len(slots))
        # What exists now is shared with the children until someone writes to its pages, and a
        # garbage collection writes to every object it visits: a child's first full collection
        # copied the whole inherited heap (50 MB a child at 10,000 recipes). Frozen objects are
        # never visited, here or there, until the team ends.
        self._froze = gc.get_freeze_count() == 0
        if self._froze:
            gc.freeze()
        for index, count in enumerate(slots):
            tasks_out, tasks_in = connection.Pipe(duplex=False)
            results_out, results_in = connection.Pipe(duplex=False)
            sys.stdout.flush()  # or the child would write this process's buffered output again
            sys.stderr.flush()
            try:
                pid = os.fork()
            except OSError as exc:  # out of processes or memory: check with those there are
                log.warning("cannot_fork", error=str(exc), processes=len(self._children) + 1)
                for end in (tasks_out, tasks_in, results_out, results_in):
                    end.close()
                break
            if pid == 0:
                for child in self._children:  # a sibling's pipes: its EOF must not wait for us
                    child.tasks.close()
                    child.results.close()
                tasks_in.close()
                results_out.close()
                cpu = cpus[index] if cpus else None
                _child_main(index, parent, cpu, tasks_out, results_in, start_worker)  # no return
            tasks_out.close()
            results_in.close()
            child = _Child(index, pid, count, tasks_in, results_out)
            self._selector.register(results_out, selectors.EVENT_READ, child)
            self._children.append(child)

    @property
    def size(self) -> int:
        """How many children were started (fewer than asked when a fork failed)."""
        return len(self._children)

    @property
    def hungry(self) -> bool:
        """Whether a child has fewer entries handed to it, sent or held back, than it needs to
        keep going (`_enough`): one made ready here now would reach it too late."""
        return any(child.alive and len(child.pending) < _enough(child) for child in self._children)

    def __enter__(self) -> Team[E, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        for child in self._children:
            if child.alive:
                self._end(child, kill=True)
        self._selector.close()
        if self._froze:
            self._froze = False
            gc.unfreeze()

    def give(self, index: int, entry: E) -> None:
        """Hand an entry to the least busy child, waiting for room; if none is left, keep it."""
        while True:
            live = [child for child in self._children if child.alive]
            if not live:
                self.orphans[index] = entry
                return
            child = min(live, key=lambda child: len(child.pending) / child.slots)
            if not child.full:
                break
            self.send_short()  # before waiting: what was held back can start meanwhile
            self.receive(block=True)
        child.pending[index] = entry
        child.outgoing.append((index, entry))
        if _short(child) or len(child.outgoing) >= SEND_BATCH:
            self._send(child)

    def finish(self) -> None:
        """No more entries: let the children drain, and collect everything they answer."""
        self._send_all()
        for child in self._children:
            if child.alive:
                child.tasks.close()
        while any(child.alive for child in self._children):
            self.receive(block=True)

    def receive(self, *, block: bool) -> None:
        """Take what the children have sent; with `block`, wait until something comes."""
        if not any(child.alive for child in self._children):
            return
        for key, _ in self._selector.select(POLL_SECONDS if block else 0):
            child = key.data
            if not child.alive:  # ended by a message handled just before
                continue
            try:
                message = child.results.recv()
            except EOFError:  # it has exited (or died)
                self._end(child, kill=False)
                continue
            except Exception as exc:  # what it sent cannot be read: it is no use any more
                log.error("checking_process_garbled", process=child.index, error=repr(exc))
                self._end(child, kill=True)
                continue
            child.last_heard = time.monotonic()
            for kind, *content in message:
                if kind == "result":
                    self._take(child, *content)
                elif kind == "log":
                    self._log_sink.msg(*content)
                elif kind == "counters":
                    self._on_counters(*content)
        now = time.monotonic()
        for child in self._children:
            if child.alive and child.pending and now - child.last_heard > STALL_SECONDS:
                log.error("checking_process_stalled", process=child.index, seconds=STALL_SECONDS)
                self._end(child, kill=True)

    def _take(self, child: _Child[E], index: int, pickled: bytes) -> None:
        try:
            result = pickle.loads(pickled)
        except Exception as exc:  # left pending: the main process checks it after the others
            log.error("checking_process_garbled", process=child.index, error=repr(exc))
            return
        if child.pending.pop(index, None) is not None:
            self.results[index] = result

    def _send(self, child: _Child[E]) -> None:
        batch, child.outgoing = child.outgoing, []
        try:
            child.tasks.send(batch)
        except (OSError, ValueError):  # it died meanwhile: a broken pipe
            self._end(child, kill=True)

    def _send_all(self) -> None:
        for child in self._children:
            if child.alive and child.outgoing:
                self._send(child)

    def send_short(self) -> None:
        """Send what is held back for each child running short of work (`_short`)."""
        for child in self._children:
            if child.alive and child.outgoing and _short(child):
                self._send(child)

    def _end(self, child: _Child[E], *, kill: bool) -> None:
        child.alive = False
        if kill:
            with contextlib.suppress(ProcessLookupError):  # it has exited meanwhile
                os.kill(child.pid, signal.SIGKILL)
        _, status = os.waitpid(child.pid, 0)
        self._selector.unregister(child.results)
        child.tasks.close()
        child.results.close()
        if child.pending:
            code = os.waitstatus_to_exitcode(status)
            log.warning(
                "checking_process_died",
                process=child.index,
                exit_code=code,
                unanswered=len(child.pending),
                then="checking them in the main process",
            )
            self.orphans.update(child.pending)
            child.pending.clear()
        child.outgoing.clear()


def _short(child: _Child[Any]) -> bool:
    """Whether a child is running short of work: fewer sent and unanswered entries than its
    slots and a few more. Until then what is held back for it would only wait in its queue,
    and sending it one entry at a time (a result in, an entry out) cost a send and a wake-up
    of its receiving thread per entry."""
    return len(child.pending) - len(child.outgoing) < _enough(child)


def _enough(child: _Child[Any]) -> int:
    """The entries a child needs in hand to keep its slots busy: its slots and a few more."""
    return child.slots + max(1, child.slots // 4)


# --- the child's side -------------------------------------------------------------------------


def _own_cpus(processes: int) -> list[int]:
    """A CPU for each child when this process may use exactly that many, else none."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return []
    return cpus if len(cpus) == processes else []


def _child_main(
    index: int,
    parent: int,
    cpu: int | None,
    tasks: Connection,
    results: Connection,
    start_worker: Callable[[int], Worker[Any, Any]],
) -> None:
    """Check what the parent hands out until it says no more; then send the counters, exit."""
    code = 1
    outbox: _Outbox | None = None
    try:
        # Ctrl-C reaches the whole process group: the parent handles it and ends us.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _die_with(parent)
        _few_arenas()
        if cpu is not None:  # before any thread starts: the pool's threads inherit it
            with contextlib.suppress(OSError):  # a sandbox that forbids it: unpinned
                os.sched_setaffinity(0, {cpu})
        outbox = _Outbox(results)
        structlog.configure(logger_factory=lambda *_: _ForwardedLog(outbox))
        worker = start_worker(index)

        def answer(number: int, checked: Future[Any]) -> None:
            try:
                # Pickled alone: one result that cannot be is left unanswered, not its batch.
                outbox.add(("result", number, pickle.dumps(checked.result())))
            except BrokenPipeError:  # the parent is gone: nothing left to do for it
                os._exit(1)
            except Exception:  # unanswered: the main process checks it itself
                log.exception("checking_process_cannot_send", process=index, entry=number)

        with ThreadPoolExecutor(max_workers=worker.slots, thread_name_prefix="check") as pool:
            while True:
                try:
                    batch = tasks.recv()
                except EOFError:
                    break
                for number, entry in batch:
                    pool.submit(worker.check, entry).add_done_callback(partial(answer, number))
        outbox.add(("counters", worker.counters()))
        worker.close()
        code = 0
    except BaseException:
        log.exception("checking_process_crashed", process=index)
    finally:
        try:
            if outbox is not None:
                outbox.send()  # the log lines still waiting, the crash's included
        except Exception:
            pass
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)  # never the parent's atexit handlers, nor its `finally` blocks


class _Outbox:
    """What a child sends, in batches: whoever adds a result sends all that waits, unless
    another thread is sending (which then sends it too, before it lets go)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._waiting: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()  # guards the list
        self._sending = threading.Lock()  # held by the one thread sending

    def add(self, message: tuple[Any, ...], *, send: bool = True) -> None:
        with self._lock:
            self._waiting.append(message)
        if send:
            self.send()

    def send(self) -> None:
        # An adder that finds the sender busy leaves its message; the sender looks again
        # after letting go, so a message added meanwhile is never left behind.
        while self._sending.acquire(blocking=False):
            try:
                with self._lock:
                    batch, self._waiting = self._waiting, []
                if batch:
                    self._conn.send(batch)
            finally:
                self._sending.release()
            with self._lock:
                if not self._waiting:
                    return


class _ForwardedLog:
    """A child's log writer (structlog's logger API): each rendered line goes to the parent
    with the next result this child sends, or with its counters at the end."""

    def __init__(self, outbox: _Outbox) -> None:
        self._outbox = outbox

    def msg(self, message: str) -> None:
        self._outbox.add(("log", message), send=False)

    log = debug = info = warn = warning = error = err = critical = exception = fatal = msg


def _die_with(parent: int) -> None:
    """Ask the kernel to kill this child when its parent dies (a CronJob's pod killed, say)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the closed pipe ends it
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request was made
        os._exit(1)


def _few_arenas() -> None:
    """Cap glibc's malloc arenas in this child (before its threads start). glibc gives each
    new thread an arena of its own, up to eight a CPU, and each keeps what its thread once
    needed; under the GIL the checking threads gain nothing from them. Elsewhere: a no-op."""
    with contextlib.suppress(AttributeError, OSError):  # no glibc (musl, macOS): nothing to cap
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, ARENAS)


def fan_out(
    team: Team[E, R],
    entries: Iterable[E],
    *,
    check_here: Callable[[list[E]], list[R]],
    prepare: Callable[[E], E] | None = None,
    on_result: Callable[[R], None] | None = None,
    keep: bool = True,
) -> list[R]:
    """Check `entries` on `team`'s children; the results in the entries' order.

    `check_here` checks, in this process, what no child answered. `prepare`, when given, is
    done here to each entry handed while every child has work enough to go on with, and left
    to the child otherwise: a sweep's parent reads recipes while it would only wait, and its
    children do when it cannot keep up (bot.sweep). `on_result` sees each result in order as
    soon as those before it are in; with `keep=False` the list returned is empty.
    """
    ordered: list[R] = []
    emitted = 0

    def emit() -> None:
        nonlocal emitted
        while emitted in team.results:
            result = team.results.pop(emitted)
            emitted += 1
            if on_result is not None:
                on_result(result)
            if keep:
                ordered.append(result)

    with team:
        count = 0
        for index, entry in enumerate(entries):
            count = index + 1
            if prepare is not None and not team.hungry:
                team.send_short()  # what a child has in hand goes before this process is busy
                entry = prepare(entry)
            team.give(index, entry)
            team.receive(block=False)
            emit()
        team.finish()
        if team.orphans:
            numbers = sorted(team.orphans)
            checked = check_here([team.orphans.pop(number) for number in numbers])
            team.results.update(zip(numbers, checked, strict=True))
        emit()
    if emitted != count:  # a bug here must not pass for a shorter sweep
        raise RuntimeError(f"{count - emitted} of {count} results went missing")
    return ordered
