"""sha256 digests of downloaded files, kept by URL across runs.

A release artifact's URL names one immutable file, so its digest is computed once. The table
lives in the same SQLite file as the HTTP cache (`http.cache`); None keeps it in memory.
"""

from __future__ import annotations

import sqlite3
import threading


class HashCache:
    def __init__(self, path: str | None) -> None:
        # check_same_thread=False: checks run on a thread pool; the lock serialises access.
        self._db = sqlite3.connect(path or ":memory:", check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS recipe_bot_sha256 (url TEXT PRIMARY KEY, sha256 TEXT NOT NULL)"
            )

    def get(self, url: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT sha256 FROM recipe_bot_sha256 WHERE url = ?", (url,)
            ).fetchone()
        return row[0] if row else None

    def put(self, url: str, sha256: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO recipe_bot_sha256 (url, sha256) VALUES (?, ?)", (url, sha256)
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
