"""SQLite content store: the records, their embedding cache, and a generation counter.

SQLite is the source of truth. The saved search structures (FAISS file, space,
keyword index) are a checkpoint of it at some generation. Every record row carries
the generation that last wrote it and every deletion leaves a tombstone, so a process
holding a snapshot at generation g catches up by reading only what changed after g
(`changes_since`): its own writes, another process's, or everything since the last
checkpoint at start-up. A crash between a store write and a checkpoint therefore
costs a catch-up, never a wrong answer.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from erfa.index.sqlite import SqliteFile
from erfa.ingest import Record

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
_MIGRATIONS = (
    ("records", "gen", "ALTER TABLE records ADD COLUMN gen INTEGER NOT NULL DEFAULT 0"),
)
_INDEXES = "CREATE INDEX IF NOT EXISTS records_gen ON records(gen);"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredRecord:
    rowid: int
    record: Record


@dataclass
class UpsertPlan:
    """What an upsert would change, decided before any slow embedding happens."""

    added: list[Record]
    updated: list[Record]
    unchanged: list[Record]


class StoreUnavailable(RuntimeError):
    """The store's server cannot be reached right now (a PostgreSQL restart, failover or
    network cut): readers keep serving their last snapshot and report themselves stale."""


class RecordStore(Protocol):
    """What the engine needs of a store: the narrow interface a second implementation
    (PostgreSQL, issue 11) provides beside SQLite's `Store`.

    Rows are addressed by ``rowid``, an integer the store assigns, never reuses, and keeps
    across updates (it doubles as the vector slot). ``generation`` counts committed writes;
    every row remembers the generation that last wrote it, every deletion leaves a tombstone,
    so ``changes_since`` lets any reader catch up from the generation it holds.
    """

    def generation(self) -> int: ...
    def count(self) -> int: ...
    def get(self, record_id: str) -> StoredRecord | None: ...
    def all(self) -> Iterator[StoredRecord]: ...
    def read_all(self) -> tuple[int, list[StoredRecord]]: ...
    def changes_since(self, gen: int) -> tuple[int, list[StoredRecord], list[int]]: ...
    def count_changes_since(self, gen: int) -> int: ...
    def ids_of_source(self, source: str) -> set[str]: ...
    def plan(self, records: Iterable[Record]) -> UpsertPlan: ...
    def cached_vectors(self, model_id: str, hashes: Sequence[str], dim: int) -> dict[str, np.ndarray]: ...
    def cache_vectors(self, model_id: str, items: Sequence[tuple[str, np.ndarray]]) -> None: ...
    def upsert(self, records: Sequence[Record]) -> tuple[int, dict[str, int]]: ...
    def delete(self, record_ids: Sequence[str]) -> tuple[int, dict[str, int]]: ...
    def writing(self) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...


class Store(SqliteFile):
    """Thread-safe access to one SQLite file (one connection per thread, WAL mode)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        with self._tx() as con:
            for table, column, ddl in _MIGRATIONS:
                if column not in {row[1] for row in con.execute(f"PRAGMA table_info({table})")}:
                    con.execute(ddl)
            con.execute(_INDEXES)

    # -- reads ---------------------------------------------------------------
    def generation(self) -> int:
        return int(self._con().execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])

    def count(self) -> int:
        return int(self._con().execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def get(self, record_id: str) -> StoredRecord | None:
        row = self._con().execute(
            "SELECT rowid, data FROM records WHERE id=?", (record_id,)
        ).fetchone()
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
            changed = [_stored(row) for row in con.execute(
                "SELECT rowid, data FROM records WHERE gen > ?", (gen,))]  # no ORDER BY: it would scan every row
            removed = [int(r[0]) for r in con.execute("SELECT rowid FROM tombstones WHERE gen > ?", (gen,))]
            return now, changed, removed
        finally:
            con.execute("COMMIT")

    def count_changes_since(self, gen: int) -> int:
        """How many rows a catch-up from ``gen`` would touch, without reading them."""
        con = self._con()
        return int(con.execute("SELECT (SELECT COUNT(*) FROM records WHERE gen > ?) + "
                               "(SELECT COUNT(*) FROM tombstones WHERE gen > ?)", (gen, gen)).fetchone()[0])

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
            q = f"SELECT text_hash, vector FROM embeddings WHERE model_id=? AND text_hash IN ({','.join('?' * len(chunk))})"
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


def _stored(row: tuple[int, str]) -> StoredRecord:
    return StoredRecord(int(row[0]), Record.stored(json.loads(row[1])))
