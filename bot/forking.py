"""When this process may fork: only while every other thread is one of ours, parked.

A forked child has only the thread that forked; any lock another thread held at that instant
stays held in the child forever (OpenSSL's, SQLite's, a logging handler's), and the child
deadlocks the first time it needs it. So the sweep forks its checking processes only when each
other thread is a *parkable* one (the lock's heartbeat, say) that is between two pieces of work:

    with forking.parkable():        # a background thread, for its whole life
        while ...:
            with forking.working():  # each piece of work; waits while a fork is under way
                renew()

    with forking.quiet() as safe:   # the thread about to fork
        if safe:
            os.fork()

A thread nobody declared (a scheduler's, a test server's) makes `quiet` say no: then the sweep
checks in this one process, which is always correct, only slower.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

PARK_TIMEOUT = 2.0  # seconds to wait for the parkable threads to finish what they are doing

_state = threading.Condition()
_parkable: set[int] = set()  # idents of the threads that park
_working = 0  # parkable threads inside `working()`
_forking = False


@contextmanager
def parkable() -> Iterator[None]:
    """Declare the calling thread parkable for the duration: it wraps its work in `working()`."""
    ident = threading.get_ident()
    with _state:
        _parkable.add(ident)
    try:
        yield
    finally:
        with _state:
            _parkable.discard(ident)
            _state.notify_all()


@contextmanager
def working() -> Iterator[None]:
    """One piece of a parkable thread's work; it waits for a fork under way to be done first."""
    global _working
    with _state:
        _state.wait_for(lambda: not _forking)
        _working += 1
    try:
        yield
    finally:
        with _state:
            _working -= 1
            _state.notify_all()


@contextmanager
def quiet(timeout: float = PARK_TIMEOUT) -> Iterator[bool]:
    """Whether forking is safe now; while the block runs, parkable threads stay parked."""
    global _forking
    with _state:
        me = threading.get_ident()
        others = {thread.ident for thread in threading.enumerate()} - {me}
        safe = others <= _parkable and not _forking
        if safe:
            _forking = True
            safe = _state.wait_for(lambda: _working == 0, timeout)
            if not safe:
                _forking = False
                _state.notify_all()
    try:
        yield safe
    finally:
        if safe:
            with _state:
                _forking = False
                _state.notify_all()
