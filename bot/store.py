"""Everything recipe-bot keeps between runs, in one SQLite file (`http.cache`).

It only saves work: page bodies with their validators (for conditional requests), sha256
digests of downloads by URL, and parsed recipes by content. Deleting the file is always safe;
GitLab, not this file, is the state. `None` keeps the store in memory for one run.

    get: the write buffer (a dict) -> this thread's own read connection (WAL)
    put: the write buffer -> one transaction, from one writer thread, every few seconds and
         when the store closes

Checks run on a thread pool, and SQLite releases the GIL inside every call: a lock held across
a call makes each thread wait for the GIL to come back while the others queue behind the lock
(a warm page lookup waited 16 ms on average that way). So no Python lock is ever held across a
SQLite call here: the one lock guards two dicts. Readers each have their own connection (WAL:
readers never wait for the writer), and only the flusher thread writes. A run that is killed
loses at most the last `flush_every` seconds of writes; the next run simply does that work again.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable

import structlog

TABLES = ("pages", "sha256", "recipes")
FLUSH_EVERY = 5.0  # seconds between two flushes of the write buffer
READER_CACHE_KIB = 256  # SQLite's page cache per reading thread
LOOKUPS_PER_QUERY = 500  # keys in one `get_many` query: under SQLite's oldest limit, 999

_Key = tuple[str, str]  # (table, key)
log = structlog.get_logger()


class Store:
    """A thread-safe key-value store of a few tables. Close it: closing writes what is buffered."""

    def __init__(self, path: str | None, *, flush_every: float = FLUSH_EVERY) -> None:
        self._path = path
        self._flush_every = flush_every
        self._lock = threading.Lock()  # guards the dicts below, never a SQLite call
        self._pending: dict[_Key, bytes] = {}
        self._flushing: dict[_Key, bytes] = {}  # taken by the flusher, not committed yet
        # In memory (no path) the buffer is the store: nothing is ever flushed anywhere.
        self._memory = path is None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._generation = 0  # bumped by release(): a thread's connection of before is closed
        self._wake = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None
        self._flush_requests: list[threading.Event] = []  # set once their flush is done
        if path is not None:
            with _connect(path) as db:
                # WAL: readers never wait for the writer; NORMAL is durable enough for a cache.
                db.execute("PRAGMA journal_mode=WAL")
                for name in TABLES:
                    db.execute(
                        f"CREATE TABLE IF NOT EXISTS recipe_bot_{name} "
                        "(key TEXT PRIMARY KEY, value BLOB NOT NULL)"
                    )
            db.close()

    def table(self, name: str) -> Table:
        if name not in TABLES:
            raise ValueError(f"no table {name!r}")
        return Table(self, f"recipe_bot_{name}")

    def get(self, table: str, key: str) -> bytes | None:
        entry = (table, key)
        with self._lock:
            if self._closed:
                raise ValueError("the store is closed")
            value = self._pending.get(entry)
            if value is None:
                value = self._flushing.get(entry)
        # A key leaves `_flushing` only once it is committed, so missing both dicts means the
        # database has it (or never had it): this read starts after that commit.
        if value is not None or self._memory:
            return value
        row = self._reader().execute(f"SELECT value FROM {table} WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def get_many(self, table: str, keys: Iterable[str]) -> dict[str, bytes]:
        """The values of those of `keys` the table has, as `get` would give them one by one:
        a query for each few hundred keys instead of one for each key (a tenth of a warm
        `list` of 10,000 recipes was its single lookups)."""
        found: dict[str, bytes] = {}
        missing: list[str] = []
        with self._lock:
            if self._closed:
                raise ValueError("the store is closed")
            for key in keys:
                value = self._pending.get((table, key))
                if value is None:
                    value = self._flushing.get((table, key))
                if value is not None:
                    found[key] = value
                else:
                    missing.append(key)
        if self._memory:
            return found
        reader = self._reader()
        for start in range(0, len(missing), LOOKUPS_PER_QUERY):
            chunk = missing[start : start + LOOKUPS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, value FROM {table} WHERE key IN ({marks})"
            found.update((key, bytes(value)) for key, value in reader.execute(query, chunk))
        return found

    def put(self, table: str, key: str, value: bytes) -> None:
        with self._lock:
            if self._closed:
                raise ValueError("the store is closed")
            self._pending[(table, key)] = value
            if self._flusher is None and not self._memory:
                # Started on the first write: a store that is only read needs no thread.
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="store-flush", daemon=True
                )
                self._flusher.start()

    def flush(self) -> None:
        """Write what is buffered now (the flusher thread does it every `flush_every` seconds)."""
        with self._lock:
            flusher = self._flusher
        if flusher is None:
            return
        done = threading.Event()
        self._flush_requests.append(done)
        self._wake.set()
        while not done.wait(0.05):
            if not flusher.is_alive():  # closed meanwhile: closing flushed everything
                return

    def close(self) -> None:
        """Flush the buffer, stop the flusher and close every connection. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            flusher = self._flusher
            readers, self._readers = self._readers, []
        self._wake.set()
        if flusher is not None:
            flusher.join()
        for db in readers:
            db.close()
        if self._memory:
            self._pending.clear()

    def release(self) -> None:
        """Write what is buffered, stop the flusher and close every connection; the store
        stays open and reconnects on its next use. Only while no other thread uses it.

        For a fork: a child must inherit no open SQLite connection, nor SQLite's own memory of
        one (its locks and shared-memory index by file), when it opens the same file itself.
        """
        with self._lock:
            if self._closed or self._memory:
                return
            flusher, self._flusher = self._flusher, None
            readers, self._readers = self._readers, []
            self._generation += 1
        if flusher is not None:
            self._wake.set()  # it writes what is pending, sees it is not the flusher, and ends
            flusher.join()
        for db in readers:
            db.close()

    # --- internals ---------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or self._local.generation != self._generation:
            assert self._path is not None
            # check_same_thread=False only so that close() may close it from another thread.
            db = self._local.db = _connect(self._path)
            self._local.generation = self._generation
            # Each connection has its own page cache (2 MB by default): twenty check threads
            # held 40 MB of copies of one file. Point lookups do well on the OS's cache.
            db.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
            with self._lock:
                self._readers.append(db)
        return db

    def _flush_loop(self) -> None:
        assert self._path is not None
        db = _connect(self._path)
        try:
            while True:
                self._wake.wait(self._flush_every)
                self._wake.clear()
                with self._lock:
                    # Closed, or released (another flusher may be running already).
                    closing = self._closed or self._flusher is not threading.current_thread()
                waiting = []
                while self._flush_requests:
                    waiting.append(self._flush_requests.pop())
                try:
                    self._write(db)
                except sqlite3.Error as exc:  # a full disk, say: the cache only saves work
                    log.warning("cache_write_failed", path=self._path, error=str(exc))
                for done in waiting:
                    done.set()
                if closing:
                    return
        finally:
            db.close()

    def _write(self, db: sqlite3.Connection) -> None:
        with self._lock:
            self._flushing, self._pending = self._pending, {}
            batch = self._flushing
        if not batch:
            return
        by_table: dict[str, list[tuple[str, bytes]]] = {}
        for (table, key), value in batch.items():
            by_table.setdefault(table, []).append((key, value))
        try:
            with db:  # one transaction for the whole batch
                for table, rows in by_table.items():
                    db.executemany(
                        f"INSERT OR REPLACE INTO {table} (key, value) VALUES (?, ?)", rows
                    )
        finally:
            with self._lock:
                # Anything put again meanwhile is in `_pending`, which readers look at first.
                self._flushing = {}


class Table:
    """One key-value table of the store; values are bytes, callers own their encoding."""

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self._name = name

    def get(self, key: str) -> bytes | None:
        return self._store.get(self._name, key)

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        return self._store.get_many(self._name, keys)

    def put(self, key: str, value: bytes) -> None:
        self._store.put(self._name, key, value)


def _connect(path: str) -> sqlite3.Connection:
    # timeout: another process (or another run of `serve`) may be committing its own batch.
    db = sqlite3.connect(path, check_same_thread=False, timeout=30)
    db.execute("PRAGMA synchronous=NORMAL")
    return db
