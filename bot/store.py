"""Everything recipe-bot keeps between runs, in one SQLite file (`http.cache`).

It only saves work: page bodies with their validators (for conditional requests), sha256
digests of downloads by URL, and parsed recipes by content. Deleting the file is always safe;
GitLab, not this file, is the state. `None` keeps the store in memory for one run.
"""

from __future__ import annotations

import sqlite3
import threading

TABLES = ("pages", "sha256", "recipes")


class Store:
    def __init__(self, path: str | None) -> None:
        # check_same_thread=False: checks run on a thread pool; the lock serialises access, and
        # statements are short (one row by primary key).
        self._db = sqlite3.connect(path or ":memory:", check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock, self._db:
            if path:
                # WAL: readers never wait for the writer; NORMAL is durable enough for a cache.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            for name in TABLES:
                self._db.execute(
                    f"CREATE TABLE IF NOT EXISTS recipe_bot_{name} "
                    "(key TEXT PRIMARY KEY, value BLOB NOT NULL)"
                )

    def table(self, name: str) -> Table:
        if name not in TABLES:
            raise ValueError(f"no table {name!r}")
        return Table(self, f"recipe_bot_{name}")

    def get(self, table: str, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(f"SELECT value FROM {table} WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def put(self, table: str, key: str, value: bytes) -> None:
        with self._lock, self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO {table} (key, value) VALUES (?, ?)", (key, value)
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Table:
    """One key-value table of the store; values are bytes, callers own their encoding."""

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self._name = name

    def get(self, key: str) -> bytes | None:
        return self._store.get(self._name, key)

    def put(self, key: str, value: bytes) -> None:
        self._store.put(self._name, key, value)
