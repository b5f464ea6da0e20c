"""SQLite content store: the records, their embedding cache, and a generation counter.

SQLite is the source of truth. The FAISS file is a derived, persisted copy of the
vectors; it records the store generation it was built from, so a crash between the
two writes is detected on the next open and the index is rebuilt from the cache
(without re-embedding anything).
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

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
"""


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


class Store(SqliteFile):
    """Thread-safe access to one SQLite file (one connection per thread, WAL mode)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

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
    def upsert(self, records: Sequence[Record]) -> tuple[int, dict[str, int]]:
        """Insert or replace records in one transaction; returns (generation, id -> rowid).

        An updated record keeps its rowid, so its FAISS id stays stable.
        """
        rowids: dict[str, int] = {}
        with self._tx() as con:
            for rec in records:
                con.execute(
                    "INSERT INTO records (id, source, data, content_hash, text_hash) VALUES (?, ?, ?, ?, '') "
                    "ON CONFLICT(id) DO UPDATE SET source=excluded.source, data=excluded.data, "
                    "content_hash=excluded.content_hash",
                    (rec.id, rec.source, rec.model_dump_json(), rec.content_hash()),
                )
                rowids[rec.id] = int(con.execute("SELECT rowid FROM records WHERE id=?", (rec.id,)).fetchone()[0])
            gen = self._bump(con)
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
            gen = self._bump(con) if removed else self.generation()
        return gen, removed

    @staticmethod
    def _bump(con: sqlite3.Connection) -> int:
        con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
        return int(con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])


def _stored(row: tuple[int, str]) -> StoredRecord:
    return StoredRecord(int(row[0]), Record.stored(json.loads(row[1])))
