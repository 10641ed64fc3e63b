"""The store buffers writes, flushes them in batches, and serves many threads at once.

Everything here uses real threads and a real SQLite file; what is on disk is read back through a
connection of its own, as the next run (or another process) would see it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from bot.store import LOOKUPS_PER_QUERY, Store


def on_disk(path: Path, table: str = "pages") -> dict[str, bytes]:
    """What another process reading the file sees now."""
    db = sqlite3.connect(path)
    try:
        return {
            key: bytes(value)
            for key, value in db.execute(f"SELECT key, value FROM recipe_bot_{table}")
        }
    finally:
        db.close()


def wait_until(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_closing_writes_everything_buffered(tmp_path: Path) -> None:
    """Writes wait in the buffer (long flush interval) and closing commits every one of them."""
    path = tmp_path / "cache.sqlite"
    store = Store(str(path), flush_every=3600)
    pages = store.table("pages")
    for number in range(500):
        pages.put(f"https://example.org/{number}", b"body %d" % number)
    assert on_disk(path) == {}  # buffered, not yet written
    store.close()
    written = on_disk(path)
    assert len(written) == 500
    assert written["https://example.org/7"] == b"body 7"


def test_buffered_writes_read_back_at_once(tmp_path: Path) -> None:
    """A value put is read back by any thread before it is flushed: the buffer is read first."""
    store = Store(str(tmp_path / "cache.sqlite"), flush_every=3600)
    store.table("sha256").put("https://example.org/a.tar.gz", b"abc")
    seen: list[bytes | None] = []
    reader = threading.Thread(
        target=lambda: seen.append(store.table("sha256").get("https://example.org/a.tar.gz"))
    )
    reader.start()
    reader.join()
    assert seen == [b"abc"]
    store.close()


def test_writes_are_flushed_every_few_seconds_while_open(tmp_path: Path) -> None:
    """An open store commits its buffer periodically, so a killed run keeps most of its work."""
    path = tmp_path / "cache.sqlite"
    store = Store(str(path), flush_every=0.05)
    store.table("recipes").put("attrs", b"{}")
    assert wait_until(lambda: on_disk(path, "recipes") == {"attrs": b"{}"})
    store.table("recipes").put("readline", b"[]")
    assert wait_until(lambda: "readline" in on_disk(path, "recipes"))
    store.close()


def test_flush_writes_now(tmp_path: Path) -> None:
    """`flush()` returns once what was buffered before it is on disk."""
    path = tmp_path / "cache.sqlite"
    store = Store(str(path), flush_every=3600)
    store.table("pages").put("k", b"v")
    store.flush()
    assert on_disk(path) == {"k": b"v"}
    store.close()


def test_a_new_store_reads_what_a_closed_one_wrote(tmp_path: Path) -> None:
    """The next run finds the previous run's entries, through its per-thread read connections."""
    path = str(tmp_path / "cache.sqlite")
    first = Store(path)
    first.table("pages").put("k", b"v1")
    first.close()
    second = Store(path)
    assert second.table("pages").get("k") == b"v1"
    assert second.table("pages").get("missing") is None
    second.close()


def test_many_keys_read_at_once_read_as_one_by_one(tmp_path: Path) -> None:
    """`get_many` gives what `get` gives for each key: committed, buffered, written again since
    the commit, missing; over several queries; in memory too."""
    path = str(tmp_path / "cache.sqlite")
    committed = LOOKUPS_PER_QUERY * 2 + 7  # three queries' worth
    first = Store(path)
    first.table("recipes").put("other table's", b"x")
    for number in range(committed):
        first.table("pages").put(f"k{number}", f"v{number}".encode())
    first.close()
    for store, on_file in ((Store(path, flush_every=3600), True), (Store(None), False)):
        table = store.table("pages")
        table.put("k3", b"newer")  # buffered, not yet committed
        table.put("buffered only", b"b")
        table.put("empty", b"")
        keys = [f"k{n}" for n in range(committed + 2)]
        keys += ["buffered only", "empty", "missing", "other table's"]
        found = table.get_many(keys)
        assert found == {key: value for key in keys if (value := table.get(key)) is not None}
        assert found["buffered only"] == b"b" and found["empty"] == b"" and found["k3"] == b"newer"
        assert "missing" not in found and "other table's" not in found
        assert len(found) == (committed + 2 if on_file else 3)
        assert table.get_many([]) == {}
        store.close()
        with pytest.raises(ValueError, match="closed"):
            table.get_many(["k0"])


def test_concurrent_readers_and_writers_see_consistent_values(tmp_path: Path) -> None:
    """Threads writing and reading while flushes run never see a torn, lost or foreign value."""
    path = tmp_path / "cache.sqlite"
    store = Store(str(path), flush_every=0.005)
    table = store.table("pages")
    problems: list[str] = []
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        start.wait()
        for round_ in range(300):
            key = f"{worker}/{round_ % 40}"
            value = f"{worker}:{round_}".encode()
            table.put(key, value)
            if table.get(key) != value:  # read-your-writes, whichever of buffer or file has it
                problems.append(f"{key} did not read back {value!r}")
            other = table.get(f"{(worker + 1) % 8}/{round_ % 40}")
            if other is not None and not other.startswith(b"%d:" % ((worker + 1) % 8)):
                problems.append(f"{key}: foreign value {other!r}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert problems == []
    written = on_disk(path)
    assert len(written) == 8 * 40
    # Each key holds its last write: rounds 260..279 wrote keys 20..39, rounds 280..299 keys 0..19.
    assert written["3/39"] == b"3:279"
    assert written["3/19"] == b"3:299"


def test_readers_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    """While another connection holds the write lock, reads answer with committed data (WAL)."""
    path = tmp_path / "cache.sqlite"
    store = Store(str(path))
    store.table("pages").put("k", b"v")
    store.flush()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT OR REPLACE INTO recipe_bot_pages VALUES ('k', x'00')")
    answers: list[bytes | None] = []
    reader = threading.Thread(target=lambda: answers.append(store.table("pages").get("k")))
    reader.start()
    reader.join(timeout=5)
    writer.execute("ROLLBACK")
    writer.close()
    store.close()
    assert answers == [b"v"]


def test_two_stores_on_one_file_keep_both_runs_work(tmp_path: Path) -> None:
    """Two runs in one process (`serve`) each flush their own batches into the same file."""
    path = tmp_path / "cache.sqlite"
    first, second = Store(str(path), flush_every=0.01), Store(str(path), flush_every=0.01)
    for number in range(200):
        first.table("sha256").put(f"a{number}", b"1")
        second.table("sha256").put(f"b{number}", b"2")
    first.close()
    second.close()
    assert len(on_disk(path, "sha256")) == 400


def test_in_memory_store_keeps_values_for_its_lifetime() -> None:
    """Without a path nothing touches the disk, and values live until the store is closed."""
    store = Store(None)
    store.table("pages").put("k", b"v")
    assert store.table("pages").get("k") == b"v"
    store.close()
    with pytest.raises(ValueError):
        store.table("pages").get("k")


def test_unknown_tables_are_refused(tmp_path: Path) -> None:
    """A typo in a table name is an error, not a silently empty table."""
    store = Store(str(tmp_path / "cache.sqlite"))
    with pytest.raises(ValueError, match="no table"):
        store.table("page")
    store.close()


def test_closing_twice_is_harmless_and_writes_after_close_fail(tmp_path: Path) -> None:
    """Close is idempotent; a put after it is a bug and says so instead of being lost silently."""
    store = Store(str(tmp_path / "cache.sqlite"))
    store.close()
    store.close()
    with pytest.raises(ValueError, match="closed"):
        store.table("pages").put("k", b"v")
