"""PostgreSQL content store (issue 11): the `RecordStore` of a deployment on several machines.

Same meaning as SQLite's `Store` (index/store/sqlite.py), so the engine, its snapshots and its
catch-up work unchanged: rowids are assigned by the database (an identity column: never
reused, kept across updates), each row carries the generation that last wrote it, each
deletion leaves a tombstone, and the one-row generation counter is bumped in the same
transaction as the write. What changes is who may take part:

- writers in any number of processes and machines queue on a PostgreSQL advisory lock
  (`writing`) instead of a file lock; the lock dies with its session, so a writer killed
  mid-write frees it and its open transaction rolls back;
- readers (API replicas) read a generation and the rows changed since in one REPEATABLE
  READ, READ ONLY transaction, which a hot standby serves too;
- the embedding cache is one table for every process, so a text is embedded once.

Connections are few and shared by threads (`Pool`); a connection the server dropped
(restart, failover) is replaced on the next use, a read is retried once on a fresh one,
and when the server cannot be reached at all `generation` answers the last value it read
and records since when (`unreachable_since`), so searches go on from the snapshot while
/readyz says it is stale. A write is never retried: the caller learns that it failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from erfa.index.store import schema as pgschema
from erfa.index.store.protocol import (
    StoreBusy,
    StoredRecord,
    StoreError,
    StoreFull,
    StoreUnavailable,
    UpsertPlan,
    _stored,
)
from erfa.ingest import Record

log = logging.getLogger("erfa.index")

T = TypeVar("T")
CONNECT_TIMEOUT = 3  # seconds; libpq's minimum useful value is 2
NUL = "\x00"  # the one character PostgreSQL text cannot hold: an id with it names nothing stored
NOTIFY_CHANNEL = "erfa_generation"  # writers announce each new generation here (wait_for_change)
LISTEN_RETRY = 60.0  # seconds before trying LISTEN again where it failed (a hot standby refuses it)
MAX_IDLE = 4  # connections kept open per process between uses
# What a lost server looks like: refused or dropped connections, a standby cancelling a
# query for replay, a server shutting down, a write reaching a read-only standby.
_UNAVAILABLE = (psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction)
# OperationalErrors the server sends while it is up: its disk is full, a lock was not granted.
_ANSWERED = (psycopg.errors.DiskFull, psycopg.errors.LockNotAvailable)


def lost(exc: BaseException) -> bool:
    """Did the server go away (rather than refuse this one statement for a reason of its own)?"""
    return isinstance(exc, _UNAVAILABLE) and not isinstance(exc, _ANSWERED)


def store_error(exc: psycopg.Error, url: str) -> StoreError:
    """The store error (store/protocol.py) a psycopg error means, naming the database without its
    password: the one place where PostgreSQL's errors are translated."""
    where = f"{describe(url)}: {str(exc).strip()}"
    if isinstance(exc, psycopg.errors.DiskFull):
        return StoreFull(where)
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return StoreBusy(where)
    if isinstance(exc, _UNAVAILABLE):
        return StoreUnavailable(where)
    return StoreError(where)


def describe(url: str) -> str:
    """The database's address without its password, for messages and logs."""
    try:
        p = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the database in ERFA_DATABASE_URL"
    return f"postgresql://{p.get('user', '')}@{p.get('host', '')}:{p.get('port', 5432)}/{p.get('dbname', '')}"


def connect(url: str, *, vectors: bool = True) -> psycopg.Connection:
    """An autocommit connection; ``vectors`` registers pgvector's type (which must exist)."""
    try:
        con = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, application_name="erfa")
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot reach {describe(url)}: {str(exc).strip()}") from exc
    if vectors:
        register_vector(con)
    return con


class Pool:
    """A handful of autocommit connections handed to one thread at a time.

    FastAPI serves from up to 40 threads; a connection per thread would give every
    replica dozens, most idle. Here a thread borrows one for one operation and gives it
    back; only connections that are healthy and idle (no open transaction) are kept.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[psycopg.Connection]:
        with self._lock:
            con = self._idle.pop() if self._idle else None
        if con is None:
            con = connect(self.url)
        try:
            yield con
        except _UNAVAILABLE as exc:
            if lost(exc):
                self.discard_idle()  # the server went away: the kept connections are dead too
            raise
        finally:
            self._give_back(con)

    def read(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run a read, once more on a fresh connection if the first one was lost; psycopg's errors
        come out as store errors."""
        for attempt in (1, 2):
            try:
                with self.borrow() as con:
                    return work(con)
            except psycopg.Error as exc:
                if attempt == 2 or not lost(exc):
                    raise store_error(exc, self.url) from exc
        raise AssertionError("unreachable")

    @contextmanager
    def transaction(self, *, lock: int | None = None) -> Iterator[psycopg.Connection]:
        """One write transaction, under the transaction-level advisory ``lock`` if given; never
        retried (whether a lost commit landed is unknown). psycopg's errors come out as store errors."""
        try:
            with self.borrow() as con, con.transaction():
                if lock is not None:
                    con.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
                yield con
        except psycopg.Error as exc:
            raise store_error(exc, self.url) from exc

    def _give_back(self, con: psycopg.Connection) -> None:
        """Keep a healthy, idle connection for the next borrower; close anything else."""
        if not (con.closed or con.broken) and con.info.transaction_status == TransactionStatus.IDLE:
            with self._lock:
                if len(self._idle) < MAX_IDLE:
                    self._idle.append(con)
                    return
        con.close()

    def discard_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for con in idle:
            con.close()


class PgStore:
    """Records, embedding cache and generation counter in one PostgreSQL database."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        con = connect(url, vectors=False)  # pgvector's type may not exist until the schema check
        try:
            pgschema.ensure(con, migrate=migrate)
            identity = con.execute("SELECT store_id FROM store_identity").fetchone()
            if identity is None:  # ensure() writes the one row; a database without it was emptied by hand
                raise RuntimeError("the store_identity table is empty: restore the database or recreate it")
            self.store_id = str(identity[0])
        finally:
            con.close()
        self._pool = Pool(url)
        self._listener: psycopg.Connection | None = None  # LISTEN erfa_generation, opened by wait_for_change
        self._listen_failed = -LISTEN_RETRY  # monotonic time LISTEN last failed
        self._last_generation: int | None = None
        self.unreachable_since: float | None = None  # wall-clock time of the first failed poll

    def __repr__(self) -> str:
        return f"PgStore({describe(self.url)})"

    # -- plumbing ------------------------------------------------------------------
    def _read(self, work: Callable[[psycopg.Connection], T]) -> T:
        return self._pool.read(work)

    def _snapshot_read(self, work: Callable[[psycopg.Connection], T]) -> T:
        """A read whose statements all see one committed state (works on a hot standby)."""

        def run(con: psycopg.Connection) -> T:
            with con.transaction():
                con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                return work(con)

        return self._read(run)

    def _transaction(self) -> AbstractContextManager[psycopg.Connection]:
        return self._pool.transaction()

    # -- reads -----------------------------------------------------------------------
    def generation(self) -> int:
        """The committed generation; while the server cannot be reached, the last one read
        (so a reader keeps its snapshot) with ``unreachable_since`` set."""
        try:
            gen = self._read(lambda con: _one(con, "SELECT value FROM generation"))
        except StoreUnavailable:
            if self._last_generation is None:
                raise
            if self.unreachable_since is None:
                self.unreachable_since = time.time()
                log.warning("database unreachable: serving the last snapshot", extra={"event": "store_unreachable"})
            return self._last_generation
        if self.unreachable_since is not None:
            log.info("database reachable again", extra={"event": "store_reachable"})
        self.unreachable_since = None
        self._last_generation = gen
        return gen

    def count(self) -> int:
        return self._read(lambda con: _one(con, "SELECT count(*) FROM records"))

    def get(self, record_id: str) -> StoredRecord | None:
        if NUL in record_id:  # PostgreSQL text cannot hold one (it refuses the query): no stored id has it
            return None

        def run(con: psycopg.Connection) -> StoredRecord | None:
            row = con.execute("SELECT rowid, data FROM records WHERE id = %s", (record_id,)).fetchone()
            return _stored(row) if row else None

        return self._read(run)

    def all(self) -> Iterator[StoredRecord]:
        return iter(self.read_all()[1])

    def read_all(self) -> tuple[int, list[StoredRecord]]:
        """Every record with the generation they make up, from one snapshot of the database."""

        def run(con: psycopg.Connection) -> tuple[int, list[StoredRecord]]:
            gen = _one(con, "SELECT value FROM generation")
            return gen, [_stored(r) for r in con.execute("SELECT rowid, data FROM records ORDER BY rowid")]

        gen, stored = self._snapshot_read(run)
        self._last_generation = gen
        return gen, stored

    def changes_since(self, gen: int) -> tuple[int, list[StoredRecord], list[int]]:
        """(current generation, records written after ``gen``, rowids deleted after ``gen``)."""

        def run(con: psycopg.Connection) -> tuple[int, list[StoredRecord], list[int]]:
            now = _one(con, "SELECT value FROM generation")
            changed = [
                _stored(r) for r in con.execute("SELECT rowid, data FROM records WHERE gen > %s ORDER BY rowid", (gen,))
            ]
            removed = [int(r[0]) for r in con.execute("SELECT rowid FROM tombstones WHERE gen > %s", (gen,))]
            return now, changed, removed

        now, changed, removed = self._snapshot_read(run)
        self._last_generation = now
        return now, changed, removed

    def count_changes_since(self, gen: int) -> int:
        return self._read(
            lambda con: _one(
                con,
                "SELECT (SELECT count(*) FROM records WHERE gen > %s)"
                " + (SELECT count(*) FROM tombstones WHERE gen > %s)",
                (gen, gen),
            )
        )

    def ids_of_source(self, source: str) -> set[str]:
        return self._read(
            lambda con: {r[0] for r in con.execute("SELECT id FROM records WHERE source = %s", (source,))}
        )

    def plan(self, records: Iterable[Record]) -> UpsertPlan:
        recs = list(records)
        stored: dict[str, str] = dict(
            self._read(
                lambda con: con.execute(
                    "SELECT id, content_hash FROM records WHERE id = ANY(%s)", (list({r.id for r in recs}),)
                ).fetchall()
            )
        )
        plan = UpsertPlan([], [], [])
        for rec in recs:
            known = stored.get(rec.id)
            (plan.added if known is None else plan.updated if known != rec.content_hash() else plan.unchanged).append(
                rec
            )
        return plan

    # -- embedding cache ------------------------------------------------------------------
    def cached_vectors(self, model_id: str, hashes: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        uniq = list(dict.fromkeys(hashes))

        def run(con: psycopg.Connection) -> dict[str, np.ndarray]:
            out: dict[str, np.ndarray] = {}
            for i in range(0, len(uniq), 5000):
                for h, vec in con.execute(
                    "SELECT text_hash, vector FROM embeddings WHERE model_id = %s AND text_hash = ANY(%s)",
                    (model_id, uniq[i : i + 5000]),
                ):
                    arr = np.asarray(vec.to_numpy() if hasattr(vec, "to_numpy") else vec, dtype=np.float32)
                    if arr.shape[0] == dim:
                        out[h] = arr
            return out

        return self._read(run) if uniq else {}

    def cache_vectors(self, model_id: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Persist fresh vectors at once, shared with every other process. Rows go in hash
        order, so two writers caching overlapping batches lock them in one order (no deadlock)."""
        rows = sorted({h: np.asarray(v, dtype=np.float32) for h, v in items}.items())
        if not rows:
            return
        with self._transaction() as con, con.cursor() as cur:
            cur.executemany(
                "INSERT INTO embeddings (model_id, text_hash, vector) VALUES (%s, %s, %s) "
                "ON CONFLICT (model_id, text_hash) DO UPDATE SET vector = excluded.vector",
                [(model_id, h, v) for h, v in rows],
            )

    # -- writes -------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time across every process on this database, held from plan to
        commit. A session-level advisory lock on a connection of its own: it is released
        when the block ends, or by the server when the holder dies."""
        try:
            with self._pool.borrow() as con:
                con.execute("SELECT pg_advisory_lock(%s)", (pgschema.WRITE_LOCK,))
                try:
                    yield
                finally:
                    if not con.broken:
                        con.execute("SELECT pg_advisory_unlock(%s)", (pgschema.WRITE_LOCK,))
        except psycopg.Error as exc:
            raise store_error(exc, self.url) from exc

    def upsert(self, records: Sequence[Record]) -> tuple[int, dict[str, int]]:
        """Insert or replace records in one transaction; returns (generation, id -> rowid).
        An id given twice is written once, as its last occurrence (what two upserts in a row leave)."""
        latest = list({r.id: r for r in records}.values())
        with self._transaction() as con:
            gen = _bump(con)
            rows = con.execute(
                "INSERT INTO records (id, source, data, content_hash, gen) "
                "SELECT i, s, d, h, %s FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS t(i, s, d, h) "
                "ON CONFLICT (id) DO UPDATE SET source = excluded.source, data = excluded.data, "
                "content_hash = excluded.content_hash, gen = excluded.gen RETURNING id, rowid",
                (
                    gen,
                    [r.id for r in latest],
                    [r.source for r in latest],
                    [r.model_dump_json() for r in latest],
                    [r.content_hash() for r in latest],
                ),
            ).fetchall()
        return gen, {str(i): int(rowid) for i, rowid in rows}

    def delete(self, record_ids: Sequence[str]) -> tuple[int, dict[str, int]]:
        """Delete records in one transaction; returns (generation, id -> former rowid)."""
        with self._transaction() as con:
            removed = {
                str(i): int(r)
                for i, r in con.execute(
                    "DELETE FROM records WHERE id = ANY(%s) RETURNING id, rowid",
                    ([i for i in record_ids if NUL not in i],),
                )
            }
            if not removed:
                return _one(con, "SELECT value FROM generation"), removed
            gen = _bump(con)
            con.execute(
                "INSERT INTO tombstones (rowid, gen) SELECT r, %s FROM unnest(%s::bigint[]) AS t(r) "
                "ON CONFLICT (rowid) DO UPDATE SET gen = excluded.gen",
                (gen, list(removed.values())),
            )
        return gen, removed

    def wait_for_change(self, timeout: float) -> None:
        """Return when a writer commits (NOTIFY from the primary) or after ``timeout``.

        Polling once a second alone leaves a replica up to a second plus a catch-up behind
        (p99 1.28 s measured); a notification wakes it within milliseconds. A hot standby
        delivers no notifications (and refuses LISTEN), so there this is a plain sleep and
        the caller's poll keeps it fresh."""
        started = time.monotonic()
        if started - self._listen_failed >= LISTEN_RETRY:
            try:
                if self._listener is None or self._listener.closed:
                    self._listener = connect(self.url, vectors=False)
                    self._listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
                for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                    break
                return
            except (psycopg.Error, StoreUnavailable):
                self._listen_failed = time.monotonic()
                if self._listener is not None:
                    self._listener.close()
                self._listener = None
        time.sleep(max(0.0, timeout - (time.monotonic() - started)))

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self._pool.discard_idle()


def _bump(con: psycopg.Connection) -> int:
    """The next generation, announced to listening replicas when the transaction commits."""
    gen = _one(con, "UPDATE generation SET value = value + 1 RETURNING value")
    con.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, str(gen)))
    return gen


def _one(con: psycopg.Connection, sql: str, params: Sequence[object] = ()) -> int:
    row = con.execute(sql, params or None).fetchone()
    if row is None:  # a count or max answers one row; none means the query itself is wrong
        raise RuntimeError(f"no row from {sql!r}")
    return int(row[0])
