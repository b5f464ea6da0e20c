"""SQLite: the content store `Store` (records, their embedding cache, a generation counter)
and the file rules it shares with the other SQLite files (submissions, sessions).

Every statement goes through `_Connection`, which turns sqlite3's errors into the store
errors of store/protocol.py (`StoreFull`, `StoreBusy`, else `StoreError`); a file that cannot
be opened at all raises `StoreUnreadable`.

One SQLite file shared by threads: SQLite connections must not cross threads, and FastAPI
serves requests from a thread pool, so each thread gets its own connection. WAL mode lets
readers keep reading the last committed state while one writer commits; ``BEGIN IMMEDIATE``
takes the write lock up front, so two writers queue instead of failing half-way.
"""

from __future__ import annotations

import errno
import fcntl
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from erfa.index.store.protocol import (
    StoreBusy,
    StoredRecord,
    StoreError,
    StoreFull,
    StoreUnreadable,
    UpsertPlan,
    _stored,
)
from erfa.ingest import Record


def is_disk_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or the operating system's ENOSPC / EDQUOT."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return False


def store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    """The store error (store/protocol.py) a SQLite error means: a full disk, a lock held past
    the timeout, or anything else (a bug, damage), which the caller treats as unexpected."""
    if is_disk_full(exc):
        return StoreFull(f"{path}: the disk is full ({exc})")
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
        return StoreBusy(f"{path}: a long write holds the lock ({exc})")
    return StoreError(f"{path}: {exc}")


class _Connection(sqlite3.Connection):
    """sqlite3's connection whose statements raise erfa's store errors instead of sqlite3's:
    the one place where SQLite's errors are translated, so nothing above the store imports
    sqlite3 to tell a full disk from a busy lock."""

    path: Path

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from exc

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from exc

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        try:
            return super().executescript(sql_script)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from exc


class SqliteFile:
    """Base of erfa's stores: creates ``schema`` once, then hands out per-thread connections.

    ``synchronous`` is NORMAL for data that can be rebuilt or re-ingested and FULL for
    data that exists nowhere else (a person's submission): with FULL a commit has reached
    the disk even across a power cut.
    """

    def __init__(self, path: Path, schema: str, *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._local = threading.local()
        try:
            self._con().executescript(f"BEGIN IMMEDIATE;{schema}COMMIT;")
        except (sqlite3.DatabaseError, StoreError) as exc:
            cause = exc.__cause__ if isinstance(exc, StoreError) else exc
            if not isinstance(cause, sqlite3.DatabaseError):
                raise
            full = is_disk_full(cause)
            if isinstance(cause, sqlite3.OperationalError) and not full:
                raise  # locked, busy, permissions: not damage
            self.close()
            raise StoreUnreadable(self.path, str(cause), full=full) from exc

    def _con(self) -> _Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None, factory=_Connection)
            con.path = self.path
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(f"PRAGMA synchronous={self._synchronous}")
            self._local.con = con
        return con

    @contextmanager
    def _tx(self) -> Iterator[_Connection]:
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            # SQLite itself rolls back on some errors (SQLITE_FULL mid-statement): a second ROLLBACK
            # would fail and hide the error that matters
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        try:
            con.execute("COMMIT")
        except BaseException:
            # e.g. "database or disk is full" at commit: SQLite may leave the transaction open,
            # and the next BEGIN on this thread's connection would then fail for ever
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close this thread's connection (other threads' close when their threads end)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,  -- doubles as the FAISS id
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    data TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    text_hash TEXT NOT NULL  -- unused, always '': kept so files of every erfa version open in every other
);
CREATE INDEX IF NOT EXISTS records_source ON records(source);
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model_id, text_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('generation', '0');
CREATE TABLE IF NOT EXISTS tombstones (
    rowid INTEGER PRIMARY KEY,  -- a deleted record's rowid (AUTOINCREMENT never reuses it)
    gen INTEGER NOT NULL
);
"""
# Files written before catch-up existed have no per-row generation: their rows count as
# written at generation 0, which every checkpoint postdates.
_MIGRATIONS = (("records", "gen", "ALTER TABLE records ADD COLUMN gen INTEGER NOT NULL DEFAULT 0"),)
_INDEXES = "CREATE INDEX IF NOT EXISTS records_gen ON records(gen);"


class Store(SqliteFile):
    """Thread-safe access to one SQLite file (one connection per thread, WAL mode)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        with self._tx() as con:
            for table, column, ddl in _MIGRATIONS:
                if column not in {row[1] for row in con.execute(f"PRAGMA table_info({table})")}:
                    con.execute(ddl)
            con.execute(_INDEXES)

    unreachable_since: float | None = None  # an embedded file has no server to lose

    def wait_for_change(self, timeout: float) -> None:
        """SQLite sends no notifications: a follower just waits for its next poll."""
        time.sleep(max(0.0, timeout))

    # -- reads ---------------------------------------------------------------
    def generation(self) -> int:
        return int(self._con().execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])

    def count(self) -> int:
        return int(self._con().execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def get(self, record_id: str) -> StoredRecord | None:
        row = self._con().execute("SELECT rowid, data FROM records WHERE id=?", (record_id,)).fetchone()
        return _stored(row) if row else None

    def by_rowids(self, rowids: Sequence[int]) -> dict[int, StoredRecord]:
        out: dict[int, StoredRecord] = {}
        ids = [int(r) for r in rowids]
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = f"SELECT rowid, data FROM records WHERE rowid IN ({','.join('?' * len(chunk))})"
            for row in self._con().execute(q, chunk):
                out[int(row[0])] = _stored(row)
        return out

    def all(self) -> Iterator[StoredRecord]:
        for row in self._con().execute("SELECT rowid, data FROM records ORDER BY rowid"):
            yield _stored(row)

    def read_all(self) -> tuple[int, list[StoredRecord]]:
        """Every record with the generation they make up, read in one transaction (a
        writer in another process cannot slip a change between the two)."""
        con = self._con()
        con.execute("BEGIN")
        try:
            gen = self.generation()
            return gen, [_stored(row) for row in con.execute("SELECT rowid, data FROM records ORDER BY rowid")]
        finally:
            con.execute("COMMIT")

    def changes_since(self, gen: int) -> tuple[int, list[StoredRecord], list[int]]:
        """(current generation, records written after ``gen``, rowids deleted after ``gen``),
        read in one transaction. A record written and then deleted shows only as deleted."""
        con = self._con()
        con.execute("BEGIN")
        try:
            now = self.generation()
            changed = [
                _stored(row) for row in con.execute("SELECT rowid, data FROM records WHERE gen > ?", (gen,))
            ]  # no ORDER BY: it would scan every row
            removed = [int(r[0]) for r in con.execute("SELECT rowid FROM tombstones WHERE gen > ?", (gen,))]
            return now, changed, removed
        finally:
            con.execute("COMMIT")

    def count_changes_since(self, gen: int) -> int:
        """How many rows a catch-up from ``gen`` would touch, without reading them."""
        con = self._con()
        return int(
            con.execute(
                "SELECT (SELECT COUNT(*) FROM records WHERE gen > ?) + (SELECT COUNT(*) FROM tombstones WHERE gen > ?)",
                (gen, gen),
            ).fetchone()[0]
        )

    def ids_of_source(self, source: str) -> set[str]:
        return {r[0] for r in self._con().execute("SELECT id FROM records WHERE source=?", (source,))}

    def plan(self, records: Iterable[Record]) -> UpsertPlan:
        plan = UpsertPlan([], [], [])
        con = self._con()
        for rec in records:
            row = con.execute("SELECT content_hash FROM records WHERE id=?", (rec.id,)).fetchone()
            if row is None:
                plan.added.append(rec)
            elif row[0] != rec.content_hash():
                plan.updated.append(rec)
            else:
                plan.unchanged.append(rec)
        return plan

    # -- embedding cache ------------------------------------------------------
    def cached_vectors(self, model_id: str, hashes: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(hashes))
        for i in range(0, len(uniq), 500):
            chunk = uniq[i : i + 500]
            marks = ",".join("?" * len(chunk))
            q = f"SELECT text_hash, vector FROM embeddings WHERE model_id=? AND text_hash IN ({marks})"
            for h, blob in self._con().execute(q, [model_id, *chunk]):
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == dim:
                    out[h] = vec
        return out

    def cache_vectors(self, model_id: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Persist fresh vectors at once, so an interrupted ingest resumes instead of restarting."""
        with self._tx() as con:
            con.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                [(model_id, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items],
            )

    # -- writes ---------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time across processes, held from plan to commit: a write plans
        on what is stored, embeds (slow), then commits, and nobody may change the plan's
        ground in between. A file lock beside the database (SQLite's own lock would be
        held through the embedding and block readers' checkpoints)."""
        with open(self.path.parent / ".write.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def upsert(self, records: Sequence[Record]) -> tuple[int, dict[str, int]]:
        """Insert or replace records in one transaction; returns (generation, id -> rowid).

        An updated record keeps its rowid, so its FAISS id stays stable.
        """
        rowids: dict[str, int] = {}
        with self._tx() as con:
            gen = self._bump(con)
            for rec in records:
                con.execute(
                    "INSERT INTO records (id, source, data, content_hash, text_hash, gen) VALUES (?, ?, ?, ?, '', ?) "
                    "ON CONFLICT(id) DO UPDATE SET source=excluded.source, data=excluded.data, "
                    "content_hash=excluded.content_hash, gen=excluded.gen",
                    (rec.id, rec.source, rec.model_dump_json(), rec.content_hash(), gen),
                )
                rowids[rec.id] = int(con.execute("SELECT rowid FROM records WHERE id=?", (rec.id,)).fetchone()[0])
        return gen, rowids

    def delete(self, record_ids: Sequence[str]) -> tuple[int, dict[str, int]]:
        """Delete records in one transaction; returns (generation, id -> former rowid)."""
        removed: dict[str, int] = {}
        with self._tx() as con:
            for rid in record_ids:
                row = con.execute("SELECT rowid FROM records WHERE id=?", (rid,)).fetchone()
                if row:
                    removed[rid] = int(row[0])
                    con.execute("DELETE FROM records WHERE id=?", (rid,))
            if not removed:
                return self.generation(), removed
            gen = self._bump(con)
            con.executemany("INSERT OR REPLACE INTO tombstones VALUES (?, ?)", [(r, gen) for r in removed.values()])
        return gen, removed

    @staticmethod
    def _bump(con: sqlite3.Connection) -> int:
        con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
        return int(con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
